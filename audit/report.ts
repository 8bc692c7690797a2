/**
 * `renderReport(views, meta)`: the audit report as one self-contained HTML
 * document: inline CSS and inline SVG charts, no script and nothing fetched (its
 * Content-Security-Policy forbids any load), so it opens offline and a hostile string in a
 * log cannot reach the network. Every string from a log is escaped (report-html.ts `esc`).
 * The broker's status page (broker/status-page.ts) serves the same document with `meta.live`:
 * a status panel and a small script that polls the JSON API, refills the panel's `data-live`
 * elements (and `data-state` from `data-live-state`), and swaps in a fresh report when the
 * log grew.
 */
import { toArray } from '../projections/chain.js';
import { summarizeLatency } from '../projections/latency-histogram.js';
import type { BrokerViews } from '../projections/replay.js';
import { toHex } from '../signer/bytes.js';
import { permissionNames } from '../signer/permissions.js';
import type { JournalStats } from '../projections/request-stats.js';
import { latencyHistogramChart, requestsOverTimeChart, typeOrder } from './report-charts.js';
import { esc, facts, isoTime, micros, num, table } from './report-html.js';
import { channelTimelines, refusalEntries, refusalsTable } from './report-timeline.js';
import { REPORT_CSS } from './report-style.js';

export interface ReportMeta {
  readonly title?: string;
  /** What the views were read from (e.g. the broker log's directory). */
  readonly source: string;
  /** Unix ms. */
  readonly generatedAt: number;
  /** A journal's statistics, when one was read too (`--journal`). */
  readonly journal?: { readonly path: string; readonly stats: JournalStats };
  /** Lines shown under the title (e.g. that times are synthetic). */
  readonly notes?: readonly string[];
  /** The live status page: its panel (trusted HTML, elements with `data-live` paths) and URLs. */
  readonly live?: { readonly panelHtml: string; readonly statusUrl: string; readonly pageUrl: string };
}

const STATIC_CSP = "default-src 'none'; style-src 'unsafe-inline'";
const LIVE_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'";

function summary(views: BrokerViews): string {
  const { stats, clients, timeline } = views;
  const lat = summarizeLatency(stats.latency);
  const replies = [...stats.replies].map(([kind, n]) => `${esc(kind)} ${num(n)}`).join(', ') || '0';
  const gaps = toArray(views.gaps);
  return facts('summary', [
    ['requests', `<span id="total-requests">${num(stats.requests)}</span>`],
    ['awaiting a reply', num(stats.pending.size)],
    ['first request', esc(isoTime(stats.firstAt))],
    ['last request', esc(isoTime(stats.lastAt))],
    ['latency p50 / p90 / p99', `${esc(micros(lat.p50Micros))} / ${esc(micros(lat.p90Micros))} / ${esc(micros(lat.p99Micros))}`],
    ['clients', num(clients.clients.size)],
    ['channels', num(timeline.channels.size)],
    ['policy refusals', num(refusalEntries(timeline).filter((r) => r.entry.what.kind === 'policy-refused').length)],
    ['signer connected / disconnected', `${num(stats.signerConnected)} / ${num(stats.signerDisconnected)}`],
    ...(gaps.length === 0 ? [] : [['gaps (removed records)', `<span class="bad">${gaps.map((g) => `${esc(g.from)}–${esc(g.to - 1n)}`).join(', ')}</span>`] as const]),
  ]) + '<details class="internals"><summary>details</summary>' + facts('summary-details', [
    ['replies by kind', replies],
    ['latency min / mean / max', `${esc(micros(lat.minMicros))} / ${esc(micros(lat.meanMicros))} / ${esc(micros(lat.maxMicros))}`],
    ['error records', num(stats.errorRecords)],
    ['records folded', num(views.nextSeq)],
    ['gaps (removed records)', gaps.length === 0 ? '0' : `<span class="bad">${gaps.length}</span>`],
    ['time stamps before their bucket', num(stats.lateStamps)],
  ]) + '</details>';
}

function byTypeTable(views: BrokerViews): string {
  const rows = typeOrder(views.stats).map((name) => {
    const t = views.stats.byType.get(name)!;
    const l = summarizeLatency(t.latency);
    return [esc(name), num(t.requests), num(t.errors), num(t.policyRefusals), esc(micros(l.p50Micros)), esc(micros(l.p99Micros))];
  });
  return table('by-type', ['message', 'requests', 'errors', 'policy refusals', 'p50', 'p99'], rows);
}

function byClientTable(views: BrokerViews): string {
  const rows = [...views.clients.clients.values()].map((c) => {
    const l = summarizeLatency(c.latency);
    return [`<code>${esc(toHex(c.client.peer))}/${esc(c.client.dbid)}</code>`, esc(permissionNames(c.client.permissions)), num(c.requests), num(c.errors),
      esc(micros(l.p50Micros)), esc(isoTime(c.firstAt)), esc(isoTime(c.lastAt))];
  });
  return table('by-client', ['client (peer / dbid)', 'permissions', 'requests', 'errors', 'p50', 'first', 'last'], rows);
}

function journalSection(journal: NonNullable<ReportMeta['journal']>): string {
  const s = journal.stats;
  return `<section id="journal"><h2>Device journal</h2>${facts('journal', [
    ['file', `<code>${esc(journal.path)}</code>`],
    ['records', num(s.records)],
    ['ids', s.firstId === undefined ? '–' : `${esc(s.firstId)} … ${esc(s.lastId)}`],
    ['events', [...s.events].map(([k, n]) => `${esc(k)} ${num(n)}`).join(', ') || '0'],
    ['replies', [...s.replies].map(([k, n]) => `${esc(k)} ${num(n)}`).join(', ') || '0'],
    ['policy refusals', num(s.policyRefusals)],
  ])}</section>`;
}

/** The report body: what the live page swaps when the views change. */
export function renderReportBody(views: BrokerViews, meta: ReportMeta): string {
  return `<main id="report" data-next-seq="${esc(views.nextSeq)}">` +
    `<section id="summary"><h2>Summary</h2>${summary(views)}</section>` +
    `<section><h2>Requests over time</h2>${requestsOverTimeChart(views.stats)}</section>` +
    `<section><h2>Latency</h2>${latencyHistogramChart(views.stats.latency)}</section>` +
    `<section id="policy-refusals"><h2>Policy refusals and other refusals</h2>${refusalsTable(views.timeline)}</section>` +
    `<section id="channels"><h2>Channels</h2>${channelTimelines(views.timeline)}</section>` +
    `<section><h2>By message type</h2>${byTypeTable(views)}</section>` +
    `<section><h2>By client</h2>${byClientTable(views)}</section>` +
    (meta.journal ? journalSection(meta.journal) : '') +
    '</main>';
}

function liveScript(statusUrl: string, pageUrl: string): string {
  // JSON.stringify, with "<" escaped, keeps the URLs inert inside the script element.
  const js = (s: string): string => JSON.stringify(s).replace(/</g, '\\u003c');
  return `<script>(() => {
  const pick = (o, path) => path.split('.').reduce((v, k) => (v == null ? v : v[k]), o);
  let seq = document.getElementById('report').dataset.nextSeq;
  async function tick() {
    const panel = document.getElementById('live');
    try {
      const s = await (await fetch(${js(statusUrl)}, { cache: 'no-store' })).json();
      for (const el of document.querySelectorAll('[data-live]')) {
        const v = pick(s, el.dataset.live);
        el.textContent = v == null ? '–' : Array.isArray(v) ? v.join(', ') : String(v);
      }
      for (const el of document.querySelectorAll('[data-live-state]')) el.dataset.state = String(pick(s, el.dataset.liveState));
      panel.classList.remove('stale');
      if (s.views && s.views.nextSeq !== seq) {
        const html = await (await fetch(${js(pageUrl)}, { cache: 'no-store' })).text();
        const fresh = new DOMParser().parseFromString(html, 'text/html').getElementById('report');
        if (fresh) { document.getElementById('report').replaceWith(fresh); seq = fresh.dataset.nextSeq; }
      }
    } catch (e) {
      panel.classList.add('stale');
    }
    setTimeout(tick, 1000);
  }
  setTimeout(tick, 1000);
})();</script>`;
}

/** The whole document. */
export function renderReport(views: BrokerViews, meta: ReportMeta): string {
  const title = meta.title ?? 'sphinx-key audit report';
  const notes = (meta.notes ?? []).map((n) => `<p class="note">${esc(n)}</p>`).join('');
  return '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy" content="${meta.live ? LIVE_CSP : STATIC_CSP}">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title><style>${REPORT_CSS}</style></head><body>` +
    `<header><h1>${esc(title)}</h1><p class="meta">From <code>${esc(meta.source)}</code>, generated ${esc(isoTime(meta.generatedAt))}.</p>${notes}</header>` +
    (meta.live ? meta.live.panelHtml : '') +
    renderReportBody(views, meta) +
    (meta.live ? liveScript(meta.live.statusUrl, meta.live.pageUrl) : '') +
    '</body></html>';
}
