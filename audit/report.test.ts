/**
 * The HTML report rendered in headless Chromium: views from a real BrokerLog
 * holding session-basic-l1 (test/session-log.ts; its times and latencies are SYNTHETIC), plus
 * a real policy refusal (the session's second counterparty commitment asked again after the
 * third, refused by the live Signer) and a refusal whose description is hostile markup. Every
 * expected count is derived from the views or the recording, never written down.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { BrokerLog } from '../log/broker-log/broker-log.js';
import type { LogRecord } from '../log/broker-log/record.js';
import { toArray } from '../projections/chain.js';
import { timelineOf } from '../projections/channel-timeline.js';
import { histogramRows } from '../projections/latency-histogram.js';
import { emptyBrokerViews, replayBrokerLog, type BrokerViews } from '../projections/replay.js';
import { toHex } from '../signer/bytes.js';
import { Signer } from '../signer/signer.js';
import { channelKey } from '../signer/state.js';
import { loadInChromium } from '../test/chromium.js';
import { sessionRequests, sessionSignerOptions } from '../test/session-records.js';
import { sessionLog } from '../test/session-log.js';
import { runAudit } from './cli.js';
import { timeSlots } from './report-charts.js';
import { renderReport } from './report.js';

const NAME = 'session-basic-l1.jsonl';
const session = sessionLog(NAME);
const HOSTILE = 'policy-test-markup: <img src="https://evil.example/x.png"><script>fetch("http://evil.example")</script>';
const BUCKET_MS = 2_000;

/** The session's records with a real policy refusal after the third counterparty commitment, and a hostile one at the end. */
function recordsWithRefusals(): { records: LogRecord[]; refusal: string } {
  const requests = sessionRequests(NAME);
  const signs = requests.filter((r) => (r.exchange as { name?: string }).name === 'hsmd_sign_remote_commitment_tx');
  const signer = new Signer(sessionSignerOptions(NAME));
  for (const r of requests.slice(0, requests.indexOf(signs[2]!) + 1)) signer.handle(r.envelope);
  const lastSeq = session.exchanges.at(-1)!.seq;
  const again = { ...signs[1]!.envelope, id: BigInt(lastSeq + 1) };
  const reply = signer.handle(again).reply;
  assert.equal(reply.kind, 'bad-request');
  const refusal = (reply as { description: string }).description;
  assert.match(refusal, /^policy-/);
  const at = session.atOf(signs[2]!.exchange.seq) + 125; // SYNTHETIC, between its neighbours
  const pair = (id: bigint, client: LogRecord & { kind: 'request-received' }, description: string, t: number): LogRecord[] => [
    { ...client, id, at: t },
    { kind: 'reply-received', id, reply: { kind: 'bad-request', description }, latencyMicros: 300 },
  ];
  const records = [...session.records];
  const template = records.find((r) => r.kind === 'request-received' && r.id === BigInt(signs[1]!.exchange.seq)) as LogRecord & { kind: 'request-received' };
  const after = records.findIndex((r) => r.kind === 'reply-received' && r.id === BigInt(signs[2]!.exchange.seq)) + 1;
  records.splice(after, 0, ...pair(again.id, template, refusal, at));
  records.push(...pair(again.id + 1n, template, HOSTILE, session.atOf(lastSeq) + 250));
  return { records, refusal };
}

async function viewsOfLog(records: LogRecord[]): Promise<BrokerViews> {
  const dir = mkdtempSync(join(tmpdir(), 'report-log-'));
  const log = await BrokerLog.open(dir);
  try {
    for (const r of records) await log.append(r);
    return await replayBrokerLog(log.read(), emptyBrokerViews(BUCKET_MS));
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The opening tags of `tag` with `attr`="value" inside the element whose opening tag matches `container`. */
const elementsIn = (dom: string, container: RegExp, tag: string): string[] => {
  const start = dom.search(container);
  assert.ok(start >= 0, `no ${container} in the DOM`);
  const end = dom.indexOf('</svg>', start);
  return [...dom.slice(start, end).matchAll(new RegExp(`<${tag}\\b[^>]*>`, 'g'))].map((m) => m[0]);
};
const attr = (tag: string, name: string): string => tag.match(new RegExp(`${name}="([^"]*)"`))![1]!;

test('report: rendered in headless Chromium, the charts, the channel timeline and the refusals show what the log holds; nothing is fetched', async () => {
  const { records, refusal } = recordsWithRefusals();
  const views = await viewsOfLog(records);
  const html = renderReport(views, { source: 'session-basic-l1 in a temporary broker log', generatedAt: session.atOf(0), notes: ['Times and latencies are synthetic (the recording has none).'] });
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?\s*(https?:)?\/\//i, 'no external src/href');
  assert.doesNotMatch(html, /<script|<img|<link|@import|url\(/i, 'a static report has no script, image, stylesheet link or url()');

  const dir = mkdtempSync(join(tmpdir(), 'report-'));
  try {
    const file = join(dir, 'report.html');
    writeFileSync(file, html);
    const shot = join(dir, 'report.png');
    const { dom, requested } = loadInChromium(file, { dumpDom: true });
    assert.deepEqual(requested, [], 'the page requested nothing');

    // Requests over time: one bar per (slot, type) with requests, their counts adding up to every request.
    const { slots } = timeSlots(views.stats);
    assert.equal(slots.length, toArray(views.stats.overTime).length, `${BUCKET_MS} ms buckets need no merging`);
    const bars = elementsIn(dom, /<svg[^>]*id="requests-over-time"/, 'rect');
    assert.equal(bars.length, slots.reduce((n, s) => n + s.byType.size, 0));
    assert.ok(bars.length > slots.length, 'bars are stacked by type');
    assert.equal(bars.reduce((n, b) => n + Number(attr(b, 'data-count')), 0), session.exchanges.length + 2);
    assert.equal(new Set(bars.map((b) => attr(b, 'data-type'))).size, views.stats.byType.size);

    // Latency histogram: one bar per non-empty bucket.
    const rows = histogramRows(views.stats.latency);
    const hist = elementsIn(dom, /<svg[^>]*id="latency-histogram"/, 'rect');
    assert.equal(hist.length, rows.length);
    assert.deepEqual(hist.map((b) => Number(attr(b, 'data-count'))), rows.map((r) => r.count));

    // The recorded channel's timeline: one mark per entry, set-up first, the real policy refusal on it.
    const ex = session.exchanges.find((e) => e.dbid !== 0)!;
    const key = channelKey({ peer: Buffer.from(ex.peer!, 'hex'), dbid: BigInt(ex.dbid) });
    assert.equal(views.timeline.channels.size, 1);
    const entries = timelineOf(views.timeline, views.timeline.channels.get(key)!.ref);
    const marks = elementsIn(dom, new RegExp(`<svg[^>]*class="channel-timeline"[^>]*data-channel="${key}"`), 'circle');
    assert.equal(marks.length, entries.length);
    assert.deepEqual(marks.map((m) => attr(m, 'data-kind')), entries.map((e) => e.what.kind));
    assert.deepEqual(marks.slice(0, 2).map((m) => attr(m, 'data-kind')), ['created', 'set-up']);
    assert.ok(marks.some((m) => attr(m, 'data-kind') === 'forgotten') && marks.some((m) => attr(m, 'data-kind') === 'policy-refused'));

    // Refusals table: both refusals, the hostile one as text only.
    const table = dom.slice(dom.indexOf('<table class="refusals"'), dom.indexOf('</table>', dom.indexOf('<table class="refusals"')));
    assert.equal((table.match(/<tr>/g) ?? []).length, 1 + 2);
    assert.ok(table.includes(refusal.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')), 'the real refusal is listed');
    assert.ok(table.includes('&lt;script&gt;fetch('), 'the hostile description shows as text');
    assert.doesNotMatch(dom, /<script|<img/i, 'no element came out of a log string');
    assert.ok(dom.includes(toHex(Buffer.from(ex.peer!, 'hex'))));

    // A screenshot renders (looked at by hand once: docs in the commit message).
    loadInChromium(file, { screenshot: shot, windowSize: '1000,2600' });
    assert.ok(statSync(shot).size > 20_000, 'the screenshot has content');
    if (process.env.REPORT_SCREENSHOT) writeFileSync(process.env.REPORT_SCREENSHOT, readFileSync(shot));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sphinx-audit report --log DIR --out FILE writes the report of the broker log', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'report-cli-'));
  try {
    const log = await BrokerLog.open(join(dataDir, 'broker-log'));
    for (const r of session.records) await log.append(r);
    await log.close();
    const out = join(dataDir, 'report.html');
    let stdout = '';
    const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: () => true }, env: {} };
    assert.equal(await runAudit(['report', '--log', dataDir, '--out', out, '--json'], io), 0);
    const facts = JSON.parse(stdout);
    assert.deepEqual(facts, { out, requests: session.exchanges.length, channels: 1, records: String(session.records.length) });
    const html = readFileSync(out, 'utf8');
    assert.match(html, new RegExp(`<span id="total-requests">${session.exchanges.length}</span>`));
    assert.match(html, /<svg id="requests-over-time"[\s\S]*<svg id="latency-histogram"[\s\S]*class="channel-timeline"/);
    assert.equal(await runAudit(['report', '--log', dataDir], io), 2, '--out is required');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
