/**
 * Secrets never reach a log line: whatever logs a pipeline passes it through redactPipeline
 * first. Three nets, because any one alone misses something:
 * - values that came from secret-named variables (${SOC_WEBHOOK_SECRET}) are shown as written;
 * - fields named like credentials (secret, token, password, api_key) and route options declared
 *   secret (a Slack webhook URL embeds its token) are masked whatever their origin;
 * - credentials embedded in URLs (user:password@, ?token=) are masked in every string.
 */
import { safeTemplate } from './interpolate.js';
import { ROUTE_SPECS } from './routes.js';
import type { PipelineConfig } from './types.js';

const REDACTED = '***';
const SECRET_FIELD_RE = /^(?:secret|token|password|passwd|passphrase|api_?key|private_?key|credentials?)$|_(?:secret|token|password)$/i;
const SECRET_QUERY_RE = /^(?:token|access_token|key|api_?key|secret|sig|signature|password|auth)$/i;

/** Mask credentials inside a URL-looking string; other strings come back unchanged. */
export function redactUrl(s: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return s;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return s;
  }
  let changed = false;
  if (u.password) {
    u.password = REDACTED;
    changed = true;
  }
  for (const k of [...u.searchParams.keys()]) {
    if (SECRET_QUERY_RE.test(k)) {
      u.searchParams.set(k, REDACTED);
      changed = true;
    }
  }
  return changed ? u.toString().replace(/%2A%2A%2A/g, REDACTED) : s;
}

function walk(v: unknown, key: string | undefined): unknown {
  if (typeof v === 'string') return key !== undefined && SECRET_FIELD_RE.test(key) && v !== '' ? REDACTED : redactUrl(v);
  if (Array.isArray(v)) return v.map((x) => walk(x, undefined));
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = walk(x, k);
    return out;
  }
  return v;
}

function setAt(root: unknown, path: Array<string | number>, value: unknown): void {
  let cur = root as Record<string | number, unknown> | undefined;
  for (let i = 0; i < path.length - 1; i++) {
    const next = cur?.[path[i]!];
    if (typeof next !== 'object' || next === null) return;
    cur = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1]!;
  if (cur && last in cur) cur[last] = value;
}

/** A copy of the pipeline that is safe to log. The input is not modified. */
export function redactPipeline(cfg: PipelineConfig): PipelineConfig {
  const out = walk(cfg, undefined) as PipelineConfig;
  for (const r of out.alerts?.routes ?? []) {
    const spec = ROUTE_SPECS.find((s) => s.type === r.type);
    for (const [k, o] of Object.entries(spec?.options ?? {})) {
      if (o.secret && typeof r.options[k] === 'string' && r.options[k] !== '') r.options[k] = REDACTED;
    }
  }
  for (const red of cfg.redactions ?? []) setAt(out, red.path, safeTemplate(red.template));
  if (out.redactions) out.redactions = out.redactions.map((r) => ({ path: [...r.path], template: safeTemplate(r.template) }));
  return out;
}
