/**
 * HTML building blocks for the audit report and the status page: escaping (every string
 * from a log is untrusted: peer ids, refusal descriptions, device ids), number and time
 * formats, tables, and a stable colour per message type. Output is plain strings.
 */

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text safe inside an element or a quoted attribute. */
export const esc = (value: unknown): string => String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/** A whole number with thin grouping (1 234 567). */
export const num = (n: number | bigint): string => n.toLocaleString('en-US').replace(/,/g, '\u202f');

/**
 * A latency given in µs, shown in ms, always (one unit on every page and line): to the µs
 * below 1 ms (0.412 ms), three significant digits below 100 ms (12.3 ms), whole above.
 */
export function micros(us: number | undefined): string {
  if (us === undefined) return '–';
  const ms = us / 1000;
  return `${ms < 1 ? ms.toFixed(3) : ms < 100 ? ms.toPrecision(3) : num(Math.round(ms))} ms`;
}

/** Unix ms as an ISO time (UTC), or a dash. */
export const isoTime = (at: number | undefined): string => (at === undefined ? '–' : new Date(at).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'));

/** A table: header cells are text, body cells are already-escaped HTML. */
export function table(cls: string, head: readonly string[], rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return `<p class="empty ${esc(cls)}">none</p>`;
  return `<table class="${esc(cls)}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>` +
    `<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** Label/value pairs (values already-escaped HTML) as a definition grid. */
export const facts = (cls: string, pairs: readonly (readonly [string, string])[]): string =>
  `<dl class="facts ${esc(cls)}">${pairs.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${v}</dd></div>`).join('')}</dl>`;

/** A colour per series, spread around the hue circle by the golden angle. */
export const seriesColour = (index: number): string => `hsl(${Math.round((index * 137.508) % 360)} 62% 52%)`;
