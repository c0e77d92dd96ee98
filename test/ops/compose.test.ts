/**
 * docker-compose.yml as Docker Compose reads it: the service scales (no fixed host port, no
 * container name), every published port binds localhost only, and the monitoring stack it
 * mounts from ops/ exists. (No Docker engine here; the file is checked, not started.)
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/bin.js';

type Port = string | number | { target: number; published?: string | number; host_ip?: string };
interface Service {
  image?: string;
  build?: string | { context: string; target?: string };
  ports?: Port[];
  expose?: Array<string | number>;
  container_name?: string;
  volumes?: Array<string | { source: string }>;
  environment?: Record<string, string>;
  profiles?: string[];
  deploy?: { replicas?: number };
}
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };

/** Host address and port of a published port entry, in either compose syntax. */
function published(p: Port): { host: string | undefined; port: string | undefined } {
  if (typeof p === 'object') return { host: p.host_ip, port: p.published === undefined ? undefined : String(p.published) };
  const parts = String(p).split(':');
  // "8123" (container port only: random host port on every interface), "8123:8123", "127.0.0.1:8123:8123"
  if (parts.length === 1) return { host: undefined, port: undefined };
  if (parts.length === 2) return { host: undefined, port: parts[0] };
  return { host: parts.slice(0, -2).join(':'), port: parts.at(-2) };
}

describe('docker-compose.yml', () => {
  const svc = compose.services.sentinel!;

  it('the sentinel service can be scaled: no fixed host port, no container name, no host-bound state', () => {
    expect(svc.container_name).toBeUndefined();
    for (const p of svc.ports ?? []) {
      const { port } = published(p);
      // A fixed host port collides at the second replica; a range (9464-9470) would not.
      expect(port === undefined || /^\d+-\d+$/.test(port), `fixed host port ${JSON.stringify(p)}`).toBe(true);
    }
    for (const v of svc.volumes ?? []) expect(String(typeof v === 'string' ? v : v.source)).not.toMatch(/data/);
    expect(svc.expose?.map(String)).toContain('9464');
  });

  it('runs the slim image against the ClickHouse server, bound where the other services reach it', () => {
    expect(typeof svc.build === 'object' && svc.build.target).toBe('slim');
    expect(svc.environment?.CLICKHOUSE_URL).toMatch(/@clickhouse:8123$/);
    // The one-shot migrations run from the same image.
    expect(compose.services.migrate?.image ?? svc.image).toBe(svc.image);
    // Listening on every interface inside the container, so Prometheus on the network reaches it.
    const cmd = ((svc as { command?: string[] }).command ?? []).join(' ');
    expect(svc.environment?.HTTP_HOST === '0.0.0.0' || cmd.includes('--http-host 0.0.0.0')).toBe(true);
  });

  it('publishes nothing beyond localhost, in every profile', () => {
    const all = Object.entries(compose.services).flatMap(([name, s]) => (s.ports ?? []).map((p) => ({ name, p })));
    expect(all.length).toBeGreaterThan(0);
    for (const { name, p } of all) expect(published(p).host, `${name}: ${JSON.stringify(p)}`).toBe('127.0.0.1');
  });

  it('has no default password anywhere, and none required by a profile-gated service before its profile is on', () => {
    const raw = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    expect(raw).not.toMatch(/PASSWORD[A-Z_]*:-|PASSWORD: *["']?admin/);
    // Grafana's admin password: from GRAFANA_ADMIN_PASSWORD through a secret, never admin/admin.
    const grafana = compose.services.grafana as Service & { secrets?: string[] };
    expect(grafana.environment?.GF_SECURITY_ADMIN_PASSWORD).toBeUndefined();
    expect(grafana.environment?.GF_SECURITY_ADMIN_PASSWORD__FILE).toBe('/run/secrets/grafana_admin_password');
    expect(grafana.secrets).toContain('grafana_admin_password');
    expect((compose as unknown as { secrets: Record<string, { environment?: string }> }).secrets.grafana_admin_password?.environment).toBe('GRAFANA_ADMIN_PASSWORD');
    // Compose interpolates every service before filtering profiles: a ${VAR:?} in a monitoring
    // service would make a plain `docker compose up` fail for want of a monitoring password.
    for (const [name, s] of Object.entries(compose.services)) {
      if (s.profiles?.length) expect(JSON.stringify(s), name).not.toMatch(/\$\{[A-Z_]+:\?/);
    }
  });

  it('mounts the Prometheus rules and Grafana dashboard shipped in ops/, and Prometheus finds every replica', () => {
    const mounts = Object.values(compose.services).flatMap((s) => (s.volumes ?? []).map((v) => String(typeof v === 'string' ? v : v.source))).filter((v) => v.startsWith('./'));
    for (const m of mounts) expect(existsSync(join(ROOT, m.split(':')[0]!)), m).toBe(true);
    expect(mounts.some((m) => m.startsWith('./ops/prometheus/alerts.yml'))).toBe(true);
    expect(mounts.some((m) => m.startsWith('./ops/grafana/dashboards'))).toBe(true);
    const prom = parse(readFileSync(join(ROOT, 'ops/prometheus/prometheus.yml'), 'utf8')) as { scrape_configs: Array<{ dns_sd_configs?: Array<{ names: string[]; port: number }> }>; rule_files: string[] };
    expect(prom.scrape_configs[0]!.dns_sd_configs?.[0]).toMatchObject({ names: ['sentinel'], port: 9464 });
    expect(prom.rule_files).toContain('/etc/prometheus/alerts.yml');
    // /metrics needs a token: Prometheus reads it from the secret the sentinel's access file names.
    const auth = (prom.scrape_configs[0] as { authorization?: { credentials_file?: string } }).authorization;
    expect(auth?.credentials_file).toBe('/run/secrets/m2m_prometheus_token');
    expect((compose.services.prometheus as { secrets?: string[] }).secrets).toContain('m2m_prometheus_token');
    expect(svc.environment?.M2M_TOKEN_PROMETHEUS).toMatch(/^\$\{M2M_TOKEN_PROMETHEUS:\?/);
    expect(readFileSync(join(ROOT, 'deploy/access.yaml'), 'utf8')).toContain('token_env: M2M_TOKEN_PROMETHEUS');
  });
});
