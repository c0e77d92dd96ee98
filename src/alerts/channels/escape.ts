/**
 * Device-controlled text made safe for each output it reaches. Device ids, classes, firmware,
 * metric names and the explanations built from them are attacker data: a device that can put a
 * newline into a syslog line, a `|` into a CEF header or `<!channel>` into Slack can forge
 * alerts, hide one, or page a whole SOC. Every renderer passes every string through one of the
 * functions here; the fuzz test (test/security/fuzz.test.ts) checks that none of them lets a
 * line break, a framing byte or a markup token through.
 *
 * Control characters are not dropped silently but shown as visible escapes (`\x0a`, `\u2028`), so
 * an analyst sees that a device tried something. All regular expressions here are single
 * character classes: linear in the input, whatever it holds.
 */

/**
 * C0 and C1 controls, DEL, the Unicode line and paragraph separators (line breaks to JavaScript
 * and some log viewers), bidirectional overrides and isolates (they reorder what an analyst
 * reads: "Trojan Source"), and the BOM / zero-width no-break space.
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

const hex = (c: string, width: number) => c.charCodeAt(0).toString(16).padStart(width, '0');
const visibleEscape = (c: string): string => (c.charCodeAt(0) <= 0xff ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`);

/** Default caps, in characters, for the device-controlled fields of an alert. */
export const CAPS = {
  id: 256,
  short: 128,
  title: 256,
  message: 1024,
} as const;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Lone surrogates → U+FFFD (String.prototype.toWellFormed, which Node 20's TypeScript lib lacks). */
function wellFormed(s: string): string {
  return s.replace(LONE_SURROGATE, '\ufffd');
}

/**
 * At most `max` characters (code points are never split), with "…" marking a cut. Lone UTF-16
 * surrogates become U+FFFD first: they are not text, and encoders disagree on their bytes.
 */
function cap(s: string, max: number): string {
  const t = wellFormed(s);
  if (t.length <= max) return t;
  let end = Math.max(0, max - 1);
  const c = t.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--; // do not keep half of a pair
  return t.slice(0, end) + '…';
}

/** Text for a single-line human rendering: capped, every control shown as a visible escape. */
export function visible(s: unknown, max: number = CAPS.short): string {
  return cap(String(s), max).replace(CONTROLS, visibleEscape);
}

/** True when `s` holds no character that could end or reorder a line. */
export function isSingleLine(s: string): boolean {
  return !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(s);
}

// ── CEF (ArcSight Common Event Format, rev. 25) ──

/** A CEF header field: `\` and `|` escaped; a header has no line breaks at all. */
export function cefHeader(s: unknown, max: number = CAPS.title): string {
  return visible(s, max).replace(/[\\|]/g, (c) => `\\${c}`);
}

/**
 * A CEF extension value: `\` and `=` escaped, line breaks written as CEF's own `\n` and `\r`
 * (a bare CR too: some collectors end a record there), other controls as visible escapes.
 */
export function cefExt(s: unknown, max: number = CAPS.message): string {
  return cap(String(s), max)
    .replace(/[\\=]/g, (c) => `\\${c}`)
    .replace(/\r/g, '\\r')
    .replace(/\n/g, '\\n')
    .replace(CONTROLS, visibleEscape);
}

// ── Slack mrkdwn ──

/**
 * Device text inside Slack mrkdwn. Slack's own rule: `&`, `<` and `>` are written as entities,
 * which is what turns `<!channel>`, `<@U123>` and `<https://evil|Click here>` into inert text.
 * Messages are also sent with `verbatim: true` (no auto-linking of bare URLs and names).
 */
export function slackText(s: unknown, max: number = CAPS.short): string {
  return visible(s, max).replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

// ── JSON lines ──

/**
 * One JSON document on one line. JSON.stringify escapes C0 controls and lone surrogates but
 * writes DEL, the C1 controls (U+0085 is NEL, a line break to Unicode-aware readers) and U+2028 /
 * U+2029 raw, which JavaScript-based and some other line readers split on; and the bidirectional
 * overrides, which reorder what an analyst reads in a terminal or `jq` output. The same set as
 * the text renderings escape, as JSON's own `\uXXXX`, so a parser still gets the exact string.
 */
export function jsonLine(doc: unknown): string {
  return JSON.stringify(doc).replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g, (c) => `\\u${hex(c, 4)}`);
}

// ── syslog framing ──

/**
 * RFC 6587 / RFC 5425 octet counting: the length prefix is in bytes of the UTF-8 message. A
 * count in UTF-16 units (String.length) is short for any multi-byte character, and the receiver
 * then reads the rest of the message as the start of a new, attacker-written one.
 */
export function octetFrame(msg: string): Buffer {
  const body = Buffer.from(wellFormed(msg), 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}
