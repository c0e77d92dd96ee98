/** `m2m-sentinel hash-password`: the scrypt hash of a console user's password, for the access file. */
import type { Command } from 'commander';
import { hashPassword } from '../../server/users.js';

async function readPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export function register(program: Command): void {
  program
    .command('hash-password')
    .description('Print the scrypt hash of a password read from standard input, for a user of the access file')
    .addHelpText(
      'after',
      `
The password is read from standard input (never a flag: flags land in shell history and ps).

Example:
  read -rs PW && printf %s "$PW" | m2m-sentinel hash-password
  # then in the access file:
  users:
    - { name: alice, role: analyst, password_hash: "scrypt$16384$8$1$..." }`,
    )
    .action(async () => {
      const pw = await readPassword();
      if (pw.length < 8) {
        process.stderr.write('hash-password: the password must be at least 8 characters\n');
        process.exitCode = 2;
        return;
      }
      process.stdout.write((await hashPassword(pw)) + '\n');
    });
}
