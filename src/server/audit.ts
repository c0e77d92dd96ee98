/**
 * The console's audit log: who did what, when, from where, with what outcome (logins, failed
 * logins, alert changes, exports). Written to ClickHouse (table audit_log, kept at least a year)
 * and to the service log, so it survives a lost log pipeline and a lost database alike. A write
 * that fails is logged and never fails the user's request.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { logger } from '../obs/log.js';
import { ident, queryRows } from '../storage/clickhouse.js';

export interface AuditEntry {
  actor: string;
  role: string;
  action: string;
  target: string;
  detail?: string;
  remote: string;
  outcome: 'ok' | 'denied' | 'failed';
}

export function createAudit(client: ClickHouseClient, database: string) {
  return {
    record(e: AuditEntry): void {
      logger().info({ audit: true, ...e }, `audit: ${e.actor} ${e.action} ${e.target} ${e.outcome}`);
      void client
        .insert({ table: `${database}.audit_log`, values: [{ ...e, detail: e.detail ?? '' }], format: 'JSONEachRow' })
        .catch((err: unknown) => logger().warn({ err: String(err), action: e.action }, 'audit log write failed'));
    },
    async recent(limit = 200): Promise<Array<Record<string, unknown>>> {
      return queryRows(client, `SELECT toUnixTimestamp64Milli(at) AS at, actor, role, action, target, detail, remote, outcome FROM ${ident(database)}.audit_log ORDER BY at DESC LIMIT {n:UInt32}`, { n: limit });
    },
  };
}
export type Audit = ReturnType<typeof createAudit>;
