/**
 * Component health, reported by whoever owns the component (a pipeline, a delivery route, the
 * ClickHouse writer) and read by /healthz, /readyz and the CLI. "degraded" means working but
 * retrying something (a store or a channel that is down); "down" means it stopped.
 */
export type Status = 'starting' | 'ok' | 'degraded' | 'down' | 'stopped';

export interface ComponentHealth {
  status: Status;
  detail?: string;
  since: string;
}

const components = new Map<string, ComponentHealth>();

export function report(component: string, status: Status, detail?: string): void {
  const prev = components.get(component);
  if (prev && prev.status === status && prev.detail === detail) return;
  const h: ComponentHealth = { status, since: new Date().toISOString() };
  if (detail !== undefined) h.detail = detail;
  components.set(component, h);
}

export function snapshot(): Record<string, ComponentHealth> {
  return Object.fromEntries(components);
}

/** Ready when something runs and nothing is down or still starting. */
export function isReady(): boolean {
  if (components.size === 0) return false;
  for (const h of components.values()) if (h.status === 'down' || h.status === 'starting') return false;
  return true;
}

export function overall(): Status {
  let worst: Status = 'ok';
  for (const h of components.values()) {
    if (h.status === 'down') return 'down';
    if (h.status === 'degraded' || h.status === 'starting') worst = 'degraded';
  }
  return worst;
}
