/**
 * What the operator sees in lightningd's log, through a real bin/sphinx-hsmd under the
 * simulated lightningd:
 * - two brokers with the default status page settings on one machine (every regtest setup):
 *   both serve a page, on different ports, each written to SPHINX_DATA_DIR/status-url, and
 *   neither logs at BROKEN (CLN's test framework fails a run on any BROKEN line);
 * - a wrong setting is a status_fail after status_version (it lands in lightningd's log),
 *   exit 242 as CLN's status_failed;
 * - the MQTT port taken: a status_fail that names SPHINX_MQTT_PORT and SPHINX_MQTT_URL;
 * - a device started with another broker id: the broker's refusal names its own id and the
 *   likely mistake, the device's line names the id it signed over.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { LOG_LEVELS } from '../broker/status-wire.js';
import { fixturePath } from './fixtures.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { freePort, startDeviceProcess } from './remote-helpers.js';
import { loadTranscript } from './transcript.js';

const PATH = fixturePath('transcripts/hsmd-basic-legacy.jsonl');
const { header, exchanges } = loadTranscript(PATH);
const EXIT_STATUS_FAIL = 242;

const start = (env: Record<string, string | undefined>): Promise<SimLightningd> =>
  SimLightningd.start({ hsmSecret: Buffer.from(header.hsm_secret, 'hex'), args: header.hsmd_args, env: { SPHINX_CLN_VERSION: header.cln_version, ...env } });

const brokenLines = (ld: SimLightningd): string[] =>
  ld.statusMessages.flatMap((m) => (m.kind === 'log' && m.level === LOG_LEVELS.broken ? [m.entry] : m.kind === 'fail' ? [`fail: ${m.desc}`] : []));

test('two brokers with the default status page settings on one machine: both serve a page, no BROKEN line', async () => {
  // Default settings but the signer: two remote brokers also need an MQTT port each (see the test below).
  const nodes = [await start({ SPHINX_SIGNER: 'local', SPHINX_HTTP_PORT: undefined }), await start({ SPHINX_SIGNER: 'local', SPHINX_HTTP_PORT: undefined })];
  try {
    for (const ld of nodes) assert.equal(ld.replay(PATH).failed, 0, ld.describeStatus());
    const urls: string[] = [];
    for (const ld of nodes) {
      const line = await ld.waitForStatus((m) => m.kind === 'log' && m.entry.startsWith('status page on '));
      const url = readFileSync(join(ld.dir, 'sphinx', 'status-url'), 'utf8').trim();
      assert.ok(line.kind === 'log' && line.entry.startsWith(`status page on ${url} `), `the log names ${url}`);
      const status = (await (await fetch(`${url}api/status`)).json()) as { mode: string };
      assert.equal(status.mode, 'local');
      urls.push(url);
    }
    assert.notEqual(urls[0], urls[1]);
    // Whichever came second (or both, if something else holds 8735) says why and what to set.
    const gaveWay = nodes.flatMap((ld) => ld.statusMessages).filter((m) => m.kind === 'log' && /127\.0\.0\.1:8735 is in use .*set SPHINX_HTTP_PORT/.test(m.entry));
    assert.ok(gaveWay.length >= 1, nodes.map((ld) => ld.describeStatus()).join('\n---\n'));
    for (const ld of nodes) assert.equal((await ld.stop()).code, 2);
    for (const ld of nodes) assert.deepEqual(brokenLines(ld), [], ld.describeStatus());
  } finally {
    for (const ld of nodes) ld.cleanup();
  }
});

test('a wrong setting: status_version, then status_fail naming the setting and what is accepted, exit 242', async () => {
  const ld = await start({ SPHINX_SIGNER: 'local', SPHINX_POLICY_WARN_ONLY: 'policy-nope' });
  try {
    assert.equal((await ld.exited()).code, EXIT_STATUS_FAIL);
    const [version, fail] = ld.statusMessages;
    assert.deepEqual(version, { kind: 'version', version: header.cln_version });
    assert.equal(fail?.kind, 'fail');
    assert.ok(fail?.kind === 'fail');
    assert.match(fail.desc, /SPHINX_POLICY_WARN_ONLY: unknown policy "policy-nope"; known: policy-/);
    assert.match(fail.desc, /sphinx\.conf; sphinx-hsmd --help lists them/);
    assert.match(ld.output, /SPHINX_POLICY_WARN_ONLY: unknown policy "policy-nope"/, 'on stderr as well');
  } finally {
    ld.cleanup();
  }
});

test('the MQTT port taken: status_fail suggesting SPHINX_MQTT_PORT or SPHINX_MQTT_URL', async () => {
  const squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
  const { port } = squatter.address() as net.AddressInfo;
  const ld = await start({ SPHINX_SIGNER: 'remote', SPHINX_MQTT_PORT: String(port) });
  try {
    ld.replay(PATH); // init opens the signer, which fails; the rest goes unanswered
    const fail = await ld.waitForStatus((m) => m.kind === 'fail');
    assert.ok(fail.kind === 'fail');
    assert.match(fail.desc, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use .*Set SPHINX_MQTT_PORT to a free port .*or SPHINX_MQTT_URL=mqtt://127\\.0\\.0\\.1:${port}`));
    assert.equal((await ld.exited()).code, EXIT_STATUS_FAIL);
  } finally {
    ld.cleanup();
    squatter.close();
  }
});

test('a device started with another broker id: both sides name the broker ids and the likely mistake', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-wrong-id-'));
  const wrongId = 'f'.repeat(32);
  writeFileSync(join(dir, 'wrong-broker-id'), wrongId);
  const port = await freePort();
  const device = startDeviceProcess({ url: `mqtt://127.0.0.1:${port}`, brokerIdFile: join(dir, 'wrong-broker-id'), hsmSecret: Buffer.from(header.hsm_secret, 'hex') });
  const ld = await start({ SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: join(dir, 'sphinx'), SPHINX_MQTT_PORT: String(port) });
  try {
    ld.master.send(exchanges[0]!.req); // init: the signer starts; its reply waits for a device
    const refused = await ld.waitForStatus((m) => m.kind === 'log' && /MQTT: refused connection/.test(m.entry), 20_000);
    const brokerId = readFileSync(join(dir, 'sphinx', 'broker-id'), 'utf8').trim();
    assert.ok(refused.kind === 'log' && refused.level === LOG_LEVELS.unusual);
    assert.match(refused.entry, new RegExp(`bad signature: not signed over this broker's id ${brokerId}; most likely the device was started with another --broker-id \\(it must be ${brokerId}\\); device clock [\\d.]+ s (ahead of|behind) this broker's`));
    assert.match(await device.outputMatching(/refused this device's token/, 10_000), new RegExp(`cannot reach the MQTT server mqtt://127\\.0\\.0\\.1:${port} \\(.*\\): it refused this device's token, signed over broker id ${wrongId} at .*Check that the broker id is the one sphinx-hsmd prints`));
  } finally {
    ld.cleanup();
    await device.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
