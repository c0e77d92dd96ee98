/**
 * Alert route components: each declares its options the same way detectors declare their
 * parameters, so one spec drives the schema, the validator and docs/pipelines.md.
 *
 * They live here until src/alerts exports its own channel specs; the shape is deliberately the
 * detectors' ParamSpec so moving them is a copy.
 */
import type { ParamSpec } from '../detectors/types.js';

export interface RouteOptionSpec extends ParamSpec {
  required?: boolean;
  /** The value is a credential: never logged (see redact.ts). */
  secret?: boolean;
}

export interface RouteSpec {
  type: 'webhook' | 'slack' | 'syslog' | 'kafka' | 'stdout';
  summary: string;
  options: Record<string, RouteOptionSpec>;
  /** A one-line example for docs. */
  example: string;
}

const URL_SCHEMA = { format: 'uri', pattern: '^https?://', patternErrorMessage: 'an http:// or https:// URL' };

export const ROUTE_SPECS: readonly RouteSpec[] = [
  {
    type: 'webhook',
    summary: 'POST the OCSF Detection Finding (class_uid 2004) as JSON, signed with HMAC-SHA256 when a secret is set.',
    example: '- webhook: { url: "${SOC_WEBHOOK_URL}", secret: "${SOC_WEBHOOK_SECRET}" }',
    options: {
      url: { type: 'string', required: true, description: 'Endpoint receiving the alert (http or https).', schema: URL_SCHEMA, examples: ['https://soc.example.com/hooks/m2m'] },
      secret: { type: 'string', secret: true, description: 'HMAC-SHA256 key; the signature of the body is sent as `x-m2m-signature: sha256=<hex>`. Never logged.', examples: ['${SOC_WEBHOOK_SECRET}'] },
      timeout: { type: 'duration', default: '10s', description: 'Per-request timeout; a timed-out delivery is retried from the outbox.', examples: ['5s'] },
    },
  },
  {
    type: 'slack',
    summary: 'Post a Slack message through an incoming webhook (Slack-compatible receivers such as Mattermost work too).',
    example: '- slack: { url: "${SLACK_WEBHOOK_URL}" }',
    options: {
      url: { type: 'string', required: true, secret: true, description: 'Incoming-webhook URL. It embeds a credential, so it is never logged.', schema: URL_SCHEMA, examples: ['${SLACK_WEBHOOK_URL}'] },
      timeout: { type: 'duration', default: '10s', description: 'Per-request timeout; a timed-out delivery is retried from the outbox.', examples: ['5s'] },
    },
  },
  {
    type: 'syslog',
    summary: 'Send the alert as a CEF line over syslog (RFC 5424 framing).',
    example: '- syslog: { host: siem.example.com, port: 514, protocol: tcp }',
    options: {
      host: { type: 'string', required: true, description: 'Syslog collector host name or IP.', schema: { minLength: 1 }, examples: ['siem.example.com'] },
      port: { type: 'integer', default: 514, minimum: 1, maximum: 65535, description: 'Collector port.', examples: [6514] },
      protocol: { type: 'string', enum: ['udp', 'tcp'], default: 'udp', description: 'Transport. TCP uses octet-counted framing.', examples: ['tcp'] },
      format: { type: 'string', enum: ['cef'], default: 'cef', description: 'Message format (CEF is what ArcSight, QRadar and most SIEM syslog inputs parse).', examples: ['cef'] },
    },
  },
  {
    type: 'kafka',
    summary: 'Produce the OCSF JSON to a Kafka topic (key = device_id) on the source cluster. This topic is also the pipeline\'s durable alert outbox (m2m.alerts when no kafka route is given), so a pipeline has at most one.',
    example: '- kafka: { topic: m2m.alerts }',
    options: {
      topic: {
        type: 'string',
        required: true,
        description: 'Topic to write alerts to. Must not be one of the pipeline\'s source topics.',
        schema: { pattern: '^[a-zA-Z0-9._-]{1,249}$', patternErrorMessage: 'a Kafka topic name (letters, digits, ".", "_", "-")' },
        examples: ['m2m.alerts'],
      },
    },
  },
  {
    type: 'stdout',
    summary: 'Print one OCSF JSON document per line to standard output (development, demos, container log collectors).',
    example: '- stdout: {}',
    options: {},
  },
];

export const ROUTE_TYPES = ROUTE_SPECS.map((r) => r.type);

export function routeSpec(type: string): RouteSpec | undefined {
  return ROUTE_SPECS.find((r) => r.type === type);
}
