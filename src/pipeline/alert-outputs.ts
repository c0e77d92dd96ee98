/**
 * What the runner does with the router's alert changes (src/alerts/lifecycle.ts): every change
 * becomes a row of the alerts table, every published change an event row (the audit trail) and
 * an OCSF document for the outbox. Rows travel with the findings through the findings writer,
 * so they are durable before a checkpoint or a publication moves past them.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { PipelineConfig } from '../config/types.js';
import type { Finding } from '../detectors/types.js';
import type { AlertChange } from '../alerts/lifecycle.js';
import { DEFAULT_AUTO_CLOSE_MS } from '../alerts/router.js';
import { eventRow, pipelineChangeDoc, type OcsfDetectionFinding } from '../alerts/ocsf.js';
import { alertRow, insertAlertEvents, insertAlertRows, type AlertEventRow, type AlertRow } from '../storage/alerts.js';
import { insertFindings } from '../storage/findings.js';

/** What the findings writer carries for the runner: findings as they are, alert rows wrapped. */
export type Stored = Finding | { alert: AlertRow } | { event: AlertEventRow };

export interface AlertOutputs {
  /**
   * Queue the rows of these changes in `rows`; for the published ones, hand the document to
   * `publish` unless they belong to replayed offsets (already in the outbox).
   */
  handle(changes: AlertChange[], rows: Stored[], publish: ((doc: OcsfDetectionFinding) => void) | null): number;
}

export function createAlertOutputs(cfg: PipelineConfig, productVersion: string): AlertOutputs {
  const kinds = new Map(cfg.detectors.map((d) => [d.id, d.type]));
  const autoCloseMs = cfg.alerts.auto_close_ms ?? DEFAULT_AUTO_CLOSE_MS;
  return {
    handle(changes, rows, publish) {
      let published = 0;
      for (const ch of changes) {
        rows.push({ alert: alertRow(ch.alert, ch.finding.explanation) });
        if (!ch.publish || ch.kind === 'fold') continue;
        const kind = kinds.get(ch.alert.detector);
        const doc = pipelineChangeDoc({ kind: ch.kind, alert: ch.alert, finding: ch.finding, folded: ch.folded, ...(ch.from ? { from: ch.from } : {}) }, { productVersion, autoCloseMs, ...(kind ? { detectorKind: kind } : {}) });
        rows.push({ event: eventRow(ch.kind, doc, ch.alert.severity) });
        if (publish) {
          publish(doc);
          published++;
        }
      }
      return published;
    },
  };
}

/** One insert of what the writer gathered: findings, alert versions, alert events. */
export async function writeStored(client: ClickHouseClient, database: string, table: string, items: Stored[]): Promise<number> {
  const findings: Finding[] = [];
  const alerts: AlertRow[] = [];
  const events: AlertEventRow[] = [];
  for (const x of items) {
    if ('alert' in x) alerts.push(x.alert);
    else if ('event' in x) events.push(x.event);
    else findings.push(x);
  }
  // Findings first: an alert row names a finding the console must be able to open.
  let n = await insertFindings(client, database, table, findings);
  n += await insertAlertRows(client, database, alerts);
  n += await insertAlertEvents(client, database, events);
  return n;
}
