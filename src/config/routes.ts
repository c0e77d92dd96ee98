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

const DENY_PRIVATE: RouteOptionSpec = {
  type: 'boolean',
  description: 'Default false. Refuse to deliver to loopback, private, link-local (cloud metadata), CGNAT and multicast addresses, checked on the address actually connected to after DNS resolution. Set it when the URL comes from people who should not reach internal services. Redirects are never followed either way.',
  examples: [true],
};

export const ROUTE_SPECS: readonly RouteSpec[] = [
  {
    type: 'webhook',
    summary: 'POST the OCSF Detection Finding (class_uid 2004) as JSON, signed with HMAC-SHA256 when a secret is set.',
    example: '- webhook: { url: "${SOC_WEBHOOK_URL}", secret: "${SOC_WEBHOOK_SECRET}" }',
    options: {
      url: { type: 'string', required: true, description: 'Endpoint receiving the alert (http or https).', schema: URL_SCHEMA, examples: ['https://soc.example.com/hooks/m2m'] },
      secret: {
        type: 'string',
        secret: true,
        description: 'HMAC-SHA256 key. Each delivery carries `x-m2m-timestamp: <unix seconds>` and `x-m2m-signature: t=<timestamp>,v1=<hex HMAC of "<timestamp>.<body>">`; receivers verify it with a constant-time compare and refuse old timestamps (docs/security.md). Never logged.',
        examples: ['${SOC_WEBHOOK_SECRET}'],
      },
      timeout: { type: 'duration', default: '10s', description: 'Per-request timeout; a timed-out delivery is retried from the outbox.', examples: ['5s'] },
      deny_private: DENY_PRIVATE,
    },
  },
  {
    type: 'slack',
    summary: 'Post a Slack message through an incoming webhook (Slack-compatible receivers such as Mattermost work too).',
    example: '- slack: { url: "${SLACK_WEBHOOK_URL}" }',
    options: {
      url: { type: 'string', required: true, secret: true, description: 'Incoming-webhook URL. It embeds a credential, so it is never logged.', schema: URL_SCHEMA, examples: ['${SLACK_WEBHOOK_URL}'] },
      timeout: { type: 'duration', default: '10s', description: 'Per-request timeout; a timed-out delivery is retried from the outbox.', examples: ['5s'] },
      deny_private: DENY_PRIVATE,
    },
  },
  {
    type: 'syslog',
    summary: 'Send the alert as a CEF record over syslog (RFC 5424 header): UDP, TCP, or TLS (RFC 5425) with the collector\'s certificate checked.',
    example: '- syslog: { host: siem.example.com, protocol: tls, ca: /etc/m2m/siem-ca.pem }',
    options: {
      host: { type: 'string', required: true, description: 'Syslog collector host name or IP.', schema: { minLength: 1 }, examples: ['siem.example.com'] },
      port: { type: 'integer', minimum: 1, maximum: 65535, description: 'Collector port; default 6514 with tls, else 514. 6514 is syslog over TLS: plaintext to it is refused.', examples: [6514] },
      protocol: { type: 'string', enum: ['udp', 'tcp', 'tls'], default: 'udp', description: 'Transport. tcp and tls use octet-counted framing (RFC 6587/5425); tls checks the collector\'s certificate chain and name.', examples: ['tls'] },
      ca: { type: 'string', description: 'tls: PEM file of the CA(s) that signed the collector\'s certificate; default: the system\'s trusted CAs.', schema: { minLength: 1 }, examples: ['/etc/m2m/siem-ca.pem'] },
      servername: { type: 'string', description: 'tls: the name the collector\'s certificate must carry (SNI and verification); default: host.', schema: { minLength: 1 }, examples: ['siem.example.com'] },
      cert: { type: 'string', description: 'tls: PEM client certificate file, for collectors that authenticate senders (mutual TLS).', schema: { minLength: 1 }, examples: ['/etc/m2m/sentinel.pem'] },
      key: { type: 'string', description: 'tls: PEM private key file of `cert`.', schema: { minLength: 1 }, examples: ['/etc/m2m/sentinel.key'] },
      timeout: { type: 'duration', default: '10s', description: 'Connect and send timeout (tcp, tls).', examples: ['5s'] },
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

