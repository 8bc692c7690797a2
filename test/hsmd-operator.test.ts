/**
 * What the operator sees in lightningd's log, through a real bin/sphinx-hsmd under the
 * simulated lightningd:
 * - two brokers with default settings on one machine (every regtest setup): both listen for
 *   devices and serve a page, on different ports, each written to SPHINX_DATA_DIR/mqtt-url and
 *   status-url, the second saying which port it took and what to set, neither logs at BROKEN
 *   (CLN's test framework fails a run on any BROKEN line), and a device on the second's written
 *   URL signs the recorded session byte for byte;
 * - a wrong setting is a status_fail after status_version (it lands in lightningd's log),
 *   exit 242 as CLN's status_failed; a misspelled one names the setting meant (in the
 *   environment, shared with other programs, it is an UNUSUAL line in that log instead);
 * - the MQTT port taken: a status_fail that names SPHINX_MQTT_PORT and SPHINX_MQTT_URL;
 * - two nodes restarted in the other order: each keeps its MQTT and status page ports; and
 *   lightningd gone while init waits for a device: hsmd exits 2 (master_gone), not left behind;
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
import { MQTT_URL_FILE } from '../broker/remote/mqtt-server.js';
import { type DeviceProcess, freePort, startDeviceProcess } from './remote-helpers.js';
import { loadTranscript, replayExchanges } from './transcript.js';

const PATH = fixturePath('transcripts/hsmd-basic-legacy.jsonl');
const { header, exchanges } = loadTranscript(PATH);
const EXIT_STATUS_FAIL = 242;

const start = (env: Record<string, string | undefined>): Promise<SimLightningd> =>
  SimLightningd.start({ hsmSecret: Buffer.from(header.hsm_secret, 'hex'), args: header.hsmd_args, env: { SPHINX_CLN_VERSION: header.cln_version, ...env } });

const brokenLines = (ld: SimLightningd): string[] =>
  ld.statusMessages.flatMap((m) => (m.kind === 'log' && m.level === LOG_LEVELS.broken ? [m.entry] : m.kind === 'fail' ? [`fail: ${m.desc}`] : []));

test('two brokers with default settings on one machine: both listen (MQTT, status page), no BROKEN line; a device on the second signs', async () => {
  // Default settings: remote signer, MQTT on 127.0.0.1:1883, status page on 127.0.0.1:8735.
  const env = { SPHINX_HTTP_PORT: undefined, SPHINX_SIGNER: undefined, SPHINX_MQTT_PORT: undefined, SPHINX_MQTT_TLS_PORT: undefined };
  const nodes: SimLightningd[] = [];
  let device: DeviceProcess | undefined;
  try {
    const mqtt: string[] = [];
    for (let i = 0; i < 2; i++) {
      const ld = await start(env);
      nodes.push(ld);
      ld.master.send(exchanges[0]!.req); // lightningd's init: the signer opens its listeners, the request waits for a device
      await ld.waitForStatus((m) => m.kind === 'log' && m.entry.startsWith('MQTT: embedded server on '), 20_000);
      const urls = readFileSync(join(ld.dir, 'sphinx', MQTT_URL_FILE), 'utf8').trim().split('\n');
      assert.equal(urls.length, 1, 'no TLS listener by default');
      const line = ld.statusMessages.find((m) => m.kind === 'log' && m.entry.startsWith('MQTT: embedded server on '));
      assert.ok(line?.kind === 'log' && line.entry.startsWith(`MQTT: embedded server on ${urls[0]!.replace('mqtt://', '')},`), `the log names ${urls[0]}`);
      mqtt.push(urls[0]!);
    }
    assert.notEqual(mqtt[0], mqtt[1]);
    // Whichever came second (or both, if something else holds 1883) says which port it took and what to set.
    for (const [i, ld] of nodes.entries()) {
      if (mqtt[i] === 'mqtt://127.0.0.1:1883') continue;
      const gaveWay = ld.statusMessages.find((m) => m.kind === 'log' && m.entry.startsWith('MQTT: 127.0.0.1:1883 is in use'));
      assert.ok(gaveWay?.kind === 'log', ld.describeStatus());
      assert.equal(gaveWay.level, LOG_LEVELS.unusual);
      assert.match(gaveWay.entry, new RegExp(`listens on ${mqtt[i]!.replace('mqtt://', '').replace(/[.]/g, '\\.')} instead: .*Set SPHINX_MQTT_PORT to a free port for a fixed one, or SPHINX_MQTT_URL=mqtt://127\\.0\\.0\\.1:1883 to use the server already there`));
    }

    // The status page of each: on a port of its own, naming its MQTT address in the command it suggests.
    const pages: string[] = [];
    for (const [i, ld] of nodes.entries()) {
      const line = await ld.waitForStatus((m) => m.kind === 'log' && m.entry.startsWith('status page on '));
      const url = readFileSync(join(ld.dir, 'sphinx', 'status-url'), 'utf8').trim();
      assert.ok(line.kind === 'log' && line.entry.startsWith(`status page on ${url} `), `the log names ${url}`);
      const status = (await (await fetch(`${url}api/status`)).json()) as { mode: string; broker: { mqtt: string[] }; attention: { command: string } };
      assert.equal(status.mode, 'remote');
      assert.deepEqual(status.broker.mqtt, [mqtt[i]]);
      if (i === 0) assert.ok(status.attention.command.startsWith(`sphinx-signer --mqtt ${mqtt[0]} --data DIR --broker-id `), status.attention.command);
      pages.push(url);
    }
    assert.notEqual(pages[0], pages[1]);
    const pageGaveWay = nodes.flatMap((ld) => ld.statusMessages).filter((m) => m.kind === 'log' && /127\.0\.0\.1:8735 is in use .*set SPHINX_HTTP_PORT/.test(m.entry));
    assert.ok(pageGaveWay.length >= 1, nodes.map((ld) => ld.describeStatus()).join('\n---\n'));

    // A device started on the second's written URL: the session replays byte for byte.
    const second = nodes[1]!;
    device = startDeviceProcess({ url: mqtt[1]!, brokerIdFile: join(second.dir, 'sphinx', 'broker-id'), hsmSecret: Buffer.from(header.hsm_secret, 'hex') });
    assert.equal(Buffer.from(second.master.receive(30_000)).toString('hex'), exchanges[0]!.rep, 'init reply');
    const rest = replayExchanges(second, exchanges.slice(1));
    assert.equal(rest.failed, 0, JSON.stringify(rest.mismatches.slice(0, 3)));
    for (const ld of nodes) await ld.stop();
    for (const ld of nodes) assert.deepEqual(brokenLines(ld), [], ld.describeStatus());
  } finally {
    for (const ld of nodes) ld.cleanup();
    await device?.stop();
  }
});

test('two brokers with default settings restarted in the other order keep their MQTT and status page ports, so each node\'s devices still find it', async () => {
  const dirs = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'sphinx-ports-')));
  const env = (i: number) => ({ SPHINX_DATA_DIR: dirs[i], SPHINX_HTTP_PORT: undefined, SPHINX_SIGNER: undefined, SPHINX_MQTT_PORT: undefined, SPHINX_MQTT_TLS_PORT: undefined });
  /** Starts node `i` (init sent: its listeners open) and reads the addresses it wrote. */
  const startNode = async (i: number) => {
    const ld = await start(env(i));
    ld.master.send(exchanges[0]!.req);
    await ld.waitForStatus((m) => m.kind === 'log' && m.entry.startsWith('MQTT: embedded server on '), 20_000);
    await ld.waitForStatus((m) => m.kind === 'log' && m.entry.startsWith('status page on '));
    return { ld, mqtt: readFileSync(join(dirs[i]!, MQTT_URL_FILE), 'utf8'), page: readFileSync(join(dirs[i]!, 'status-url'), 'utf8') };
  };
  const running: SimLightningd[] = [];
  try {
    const first = [];
    for (const i of [0, 1]) {
      const node = await startNode(i);
      running.push(node.ld);
      first.push(node);
    }
    assert.notEqual(first[0]!.mqtt, first[1]!.mqtt);
    // lightningd gone while its init still waits for a device: hsmd exits as CLN's does on the
    // master's EOF, leaving no process behind on the ports and the data directory.
    for (const ld of running.splice(0)) {
      try {
        assert.deepEqual(await ld.stop(), { code: 2, signal: null }, ld.describeStatus());
      } finally {
        ld.cleanup();
      }
    }
    const again: typeof first = [];
    for (const i of [1, 0]) {
      const node = await startNode(i);
      running.push(node.ld);
      again[i] = node;
    }
    for (const i of [0, 1]) {
      assert.equal(again[i]!.mqtt, first[i]!.mqtt, `node ${i}'s MQTT address`);
      assert.equal(again[i]!.page, first[i]!.page, `node ${i}'s status page`);
      assert.deepEqual(brokenLines(again[i]!.ld), [], again[i]!.ld.describeStatus());
    }
    // The one whose port was not the default says which it kept and why.
    const kept = again.find((n) => !n!.mqtt.includes(':1883\n'))!;
    assert.ok(kept.ld.statusMessages.some((m) => m.kind === 'log' && m.level === LOG_LEVELS.unusual &&
      m.entry.startsWith(`MQTT: listening on ${kept.mqtt.trim().replace('mqtt://', '')}, this broker's port last time, not the default 1883`)), kept.ld.describeStatus());
  } finally {
    for (const ld of running) ld.cleanup();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
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

test('a misspelled setting: in sphinx.conf a status_fail naming the line and the setting meant; in the environment an UNUSUAL line in lightningd\'s log', async () => {
  const conf = await SimLightningd.start({
    hsmSecret: Buffer.from(header.hsm_secret, 'hex'), args: header.hsmd_args, conf: '# mine\nSPHINX_SIGNER=local\nsphinx_policy_max_htcls=20\n',
    env: { SPHINX_CLN_VERSION: header.cln_version },
  });
  try {
    assert.equal((await conf.exited()).code, EXIT_STATUS_FAIL);
    const fail = conf.statusMessages.find((m) => m.kind === 'fail');
    assert.ok(fail?.kind === 'fail');
    assert.match(fail.desc, /sphinx\.conf:3: "sphinx_policy_max_htcls=20": unknown key sphinx_policy_max_htcls: did you mean SPHINX_POLICY_MAX_HTLCS\? \(settings: .*sphinx-hsmd --help lists them\)$/);
  } finally {
    conf.cleanup();
  }
  assert.equal(
    await unusualLineAtInit({ SPHINX_SIGNER: 'local', SPHINX_POLICY_MAX_HTCLS: '20' }, /SPHINX_POLICY_MAX_HTCLS/),
    'ignoring unknown setting SPHINX_POLICY_MAX_HTCLS in the environment: did you mean SPHINX_POLICY_MAX_HTLCS? (sphinx-hsmd --help lists the settings)',
  );
});

/** The UNUSUAL line matching `pattern` that a local broker started with `env` logs by its init. */
async function unusualLineAtInit(env: Record<string, string>, pattern: RegExp): Promise<string> {
  const ld = await start(env);
  try {
    replayExchanges(ld, exchanges.slice(0, 1));
    const line = await ld.waitForStatus((m) => m.kind === 'log' && pattern.test(m.entry));
    assert.ok(line.kind === 'log' && line.level === LOG_LEVELS.unusual);
    return line.entry;
  } finally {
    await ld.stop();
    ld.cleanup();
  }
}

test('a 0/1 setting given another value, or a local-only one in remote mode, is a status_fail, not silently off', async () => {
  for (const [env, message] of [
    [{ SPHINX_SIGNER: 'local', SPHINX_LOG_STDERR: 'yes' }, /^SPHINX_LOG_STDERR=yes: expected 1 \(on\) or 0/],
    [{ SPHINX_SIGNER: 'local', SPHINX_ACCEPT_JOURNAL_ROLLBACK: 'true' }, /^SPHINX_ACCEPT_JOURNAL_ROLLBACK=true: expected 1 \(on\) or 0/],
    [{ SPHINX_SIGNER: 'remote', SPHINX_ACCEPT_JOURNAL_ROLLBACK: '1' }, /^SPHINX_ACCEPT_JOURNAL_ROLLBACK is for SPHINX_SIGNER=local: .*sphinx-signer --accept-journal-rollback.*SPHINX_ACCEPT_DEVICE_ROLLBACK/],
  ] as const) {
    const ld = await start(env);
    try {
      assert.equal((await ld.exited()).code, EXIT_STATUS_FAIL, JSON.stringify(env));
      const fail = ld.statusMessages.find((m) => m.kind === 'fail');
      assert.ok(fail?.kind === 'fail', JSON.stringify(env));
      assert.match(fail.desc, message);
    } finally {
      ld.cleanup();
    }
  }
});

test('remote settings with SPHINX_SIGNER=local: an UNUSUAL line naming them, not silence', async () => {
  assert.equal(
    await unusualLineAtInit({ SPHINX_SIGNER: 'local', SPHINX_MQTT_PORT: '1999', SPHINX_DEVICE_KEYS: '02' + '11'.repeat(32), SPHINX_TLS_GENERATE: '1' }, /ignored with SPHINX_SIGNER=local/),
    'SPHINX_MQTT_PORT, SPHINX_DEVICE_KEYS, SPHINX_TLS_GENERATE set, but ignored with SPHINX_SIGNER=local (they are for a device over MQTT)',
  );
});

test('SPHINX_DATA_DIR naming a file: status_fail naming the setting and what to give', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'sphinx-data-file-')), 'not-a-dir');
  writeFileSync(file, '');
  const ld = await start({ SPHINX_SIGNER: 'local', SPHINX_DATA_DIR: file });
  try {
    ld.master.send(exchanges[0]!.req); // init opens the signer and its state directory
    assert.equal((await ld.exited()).code, EXIT_STATUS_FAIL);
    const fail = ld.statusMessages.find((m) => m.kind === 'fail');
    assert.ok(fail?.kind === 'fail');
    assert.equal(fail.desc, `cannot start the signer: SPHINX_DATA_DIR ${file}: cannot use it as the state directory (EEXIST): give a directory (created if missing; default ./sphinx)`);
  } finally {
    ld.cleanup();
    rmSync(join(file, '..'), { recursive: true, force: true });
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
    const output = await device.outputMatching(/refused this device's token/, 10_000);
    assert.match(output, new RegExp(`cannot reach the MQTT server mqtt://127\\.0\\.0\\.1:${port} \\(.*\\): it refused this device's token, signed over broker id ${wrongId} at .*Check that the broker id is the one sphinx-hsmd prints`));
    // Said once: after the line's own time stamp, the device's time appears once, and the checks once.
    const line = output.split('\n').find((l) => l.includes("refused this device's token"))!;
    assert.equal(line.match(/\d{4}-\d\d-\d\dT[\d:.]+Z/g)!.length, 2, line);
    assert.equal(line.match(/broker id/g)!.length, 2, line);
    assert.match(line, /30 s ahead of its clock or 5 minutes old/);
  } finally {
    ld.cleanup();
    await device.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
