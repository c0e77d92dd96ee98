/**
 * `m2m-sentinel run` from source (tsx): the real run command, so the fault suite exercises the
 * code under test rather than a possibly stale dist/ build. Only `run` is registered, so the
 * suite does not depend on the other subcommands loading.
 */
import { Command } from 'commander';
import { register } from '../../../src/cli/commands/run.js';

const program = new Command('m2m-sentinel');
register(program);
await program.parseAsync(process.argv);
