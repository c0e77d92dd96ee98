/** The analyst API described as OpenAPI 3.1, served at /api/openapi.json. */

const str = (description: string, extra: Record<string, unknown> = {}) => ({ type: 'string', description, ...extra });
const q = (name: string, description: string, schema: Record<string, unknown> = { type: 'string' }) => ({ name, in: 'query', required: false, description, schema });
const SEVERITY = { type: 'string', enum: ['info', 'low', 'medium', 'high', 'critical'] };
const TIME = 'ISO-8601 time, epoch milliseconds, or a duration back from now (30m, 24h, 7d).';
const id = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{32}$' }, description: 'Alert id (OCSF finding_info.uid).' };
const err = { description: 'Invalid input: the message names the parameter.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const ok = (ref: string, description = 'OK') => ({ description, content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } } });
const alertFilters = [
  q('since', `Alerts active at or after this time. ${TIME}`),
  q('until', `Alerts that started at or before this time. ${TIME}`),
  q('severity', 'Lowest severity.', SEVERITY),
  q('device_id', 'One device.'),
  q('device_class', 'One device class.'),
  q('detector', 'One detector (instance id).'),
  q('state', 'Analyst state.', { type: 'string', enum: ['new', 'acknowledged', 'resolved'] }),
  q('pipeline', 'One pipeline.'),
  q('q', 'Text in the device, class, detector, key or explanation (case-insensitive).'),
  q('sort', 'Order: severity then most recent (default), or most recent.', { type: 'string', enum: ['severity', 'time'] }),
  q('limit', 'Page size (1–1000, default 100; exports up to 10000).', { type: 'integer', minimum: 1, maximum: 10000 }),
  q('cursor', 'next_cursor of the previous page.'),
];
const findingFilters = [
  q('since', `Findings active at or after this time. ${TIME}`),
  q('until', `Findings that started at or before this time. ${TIME}`),
  q('severity', 'Lowest severity.', SEVERITY),
  q('device_id', 'One device.'),
  q('device_class', 'One device class.'),
  q('detector', 'One detector.'),
  q('pipeline', 'One pipeline.'),
  q('q', 'Text in the device, detector, key or explanation.'),
  q('min_score', 'Lowest score (0–1).', { type: 'number', minimum: 0, maximum: 1 }),
  q('limit', 'Page size (1–1000, default 100).', { type: 'integer' }),
  q('cursor', 'next_cursor of the previous page.'),
];
const actionBody = (required: string[], props: Record<string, unknown>) => ({ required: true, content: { 'application/json': { schema: { type: 'object', required, properties: props } } } });
const COMMENT = str('What was checked or done (at most 2000 characters).', { maxLength: 2000 });

export function openApi(version: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'm2m-sentinel analyst API',
      version,
      description: 'Alerts with their lifecycle, findings and devices. Authenticate with `Authorization: Bearer <token>` (tokens and roles from the access file) or a console session. Roles: viewer reads; analyst also acknowledges, resolves and comments; admin also reads the audit log. Every change an analyst makes is published as an OCSF Detection Finding update on the alert outbox, so every route sees it.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, { session: [] }],
    paths: {
      '/api/alerts': { get: { summary: 'Alert queue', parameters: alertFilters, responses: { 200: ok('AlertPage'), 400: err, 401: { description: 'Not authenticated.' } } } },
      '/api/alerts/export': { get: { summary: 'Export alerts as CSV or NDJSON', parameters: [...alertFilters, q('format', 'csv (default) or ndjson', { type: 'string', enum: ['csv', 'ndjson'] })], responses: { 200: { description: 'The file', content: { 'text/csv': {}, 'application/x-ndjson': {} } }, 400: err } } },
      '/api/alerts/{id}': { get: { summary: 'An alert with its findings, history and latest OCSF document', parameters: [id], responses: { 200: ok('AlertDetail'), 404: err } } },
      '/api/alerts/{id}/series': { get: { summary: "The chart around an alert: the device's readings of the metric with the detector's own baseline band, or its connections by peer and port", parameters: [id], responses: { 200: { description: 'Series', content: { 'application/json': { schema: { type: 'object' } } } }, 404: err } } },
      '/api/alerts/{id}/acknowledge': { post: { summary: 'Acknowledge (state new → acknowledged; OCSF Update, status In Progress)', parameters: [id], requestBody: actionBody([], { comment: COMMENT }), responses: { 200: ok('ActionResult'), 403: { description: 'Role below analyst, or CSRF token missing for a session.' }, 404: err, 409: err } } },
      '/api/alerts/{id}/resolve': { post: { summary: 'Resolve with a reason (OCSF Close, status Resolved)', parameters: [id], requestBody: actionBody(['reason'], { reason: { type: 'string', enum: ['true_positive', 'benign', 'false_positive'] }, comment: COMMENT }), responses: { 200: ok('ActionResult'), 400: err, 404: err, 409: err } } },
      '/api/alerts/{id}/comment': { post: { summary: 'Comment (OCSF Update with comment, state unchanged)', parameters: [id], requestBody: actionBody(['comment'], { comment: COMMENT }), responses: { 200: ok('ActionResult'), 400: err, 404: err } } },
      '/api/findings': { get: { summary: 'Findings', parameters: findingFilters, responses: { 200: ok('FindingPage'), 400: err } } },
      '/api/findings/export': { get: { summary: 'Export findings as CSV or NDJSON', parameters: [...findingFilters, q('format', 'csv or ndjson', { type: 'string', enum: ['csv', 'ndjson'] })], responses: { 200: { description: 'The file' } } } },
      '/api/devices/{device}': { get: { summary: 'A device: findings, firmware history, usual peers and ports, open alerts', parameters: [{ name: 'device', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'Device', content: { 'application/json': { schema: { type: 'object' } } } } } } },
      '/api/stream': { get: { summary: 'Server-sent events: `alerts` whenever alerts change', responses: { 200: { description: 'text/event-stream' } } } },
      '/api/me': { get: { summary: 'Who is asking, their role and (sessions) the CSRF token', responses: { 200: { description: 'OK' } } } },
      '/api/audit': { get: { summary: 'The audit log (admin)', responses: { 200: { description: 'OK' }, 403: { description: 'Not admin.' } } } },
      '/api/maintenance': {
        get: { summary: 'Ad hoc maintenance windows (findings stored, alerts held while a window covers a device)', responses: { 200: { description: '{ items: [window] }' } } },
        post: {
          summary: 'Add a maintenance window (analyst); the same as `m2m-sentinel maintenance add`',
          requestBody: actionBody([], {
            devices: { type: 'array', items: { type: 'string' } }, classes: { type: 'array', items: { type: 'string' } }, all_devices: { type: 'boolean', description: 'Needed for a window over every device.' },
            pipeline: str('Only this pipeline.'), start: str('ISO-8601; default now.'), end: str('ISO-8601.'), for: str('Length from the start instead of end, e.g. 2h.'), reason: str('Why.'), id: str('Id (default generated); an existing id is replaced.'),
          }),
          responses: { 201: { description: 'The window as stored' }, 400: err, 403: { description: 'Role below analyst, or CSRF token missing for a session.' } },
        },
      },
      '/api/maintenance/{window}/remove': { post: { summary: 'Remove a maintenance window (analyst)', parameters: [{ name: 'window', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'Removed' }, 404: err } } },
      '/api/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OK' } } } },
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token from the access file.' },
        session: { type: 'apiKey', in: 'cookie', name: 'm2m_session', description: 'A console session (POST /login); state changes also need the x-csrf-token header.' },
      },
      schemas: {
        Error: { type: 'object', required: ['error'], properties: { error: str('What is wrong.'), parameter: str('The parameter at fault.') } },
        Alert: {
          type: 'object',
          properties: {
            alert_id: str('Stable id of the alert (OCSF finding_info.uid).'), pipeline: str('Pipeline.'), device_id: str('Device.'), device_class: str('Device class.'),
            detector: str('Detector instance.'), key: str('What inside the device (metric, peer, port).'),
            first_ts: { type: 'integer', description: 'First event (ms, event time).' }, last_ts: { type: 'integer', description: 'Latest event (ms, event time).' },
            closed_ts: { type: ['integer', 'null'], description: 'When it closed by itself (ms, event time).' },
            count: { type: 'integer', description: 'Anomalous events.' }, findings: { type: 'integer', description: 'Findings folded in.' },
            severity: SEVERITY, initial_severity: SEVERITY, score: { type: 'number' }, explanation: str('What the latest finding says.'),
            state: { type: 'string', enum: ['new', 'acknowledged', 'resolved'] }, resolution: str('true_positive, benign, false_positive, or empty.'),
            acted_by: str('Who last acknowledged or resolved it.'), comments: { type: 'integer' },
          },
        },
        AlertPage: { type: 'object', properties: { items: { type: 'array', items: { $ref: '#/components/schemas/Alert' } }, next_cursor: { type: ['string', 'null'] } } },
        AlertDetail: { type: 'object', properties: { alert: { $ref: '#/components/schemas/Alert' }, findings: { type: 'array', items: { type: 'object' } }, history: { type: 'array', items: { type: 'object' } }, document: { type: ['object', 'null'], description: 'Latest OCSF Detection Finding published.' } } },
        ActionResult: { type: 'object', properties: { alert: { $ref: '#/components/schemas/Alert' }, published: { type: 'object', properties: { uid: str('metadata.uid of the published update.'), activity: str('Update or Close.'), status: str('OCSF status.') } } } },
        FindingPage: { type: 'object', properties: { items: { type: 'array', items: { type: 'object' } }, next_cursor: { type: ['string', 'null'] } } },
      },
    },
  };
}
