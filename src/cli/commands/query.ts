/**
 * `m2m-sentinel query`: SQL against the ClickHouse the service writes to, embedded (chdb, a data
 * directory) or a server (CLICKHOUSE_URL). A user of the embedded engine has no clickhouse-client;
 * this is theirs. ClickHouse renders the output itself (PrettyCompact, CSVWithNames,
 * JSONEachRow), so what is printed is exactly what ClickHouse would print.
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { openClickHouse, clickHouseOptionsFromEnv } from '../../storage/clickhouse.js';
import { EXIT, RunError, UsageError } from '../exit.js';
import { interactiveLogging } from '../logging.js';

export const QUERY_FORMATS = { table: 'PrettyCompactMonoBlock', csv: 'CSVWithNames', tsv: 'TSVWithNames', ndjson: 'JSONEachRow', json: 'JSON' } as const;
type FormatName = keyof typeof QUERY_FORMATS;

/** A FORMAT clause the user wrote wins over --format. */
const HAS_FORMAT = /\bFORMAT\s+[A-Za-z]+\s*$/i;

/** Statements that return rows; others (INSERT, CREATE, ALTER...) get no FORMAT clause. */
const RETURNS_ROWS = /^\s*(?:\(|SELECT\b|WITH\b|SHOW\b|DESC(?:RIBE)?\b|EXPLAIN\b|EXISTS\b)/i;

/** The statement as sent: one statement, trailing semicolons dropped, a FORMAT clause added to queries. */
export function statement(sql: string, format: FormatName): string {
  const s = sql.trim().replace(/;+\s*$/, '').trim();
  if (!s) throw new UsageError('the query is empty');
  if (/;\s*\S/.test(s.replace(/'(?:[^'\\]|\\.)*'/g, "''"))) throw new UsageError('one statement at a time (found ";" inside the query)');
  return HAS_FORMAT.test(s) || !RETURNS_ROWS.test(s) ? s : `${s}\nFORMAT ${QUERY_FORMATS[format]}`;
}

function param(v: string, prev: Record<string, string> = {}): Record<string, string> {
  const i = v.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError(`expected name=value, got "${v}"`);
  return { ...prev, [v.slice(0, i)]: v.slice(i + 1) };
}

const CONNECTION = /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|ECONNRESET|socket hang up|Timeout error/i;

export function register(program: Command): void {
  program
    .command('query')
    .summary('run SQL against the configured ClickHouse (embedded or server)')
    .description(
      'Run one SQL statement against the ClickHouse the service writes findings to: the embedded engine in ' +
        '--data-dir (CLICKHOUSE_DATA_DIR), or the server named by CLICKHOUSE_URL. Prints a table, CSV, TSV, ' +
        'NDJSON or JSON. Read-only unless --allow-writes.',
    )
    .argument('[sql]', 'the statement; "-" or none reads it from stdin')
    .option('-f, --file <file>', 'read the statement from a file')
    .addOption(new Option('--format <format>', 'output format').choices(Object.keys(QUERY_FORMATS)).default('table'))
    .option('-p, --param <name=value>', 'query parameter, used as {name:Type} in the SQL (repeatable)', param, {})
    .option('--data-dir <dir>', 'embedded engine data directory (ignored with CLICKHOUSE_URL)', process.env.CLICKHOUSE_DATA_DIR ?? './data')
    .option('--allow-writes', 'allow statements that change data or schema (default: read-only)')
    .addHelpText(
      'after',
      `
The embedded engine is one process per data directory: stop the service using it first (or
query a ClickHouse server with CLICKHOUSE_URL, which any number of clients can share).

Examples:
  m2m-sentinel query "SELECT detector, severity, count() FROM m2m.findings FINAL GROUP BY ALL ORDER BY 3 DESC"
  m2m-sentinel query --format csv "SELECT * FROM m2m.findings FINAL WHERE device_id = {d:String}" -p d=plc-07 > plc-07.csv
  m2m-sentinel query --format ndjson -f findings.sql | jq .explanation
  CLICKHOUSE_URL=http://user:pass@clickhouse:8123 m2m-sentinel query "SELECT count() FROM m2m.findings"

Exit status: 0 ok; 2 for a statement ClickHouse refuses (syntax, unknown table, a write
without --allow-writes); 3 when ClickHouse cannot be reached.`,
    )
    .action(async (sqlArg: string | undefined, o: { file?: string; format: FormatName; param: Record<string, string>; dataDir: string; allowWrites?: boolean }) => {
      interactiveLogging();
      let sql: string;
      if (o.file) {
        if (sqlArg !== undefined) throw new UsageError('give the statement or --file, not both');
        sql = await readFile(o.file, 'utf8');
      } else if (sqlArg === undefined || sqlArg === '-') {
        if (process.stdin.isTTY) throw new UsageError('no statement: give it as an argument, with --file, or on stdin');
        let s = '';
        for await (const chunk of process.stdin) s += String(chunk);
        sql = s;
      } else sql = sqlArg;
      const query = statement(sql, o.format);

      const env = clickHouseOptionsFromEnv();
      const ch = openClickHouse(env.url ? { url: env.url } : { dataDir: o.dataDir });
      try {
        const rs = await ch.client.exec({ query, query_params: o.param, clickhouse_settings: o.allowWrites ? {} : { readonly: '2' } });
        for await (const chunk of rs.stream) {
          if (!process.stdout.write(chunk as Buffer)) await new Promise((r) => process.stdout.once('drain', r));
        }
      } catch (e) {
        const msg = String((e as Error).message ?? e).replace(/^Error:\s*/, '').trim();
        if (CONNECTION.test(msg) || (e as NodeJS.ErrnoException).code === 'ECONNREFUSED') throw new RunError(`ClickHouse at ${ch.location}: ${msg}`);
        // Anything ClickHouse answered is about the statement: the user's input.
        // (A syntax error's list of every token ClickHouse expected is noise on a terminal.)
        const first = msg.split('\n')[0]!.replace(/\s*Expected one of: .*$/, '');
        throw new UsageError(`ClickHouse refused the statement: ${first}${/readonly/i.test(msg) ? ' (add --allow-writes to change data)' : ''}`);
      } finally {
        await ch.client.close().catch(() => undefined);
      }
      process.exitCode = EXIT.ok;
    });
}
