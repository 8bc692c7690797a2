/**
 * The remote path end to end: a simulated lightningd → bin/sphinx-hsmd
 * (SPHINX_SIGNER=remote) → MQTT (the embedded aedes, or an external Mosquitto configured as
 * examples/mosquitto.conf, which must keep a device to its own topics as aedes does) → a device
 * process (bin/sphinx-signer; test/crashing-device.ts for the crashes). Recorded CLN v25.12.1
 * sessions must come back byte-identical; the broker log must hold each RequestReceived
 * before its reply and a ReplyReceived for every request; a device killed in mid-replay
 * and started again must get every request answered, identically, its journal agreeing with
 * the broker log.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import type { MqttClient } from 'mqtt';
import { connectMqtt } from '../broker/remote/mqtt-connect.js';
import { NodeDir } from '../node/node-file.js';
import type { StoredRecord } from '../log/broker-log/broker-log.js';
import { Journal, openJournalFiles } from '../log/journal/journal.js';
import { fixturePath } from './fixtures.js';
import { deviceIdOf } from './device-driver.js';
import { type DeviceProcess, freePort, readBrokerLog, startDeviceProcess, startMosquitto } from './remote-helpers.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { loadTranscript } from './transcript.js';

const CLIENT_HSMFD = 9;
const WIRE_HSMD_INIT = 11;

interface Run {
  result: Awaited<ReturnType<typeof SimLightningd.replayTranscript>>;
  records: StoredRecord[];
  device: DeviceProcess;
  dataDir: string;
}

async function replayRemote(name: string, opts: { mqttUrl?: string; deviceUrl?: string; crash?: string[]; env?: Record<string, string>; deviceArgs?: string[] } = {}): Promise<Run> {
  const path = fixturePath(`transcripts/${name}`);
  const { header } = loadTranscript(path);
  const dataDir = mkdtempSync(join(tmpdir(), 'sphinx-remote-'));
  const port = await freePort();
  const device = startDeviceProcess({
    url: opts.deviceUrl ?? opts.mqttUrl ?? `mqtt://127.0.0.1:${port}`,
    dir: join(dataDir, 'device'),
    brokerIdFile: join(dataDir, 'broker-id'),
    hsmSecret: Buffer.from(header.hsm_secret, 'hex'),
    crash: opts.crash,
    args: opts.deviceArgs,
  });
  try {
    const result = await SimLightningd.replayTranscript(path, {
      env: {
        SPHINX_SIGNER: 'remote',
        SPHINX_DATA_DIR: dataDir,
        SPHINX_MQTT_PORT: String(port),
        SPHINX_CLN_VERSION: header.cln_version,
        ...(opts.mqttUrl ? { SPHINX_MQTT_URL: opts.mqttUrl } : {}),
        ...opts.env,
      },
    });
    return { result, records: await readBrokerLog(dataDir), device, dataDir };
  } finally {
    await device.stop();
  }
}

function assertReplayed(run: Run): void {
  const { result } = run;
  const report = result.mismatches.map((m) => `seq ${m.seq} ${m.conn} type ${m.type}\n  expected ${m.expected}\n  got      ${m.got}`).join('\n');
  assert.equal(result.failed, 0, `${result.failed} of ${result.passed + result.failed} differ:\n${report}\nhsmd status:\n${result.status}\ndevice:\n${run.device.output()}`);
  assert.equal(result.exit.code, 2, 'hsmd exits 2 when the master closes');
}

const typeOf = (hex: string): number => parseInt(hex.slice(0, 4), 16);

/**
 * Every lightningd request (not client_hsmfd, which the broker answers) logged before its one
 * reply; ids increasing; a request without a reply only when an error record says it was
 * renumbered. A device's init check adds init requests of its own.
 */
function assertLogOrder(records: readonly StoredRecord[], transcript: string): void {
  const exchanges = loadTranscript(fixturePath(`transcripts/${transcript}`)).exchanges.map((e) => typeOf(e.req));
  const expected = exchanges.filter((t) => t !== CLIENT_HSMFD && t !== WIRE_HSMD_INIT).length;
  const requestAt = new Map<bigint, { seq: bigint; type: number }>();
  const replied = new Set<bigint>();
  const renumbered = new Set<bigint>();
  let lastId = 0n;
  for (const { seq, record } of records) {
    if (record.kind === 'request-received') {
      assert.ok(record.id > lastId, `request ids increase (seq ${seq}: ${record.id} after ${lastId})`);
      lastId = record.id;
      requestAt.set(record.id, { seq, type: record.type });
    } else if (record.kind === 'reply-received') {
      const at = requestAt.get(record.id);
      assert.ok(at !== undefined && at.seq < seq, `reply ${record.id} at seq ${seq} follows its request (seq ${at?.seq})`);
      assert.ok(!replied.has(record.id), `one reply for ${record.id}`);
      replied.add(record.id);
    } else if (record.kind === 'error' && /renumbered/.test(record.text)) {
      renumbered.add(record.id!);
    }
  }
  for (const id of requestAt.keys()) assert.ok(replied.has(id) || renumbered.has(id), `request ${id} has its logged reply`);
  const answered = [...replied].map((id) => requestAt.get(id)!.type);
  assert.equal(answered.filter((t) => t !== WIRE_HSMD_INIT).length, expected, 'every request of the transcript is logged and answered');
  assert.ok(answered.includes(WIRE_HSMD_INIT), 'init is logged and answered');
}

/** The broker's warm start (docs/remote-protocol.md "Warm start") ran with the device before its hello reached the session. */
const assertWarmed = (status: string, deviceId: string): void =>
  assert.match(status, new RegExp(`log\\(4\\) remote signer: warm start with ${deviceId}: [1-9]\\d* echoes in \\d+ ms before its hello reaches the session`));

for (const name of ['hsmd-basic-legacy.jsonl', 'hsmd-basic-mnemonic.jsonl', 'session-basic-l1.jsonl', 'session-basic-l2.jsonl']) {
  test(`remote via the embedded MQTT server: ${name} byte-identical, broker log in order, first device pinned loudly, the path warmed first`, async () => {
    const run = await replayRemote(name);
    try {
      assertReplayed(run);
      assertLogOrder(run.records, name);
      const deviceId = deviceIdOf(Buffer.from(loadTranscript(fixturePath(`transcripts/${name}`)).header.hsm_secret, 'hex'));
      assert.match(run.result.status, new RegExp(`log\\(5\\) MQTT: PINNED DEVICE ${deviceId}`));
      assert.equal(readFileSync(join(run.dataDir, 'pinned-devices'), 'utf8'), `${deviceId}\n`);
      assert.ok(run.records.some((r) => r.record.kind === 'signer-connected' && r.record.deviceId === deviceId));
      assertWarmed(run.result.status, deviceId);
    } finally {
      rmSync(run.dataDir, { recursive: true, force: true });
    }
  });
}

const mosquitto = spawnSync('sh', ['-c', 'command -v mosquitto']).status === 0;
test('remote via an external Mosquitto configured as examples/mosquitto.conf: session-basic-l1 byte-identical, the path warmed first; a device is refused on another device\'s topics', { skip: !mosquitto && 'mosquitto is not installed (.ci/run installs it)' }, async () => {
  const deviceA = deviceIdOf(Buffer.from(loadTranscript(fixturePath('transcripts/session-basic-l1.jsonl')).header.hsm_secret, 'hex'));
  const deviceB = deviceIdOf(new Uint8Array(32).fill(7));
  const server = await startMosquitto([deviceA, deviceB]);
  try {
    const run = await replayRemote('session-basic-l1.jsonl', {
      mqttUrl: server.url,
      deviceUrl: server.deviceUrl,
      env: { SPHINX_MQTT_CA: server.caFile },
      deviceArgs: ['--ca', server.caFile, '--mqtt-password-file', server.passwordFiles.get(deviceA)!],
    });
    try {
      assertReplayed(run);
      assertLogOrder(run.records, 'session-basic-l1.jsonl');
      assert.match(run.result.status, /MQTT: using the external server mqtts:\/\/sphinx-broker:\*\*\*@127\.0\.0\.1:\d+/, 'its password is not logged');
      assert.ok(!existsSync(join(run.dataDir, 'mqtt')), 'no embedded server was started');
      assertWarmed(run.result.status, deviceA);
    } finally {
      rmSync(run.dataDir, { recursive: true, force: true });
    }

    // Device A, logged in with its own password, tries device B's topics.
    const url = new URL(server.url);
    const login = (username: string, password: string) =>
      connectMqtt(`mqtts://127.0.0.1:${url.port}`, { ca: readFileSync(server.caFile), username, password, clientId: `probe-${username.slice(0, 8)}`, reconnectPeriod: 0 });
    const broker = login('sphinx-broker', decodeURIComponent(url.password));
    const a = login(deviceA, readFileSync(server.passwordFiles.get(deviceA)!, 'utf8').trim());
    try {
      const connected = (c: MqttClient) => new Promise<void>((resolve, reject) => (c.once('connect', () => resolve()), c.once('error', reject)));
      await Promise.all([connected(broker), connected(a)]);
      const atBroker: string[] = [];
      const atA: string[] = [];
      broker.on('message', (topic) => atBroker.push(topic));
      a.on('message', (topic) => atA.push(topic));
      await broker.subscribeAsync('sphinx/v1/#', { qos: 1 });
      await a.subscribeAsync([`sphinx/v1/${deviceA}/#`, `sphinx/v1/${deviceB}/#`], { qos: 1 });
      await a.publishAsync(`sphinx/v1/${deviceB}/res`, 'forged reply', { qos: 1 });
      await a.publishAsync(`sphinx/v1/${deviceA}/res`, 'own reply', { qos: 1 });
      await broker.publishAsync(`sphinx/v1/${deviceB}/req`, 'for B', { qos: 1 });
      await broker.publishAsync(`sphinx/v1/${deviceA}/req`, 'for A', { qos: 1 });
      // The broker's own messages come back in order: once both are in, the refused ones would be too.
      for (let i = 0; i < 100 && !(atBroker.includes(`sphinx/v1/${deviceA}/req`) && atA.includes(`sphinx/v1/${deviceA}/req`)); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(atBroker.includes(`sphinx/v1/${deviceA}/res`), 'A publishes under its own id');
      assert.ok(!atBroker.includes(`sphinx/v1/${deviceB}/res`), "A's publish to B's topic is dropped");
      assert.deepEqual(atA.filter((t) => t.endsWith('/req')), [`sphinx/v1/${deviceA}/req`], "A gets its own requests, not B's");
      assert.match(server.log(), new RegExp(`Denied PUBLISH from probe-${deviceA.slice(0, 8)} .*'sphinx/v1/${deviceB}/res'`));
    } finally {
      broker.end(true);
      a.end(true);
    }
  } finally {
    await server.stop();
  }
});

for (const when of ['before deciding', 'after journaling'] as const) {
  test(`device SIGKILLed ${when} a request in mid-replay, started again: outstanding resent, replay byte-identical, journal = broker log`, async () => {
    const crash = ['--supervise', '--crash-at', '60', ...(when === 'after journaling' ? ['--crash-after-journal'] : [])];
    const run = await replayRemote('session-basic-l1.jsonl', { crash });
    try {
      assertReplayed(run);
      assertLogOrder(run.records, 'session-basic-l1.jsonl');
      const out = run.device.output();
      assert.match(out, /crashing \(SIGKILL\) at request 60/);
      assert.match(out, /supervisor: device exited \(SIGKILL\); starting it again/);
      assert.match(run.result.status, /sending lightningd's init to [0-9a-f]{66} to check it holds the same seed/);
      assert.match(run.result.status, /device [0-9a-f]{66} is ready; resending 1 outstanding request/);
      // Not journaled: it would now come below the device's last id (the init check), so it gets a new one.
      // Journaled: resent as it was, and answered from the journal.
      if (when === 'before deciding') assert.match(run.result.status, /request 60 renumbered as 62: device [0-9a-f]{66} had not journaled it/);
      else assert.doesNotMatch(run.result.status, /renumbered/);
      assert.ok(run.records.some((r) => r.record.kind === 'signer-disconnected'), 'the will (offline) is logged as a disconnect');
      // The device's journal and the broker log agree on every id: same request bytes, same reply.
      const { recovery } = Journal.open(openJournalFiles(new NodeDir(run.device.dir)));
      const requests = new Map(run.records.flatMap((r) => (r.record.kind === 'request-received' ? [[r.record.id, r.record]] : [])));
      const replies = new Map(run.records.flatMap((r) => (r.record.kind === 'reply-received' ? [[r.record.id, r.record]] : [])));
      assert.equal(recovery.records.length, replies.size, 'one journal record per logged reply');
      for (const { record } of recovery.records) {
        assert.deepEqual(sha256(requests.get(record.id)!.message), record.requestDigest, `request ${record.id}`);
        assert.deepEqual(replies.get(record.id)!.reply, record.reply, `reply ${record.id}`);
      }
    } finally {
      rmSync(run.dataDir, { recursive: true, force: true });
    }
  });
}
