/**
 * The broker's status page in a real bin/sphinx-hsmd under the simulated
 * lightningd, SPHINX_HTTP_PORT set to a free port:
 * - remote signer (embedded MQTT server, a device process): after replaying session-basic-l1,
 *   /api/status, /api/views and / agree with the broker log the broker wrote (read back after
 *   it stopped): record count, requests, recent p50/p99 recomputed exactly, the views equal;
 *   the live page, loaded in headless Chromium, fills its panel from /api/status;
 * - local signer: no broker log; the views count the requests that reached the signer;
 * - a port set and in use: UNUSUAL with what to set, and the broker serves lightningd all the same.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { toJsonValue } from '../audit/views-json.js';
import { RECENT_REPLIES, nearestRank } from '../broker/status-views.js';
import { replayBrokerLog } from '../projections/replay.js';
import { fixturePath } from './fixtures.js';
import { freePort, readBrokerLog, startDeviceProcess } from './remote-helpers.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { loadTranscript } from './transcript.js';
import { loadInChromium } from './chromium.js';

const NAME = 'session-basic-l1.jsonl';
const PATH = fixturePath(`transcripts/${NAME}`);
const { header, exchanges } = loadTranscript(PATH);
const CLIENT_HSMFD = 9;

const get = async (port: number, path: string): Promise<Response> => fetch(`http://127.0.0.1:${port}${path}`);
const json = async (port: number, path: string): Promise<any> => (await get(port, path)).json();

/** Waits until the views have folded every record the log holds (delivery follows durability). */
async function settled(port: number): Promise<any> {
  for (let i = 0; i < 100; i++) {
    const s = await json(port, '/api/status');
    if (s.log.records === null || s.views.nextSeq === s.log.records) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the status page views never caught up with the log');
}

test('status page, remote signer: /api/status, /api/views and / match the broker log of the replay', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sphinx-status-'));
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const device = startDeviceProcess({ url: `mqtt://127.0.0.1:${mqttPort}`, dir: join(dataDir, 'device'), brokerIdFile: join(dataDir, 'broker-id'), hsmSecret: Buffer.from(header.hsm_secret, 'hex') });
  const ld = await SimLightningd.start({
    hsmSecret: Buffer.from(header.hsm_secret, 'hex'),
    args: header.hsmd_args,
    env: { SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: dataDir, SPHINX_MQTT_PORT: String(mqttPort), SPHINX_CLN_VERSION: header.cln_version, SPHINX_HTTP_PORT: String(httpPort) },
  });
  try {
    const result = ld.replay(PATH);
    assert.equal(result.failed, 0, ld.describeStatus());
    await ld.waitForStatus((m) => m.kind === 'log' && m.entry.startsWith(`status page on http://127.0.0.1:${httpPort}/`));
    const status = await settled(httpPort);
    const views = await json(httpPort, '/api/views');
    const page = await get(httpPort, '/');
    const html = await page.text();
    const live = loadInChromium(`http://127.0.0.1:${httpPort}/`, { dumpDom: true, virtualTimeMs: 3000 });
    const rendered = live.dom;
    // fetch() will not set Host; node:http will.
    const misdirected = await new Promise<number>((resolve, reject) =>
      http.get({ host: '127.0.0.1', port: httpPort, path: '/api/status', headers: { host: 'attacker.example' } }, (res) => (res.resume(), resolve(res.statusCode!))).on('error', reject));
    const posted = await fetch(`http://127.0.0.1:${httpPort}/api/status`, { method: 'POST' });
    assert.equal((await ld.stop()).code, 2);

    const records = (await readBrokerLog(dataDir)).slice(0, Number(status.log.records));
    const expected = await replayBrokerLog(records);
    assert.equal(status.mode, 'remote');
    assert.equal(status.devices.connected, 1);
    assert.equal(status.requests.outstanding, 0);
    assert.equal(status.requests.atDevices, 0);
    assert.equal(status.requests.total, expected.stats.requests);
    assert.equal(status.requests.total, exchanges.filter((ex) => parseInt(ex.req.slice(0, 4), 16) !== CLIENT_HSMFD).length, 'every request of the replay (the broker answers client_hsmfd itself)');
    const latencies = records.flatMap(({ record }) => (record.kind === 'reply-received' ? [record.latencyMicros] : [])).slice(-RECENT_REPLIES);
    const [p50, p99] = [nearestRank(latencies, 0.5)!, nearestRank(latencies, 0.99)!];
    assert.deepEqual(status.latency.recent, { replies: latencies.length, p50Micros: p50, p99Micros: p99, p50Ms: p50 / 1000, p99Ms: p99 / 1000 });
    assert.ok(status.log.bytes > 0 && status.uptimeSeconds >= 0);
    assert.deepEqual(views, toJsonValue(expected), '/api/views is the views of the broker log');

    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(html, /<svg id="requests-over-time"/);
    assert.match(html, new RegExp(`<span id="total-requests">${expected.stats.requests}</span>`));
    const channel = [...expected.timeline.channels.keys()];
    assert.equal(channel.length, 1);
    assert.ok(html.includes(`class="channel-timeline" data-channel="${channel[0]}"`));
    // In Chromium the page's script polled /api/status and filled the panel with its numbers.
    assert.match(rendered, /<section id="live" class="facts-live">/);
    assert.match(rendered, new RegExp(`data-live="log.records">${status.log.records}<`));
    assert.match(rendered, /data-live="devices.connected">1</);
    assert.doesNotMatch(rendered, /id="live" class="facts-live stale"/);
    assert.ok(live.requested.includes(`http://127.0.0.1:${httpPort}/api/status`), 'it polled /api/status');
    assert.ok(live.requested.every((u) => u.startsWith(`http://127.0.0.1:${httpPort}/`)), `nothing else: ${live.requested.join(', ')}`);
    assert.equal(misdirected, 421, 'a Host that is not loopback is refused (DNS rebinding)');
    assert.equal(posted.status, 405);
  } finally {
    await ld.stop().catch(() => undefined);
    ld.cleanup();
    await device.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('status page, local signer: the requests that reached the in-process signer, no broker log', async () => {
  const httpPort = await freePort();
  const ld = await SimLightningd.start({ hsmSecret: Buffer.from(header.hsm_secret, 'hex'), args: header.hsmd_args, env: { SPHINX_SIGNER: 'local', SPHINX_CLN_VERSION: header.cln_version, SPHINX_HTTP_PORT: String(httpPort) } });
  try {
    assert.equal(ld.replay(PATH).failed, 0);
    await ld.waitForStatus((m) => m.kind === 'log' && m.entry.startsWith('status page on'));
    const status = await json(httpPort, '/api/status');
    assert.equal(status.mode, 'local');
    assert.deepEqual(status.log, { records: null, bytes: null });
    assert.equal(status.devices.connected, null);
    const n = exchanges.filter((ex) => parseInt(ex.req.slice(0, 4), 16) !== CLIENT_HSMFD).length;
    assert.equal(status.requests.total, n);
    assert.equal(status.latency.recent.replies, n);
    assert.equal(status.requests.outstanding, 0);
  } finally {
    await ld.stop();
    ld.cleanup();
  }
});

test('status page: a port the operator set, in use, is UNUSUAL (not BROKEN), says what to set, and the broker serves lightningd all the same', async () => {
  const squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
  const { port } = squatter.address() as net.AddressInfo;
  try {
    const result = await SimLightningd.replayTranscript(PATH, { env: { SPHINX_SIGNER: 'local', SPHINX_CLN_VERSION: header.cln_version, SPHINX_HTTP_PORT: String(port) } });
    assert.equal(result.failed, 0);
    assert.equal(result.exit.code, 2);
    assert.match(result.status, new RegExp(`log\\(5\\) status page: cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\)`));
  } finally {
    squatter.close();
  }
});
