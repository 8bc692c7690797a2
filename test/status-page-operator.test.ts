/**
 * The status page as the operator sees it, in headless Chromium, from a real bin/sphinx-hsmd
 * (remote signer, embedded MQTT server) under the simulated lightningd:
 * - no device: a red banner saying lightningd's request waits, with the sphinx-signer command
 *   to run (this broker's MQTT address and broker id in it);
 * - live (a device process answered a replay): a green banner, the device's id, its firmware
 *   and when it was last heard from;
 * - a device connected but stuck (SIGSTOP) with lightningd's request waiting: an amber banner
 *   saying how long it waited, on which device, with the command to restart it; once the
 *   device goes on (SIGCONT) the request gets its recorded reply.
 * The screenshots are read back (test/png.ts): the banner's colour is on the screen.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { loadInChromium } from './chromium.js';
import { deviceIdOf } from './device-driver.js';
import { fixturePath, repoRoot } from './fixtures.js';
import { countColour, readPng } from './png.js';
import { freePort, journalById, startDeviceProcess } from './remote-helpers.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { WAIT_WARN_MS } from '../broker/status-panel.js';
import { loadTranscript } from './transcript.js';

const PATH = fixturePath('transcripts/hsmd-basic-legacy.jsonl');
const { header, exchanges } = loadTranscript(PATH);
const SECRET = Buffer.from(header.hsm_secret, 'hex');
/** The banner colours of audit/report-style.ts. */
const RED = [0xc6, 0x28, 0x28] as const;
const GREEN = [0x2e, 0x7d, 0x32] as const;
const AMBER = [0xe0, 0x8a, 0x00] as const;
/** Most of a 968 × ~40-90 px banner, which sits under the title (rows 60-240 of a 1000 px wide window). */
const BANNER_PIXELS = 25_000;
const BANNER_ROWS = [60, 240] as const;

async function brokerUnderTest(dataDir: string, mqttPort: number, httpPort: number): Promise<SimLightningd> {
  return SimLightningd.start({
    hsmSecret: SECRET,
    args: header.hsmd_args,
    env: { SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: dataDir, SPHINX_MQTT_PORT: String(mqttPort), SPHINX_CLN_VERSION: header.cln_version, SPHINX_HTTP_PORT: String(httpPort) },
  });
}

/** The page's DOM after its script polled, and its screenshot (copied to $STATUS_SCREENSHOT_DIR/<name>.png if set, to look at). */
function screenshot(url: string, dir: string, name: string): { dom: string; png: ReturnType<typeof readPng> } {
  const shot = join(dir, `${name}.png`);
  const { dom } = loadInChromium(url, { dumpDom: true, virtualTimeMs: 1500 });
  loadInChromium(url, { screenshot: shot, windowSize: '1000,900', virtualTimeMs: 1500 });
  if (process.env.STATUS_SCREENSHOT_DIR) copyFileSync(shot, join(process.env.STATUS_SCREENSHOT_DIR, `${name}.png`));
  return { dom, png: readPng(shot) };
}

test('status page, no device: a red banner with the sphinx-signer command to run (MQTT address, broker id)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-status-nodevice-'));
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const ld = await brokerUnderTest(join(dir, 'sphinx'), mqttPort, httpPort);
  try {
    ld.master.send(exchanges[0]!.req); // lightningd's init: the signer starts, the request waits for a device
    await ld.waitForStatus((m) => m.kind === 'log' && m.entry.startsWith(`status page on http://127.0.0.1:${httpPort}/`));
    const brokerId = readFileSync(join(dir, 'sphinx', 'broker-id'), 'utf8').trim();
    const status = await (await fetch(`http://127.0.0.1:${httpPort}/api/status`)).json() as any;
    assert.equal(status.devices.connected, 0);
    assert.equal(status.requests.outstanding, 1);
    assert.equal(status.attention.level, 'bad');
    assert.match(status.attention.text, /^No signing device is connected: 1 request from lightningd waits until one is\./);
    const command = `sphinx-signer --mqtt mqtt://127.0.0.1:${mqttPort} --data DIR --broker-id ${brokerId}`;
    assert.ok(status.attention.command.startsWith(command), status.attention.command);
    assert.equal(status.broker.id, brokerId);
    assert.deepEqual(status.broker.mqtt, [`mqtt://127.0.0.1:${mqttPort}`]);

    const { dom, png } = screenshot(`http://127.0.0.1:${httpPort}/`, dir, 'status-no-device');
    assert.match(dom, /<div id="attention" class="banner" data-state="bad"/);
    assert.ok(dom.includes(`<code data-live="attention.command">${command}`), 'the command, as the page shows it after polling');
    assert.match(dom, /<details id="live-details"><summary>details<\/summary>/, 'internals folded');
    assert.ok(countColour(png, RED, BANNER_ROWS) > BANNER_PIXELS, `a red banner on the screen (${countColour(png, RED, BANNER_ROWS)} red pixels)`);
    assert.equal(countColour(png, GREEN, BANNER_ROWS), 0, 'nothing green');
  } finally {
    ld.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('status page, live: a green banner, the device id, its firmware and when it was last heard from', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-status-live-'));
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const device = startDeviceProcess({ url: `mqtt://127.0.0.1:${mqttPort}`, brokerIdFile: join(dir, 'sphinx', 'broker-id'), hsmSecret: SECRET });
  const ld = await brokerUnderTest(join(dir, 'sphinx'), mqttPort, httpPort);
  try {
    const started = Date.now();
    assert.equal(ld.replay(PATH).failed, 0, ld.describeStatus());
    const replayed = Date.now();
    await ld.waitForStatus((m) => m.kind === 'log' && m.entry.startsWith(`status page on http://127.0.0.1:${httpPort}/`));
    const status = await (await fetch(`http://127.0.0.1:${httpPort}/api/status`)).json() as any;
    const deviceId = deviceIdOf(SECRET);
    assert.equal(status.attention.level, 'ok');
    assert.equal(status.attention.text, `Signing: device ${deviceId} connected.`);
    assert.equal(status.device.id, deviceId);
    assert.ok(status.device.lastSeenAt >= started && status.device.lastSeenAt <= replayed, `last seen ${status.device.lastSeenAt} within the replay ${started}..${replayed}`);
    const firmware = `sphinx-signer/${JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version} (node ${process.version})`;
    assert.equal(status.device.firmware, firmware, 'what its hello said');
    // The device journals before it replies, and it answered every request: its position and
    // the broker log's answered id are the last id in its journal on disk.
    const lastId = String([...journalById(device.dir).keys()].at(-1));
    assert.equal(status.device.answeredUpTo, lastId, 'the broker log answered every request');
    assert.equal(status.device.journaledUpTo, lastId, 'the device journaled every one');

    const { dom, png } = screenshot(`http://127.0.0.1:${httpPort}/`, dir, 'status-live');
    assert.match(dom, /<div id="attention" class="banner" data-state="ok"/);
    assert.ok(dom.includes(`<dd data-live="device.id">${deviceId}</dd>`), 'the device id');
    assert.match(dom, /<dd data-live="device.lastSeen">\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \([\d,]+ ms ago\)<\/dd>/, 'when it was last heard from');
    assert.ok(dom.includes(`<dd data-live="device.firmware">${firmware}</dd>`), 'its firmware');
    assert.ok(dom.includes(`<dd data-live="device.journaledUpTo">${lastId}</dd>`), 'its journal position');
    assert.ok(countColour(png, GREEN, BANNER_ROWS) > BANNER_PIXELS, `a green banner on the screen (${countColour(png, GREEN, BANNER_ROWS)} green pixels)`);
    assert.equal(countColour(png, RED, BANNER_ROWS), 0, 'nothing red');
  } finally {
    ld.cleanup();
    await device.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('status page, a request waiting on a connected device: an amber banner with how long, on which device, and the command', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-status-waiting-'));
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const device = startDeviceProcess({ url: `mqtt://127.0.0.1:${mqttPort}`, brokerIdFile: join(dir, 'sphinx', 'broker-id'), hsmSecret: SECRET });
  const ld = await brokerUnderTest(join(dir, 'sphinx'), mqttPort, httpPort);
  let stopped = false;
  try {
    const [init, next] = [exchanges[0]!, exchanges[1]!];
    assert.equal(Buffer.from(ld.master.request(init.req)).toString('hex'), init.rep, 'the device answered init');
    await ld.waitForStatus((m) => m.kind === 'log' && m.entry.startsWith(`status page on http://127.0.0.1:${httpPort}/`));
    // The device stops answering, its connection open (as a stuck device's): lightningd's next request waits.
    process.kill(device.child.pid!, 'SIGSTOP');
    stopped = true;
    ld.master.send(next.req);
    let status: any;
    for (let i = 0; i < 100 && !(status?.requests.waitingMs > WAIT_WARN_MS); i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await (await fetch(`http://127.0.0.1:${httpPort}/api/status`)).json();
    }
    const deviceId = deviceIdOf(SECRET);
    assert.equal(status.devices.connected, 1, 'the device is still connected');
    assert.equal(status.requests.outstanding, 1);
    assert.equal(status.attention.level, 'warn');
    assert.match(status.attention.text, new RegExp(`^1 request from lightningd waiting, the oldest for [\\d,]+ ms, on device ${deviceId}\\. Look at its log; if it is stuck, restart it:$`));
    const brokerId = readFileSync(join(dir, 'sphinx', 'broker-id'), 'utf8').trim();
    const command = `sphinx-signer --mqtt mqtt://127.0.0.1:${mqttPort} --data DIR --broker-id ${brokerId}`;
    assert.ok(status.attention.command.startsWith(command), status.attention.command);

    const { dom, png } = screenshot(`http://127.0.0.1:${httpPort}/`, dir, 'status-waiting');
    assert.match(dom, /<div id="attention" class="banner" data-state="warn"/);
    assert.match(dom, new RegExp(`<b data-live="attention.text">1 request from lightningd waiting, the oldest for [\\d,]+ ms, on device ${deviceId}\\.`));
    assert.ok(dom.includes(`<code data-live="attention.command">${command}`), 'the command, as the page shows it after polling');
    assert.ok(countColour(png, AMBER, BANNER_ROWS) > BANNER_PIXELS, `an amber banner on the screen (${countColour(png, AMBER, BANNER_ROWS)} amber pixels)`);
    assert.equal(countColour(png, RED, BANNER_ROWS), 0, 'nothing red');
    assert.equal(countColour(png, GREEN, BANNER_ROWS), 0, 'nothing green');

    process.kill(device.child.pid!, 'SIGCONT');
    stopped = false;
    assert.equal(Buffer.from(ld.master.receive(30_000)).toString('hex'), next.rep, 'the waiting request gets its recorded reply');
  } finally {
    if (stopped) process.kill(device.child.pid!, 'SIGCONT');
    ld.cleanup();
    await device.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
