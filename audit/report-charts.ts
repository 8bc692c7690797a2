/**
 * The report's two statistics charts as inline SVG (no script, no network):
 * - requests over time, stacked by message type: one `rect` per (slot, type) with requests,
 *   `data-type`/`data-count` on each; the log's buckets (RequestStats.bucketMs) are merged
 *   into wider slots when there would be more than MAX_SLOTS across the time range;
 * - the latency histogram: one `rect` per non-empty log-linear bucket (histogramRows), on a
 *   logarithmic µs axis, with the p50 and p99 marked.
 */
import { toArray } from '../projections/chain.js';
import { histogramRows, percentile, type LatencyHistogram } from '../projections/latency-histogram.js';
import type { RequestStats } from '../projections/request-stats.js';
import { esc, isoTime, micros, num, seriesColour } from './report-html.js';

export const MAX_SLOTS = 120;
const W = 960;
const H = 260;
const M = { left: 48, right: 12, top: 12, bottom: 36 };

/** Requests per slot and type: what the stacked bars draw. */
export interface TimeSlot {
  readonly startAt: number;
  readonly byType: ReadonlyMap<string, number>;
}

/** The buckets merged into slots of `slotMs` (a multiple of bucketMs) so at most MAX_SLOTS span the range. */
export function timeSlots(stats: RequestStats): { slotMs: number; slots: TimeSlot[] } {
  const buckets = toArray(stats.overTime);
  if (buckets.length === 0) return { slotMs: stats.bucketMs, slots: [] };
  const span = buckets.at(-1)!.startAt - buckets[0]!.startAt + stats.bucketMs;
  const slotMs = stats.bucketMs * Math.max(1, Math.ceil(span / stats.bucketMs / MAX_SLOTS));
  const slots: { startAt: number; byType: Map<string, number> }[] = [];
  for (const b of buckets) {
    const startAt = Math.floor(b.startAt / slotMs) * slotMs;
    let slot = slots.at(-1);
    if (slot === undefined || slot.startAt !== startAt) slots.push((slot = { startAt, byType: new Map() }));
    for (const [type, n] of b.byType) slot.byType.set(type, (slot.byType.get(type) ?? 0) + n);
  }
  return { slotMs, slots };
}

/** Message types by total requests, most first (the stacking and legend order). */
export const typeOrder = (stats: RequestStats): string[] =>
  [...stats.byType].sort((a, b) => b[1].requests - a[1].requests || (a[0] < b[0] ? -1 : 1)).map(([name]) => name);

/** A "nice" axis maximum and tick step for counts. */
function niceScale(max: number): { top: number; step: number } {
  const raw = Math.max(1, max) / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  return { top: Math.ceil(Math.max(1, max) / step) * step, step: Math.max(1, step) };
}

function yAxis(top: number, step: number, plotH: number): string {
  let out = '';
  for (let v = 0; v <= top; v += step) {
    const y = M.top + plotH - (v / top) * plotH;
    out += `<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}"/><text class="tick" x="${M.left - 6}" y="${y + 4}" text-anchor="end">${v}</text>`;
  }
  return out;
}

export function requestsOverTimeChart(stats: RequestStats): string {
  const { slotMs, slots } = timeSlots(stats);
  const types = typeOrder(stats);
  const colour = new Map(types.map((t, i) => [t, seriesColour(i)]));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const first = slots[0]?.startAt ?? 0;
  const count = slots.length === 0 ? 1 : (slots.at(-1)!.startAt - first) / slotMs + 1;
  const bw = plotW / count;
  const { top, step } = niceScale(Math.max(0, ...slots.map((s) => [...s.byType.values()].reduce((a, b) => a + b, 0))));
  let bars = '';
  for (const s of slots) {
    const x = M.left + ((s.startAt - first) / slotMs) * bw;
    let y = M.top + plotH;
    for (const type of types) {
      const n = s.byType.get(type);
      if (!n) continue;
      const h = (n / top) * plotH;
      y -= h;
      bars += `<rect class="bar" data-type="${esc(type)}" data-count="${n}" x="${(x + bw * 0.08).toFixed(2)}" y="${y.toFixed(2)}" ` +
        `width="${(bw * 0.84).toFixed(2)}" height="${h.toFixed(2)}" fill="${colour.get(type)}"><title>${esc(isoTime(s.startAt))}: ${n} × ${esc(type)}</title></rect>`;
    }
  }
  const labels = slots.length === 0 ? '' :
    `<text class="tick" x="${M.left}" y="${H - 8}">${esc(isoTime(first))}</text>` +
    `<text class="tick" x="${W - M.right}" y="${H - 8}" text-anchor="end">${esc(isoTime(slots.at(-1)!.startAt + slotMs))}</text>`;
  const legend = types.map((t) => `<li><span class="swatch" style="background:${colour.get(t)}"></span>${esc(t)} <b>${num(stats.byType.get(t)!.requests)}</b></li>`).join('');
  return `<figure><svg id="requests-over-time" class="chart" viewBox="0 0 ${W} ${H}" role="img" data-slot-ms="${slotMs}" data-slots="${slots.length}">` +
    `<title>Requests over time by message type (slots of ${slotMs / 1000} s)</title>${yAxis(top, step, plotH)}${bars}${labels}</svg>` +
    `<figcaption>Requests per ${esc(slotMs >= 60_000 ? `${slotMs / 60_000} min` : `${slotMs / 1000} s`)}, stacked by message type (times as the broker logged them).</figcaption>` +
    `<ul class="legend">${legend}</ul></figure>`;
}

export function latencyHistogramChart(latency: LatencyHistogram): string {
  const rows = histogramRows(latency);
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const lo = Math.log10(Math.max(1, rows[0]?.lowMicros ?? 1));
  const hi = Math.log10(Math.max(10, rows.at(-1)?.highMicros ?? 10));
  const [from, to] = [Math.floor(lo), Math.max(Math.ceil(hi), Math.floor(lo) + 1)];
  const xOf = (us: number): number => M.left + ((Math.log10(Math.max(1, us)) - from) / (to - from)) * plotW;
  const { top, step } = niceScale(Math.max(0, ...rows.map((r) => r.count)));
  const bars = rows.map((r) => {
    const x = xOf(r.lowMicros);
    const w = Math.max(1, xOf(r.highMicros) - x - 0.5);
    const h = (r.count / top) * plotH;
    return `<rect class="bar" data-low-us="${r.lowMicros}" data-high-us="${r.highMicros}" data-count="${r.count}" x="${x.toFixed(2)}" y="${(M.top + plotH - h).toFixed(2)}" ` +
      `width="${w.toFixed(2)}" height="${h.toFixed(2)}"><title>${esc(micros(r.lowMicros))} – ${esc(micros(r.highMicros))}: ${r.count}</title></rect>`;
  }).join('');
  let ticks = '';
  for (let e = from; e <= to; e++) {
    const x = xOf(10 ** e);
    ticks += `<line class="grid" x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + plotH}"/><text class="tick" x="${x}" y="${H - 16}" text-anchor="${e === from ? 'start' : e === to ? 'end' : 'middle'}">${esc(micros(10 ** e))}</text>`;
  }
  const marks = rows.length === 0 ? '' : ([['p50', 0.5], ['p99', 0.99]] as const).map(([label, p]) => {
    const x = xOf(percentile(latency, p)!);
    return `<line class="mark ${label}" x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + plotH}"/><text class="mark-label" x="${x + 3}" y="${M.top + 10}">${label}</text>`;
  }).join('');
  return `<figure><svg id="latency-histogram" class="chart" viewBox="0 0 ${W} ${H}" role="img" data-buckets="${rows.length}">` +
    `<title>Reply latency distribution</title>${yAxis(top, step, plotH)}${ticks}${bars}${marks}</svg>` +
    '<figcaption>Replies per latency bucket (request logged → reply logged; log scale, 8 buckets per doubling).</figcaption></figure>';
}
