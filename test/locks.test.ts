/**
 * One process per data directory (docs/journal.md "Locks"), with real processes: while a
 * remote session replays through sphinx-hsmd and a sphinx-signer device, a second
 * sphinx-signer on the device's directory and a second sphinx-hsmd on the broker's
 * SPHINX_DATA_DIR both refuse to start, naming the holder; sphinx-audit meets LevelDB's own
 * lock on the running broker's log and names the holder too; the session replays
 * byte-identical all the same. The same for the in-process signer's journal directory. A
 * lock left by a SIGKILLed device is stale and taken over.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { once } from 'node:events';
import { failText, hsmdOnce } from './hsmd-once.js';
import { LOCK_FILE } from '../node/dir-lock.js';
import { BROKER_ID, BrokerStandIn, MqttServer, SignerProcess, dataDirWith, deviceIdOf } from './device-driver.js';
import { fixturePath, repoRoot } from './fixtures.js';
import { freePort, SIGNER_BIN, startDeviceProcess } from './remote-helpers.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { loadTranscript } from './transcript.js';

const AUDIT_BIN = join(repoRoot, 'bin', 'sphinx-audit');
const NAME = 'session-basic-l1.jsonl';
const PATH = fixturePath(`transcripts/${NAME}`);
const transcript = loadTranscript(PATH);
const secret = Buffer.from(transcript.header.hsm_secret, 'hex');

test('remote: a second sphinx-signer and a second sphinx-hsmd refuse their directories naming the holder; the session stays byte-identical', async () => {
  const port = await freePort();
  const ld = await SimLightningd.start({
    hsmSecret: secret,
    args: transcript.header.hsmd_args,
    env: { SPHINX_SIGNER: 'remote', SPHINX_MQTT_PORT: String(port), SPHINX_CLN_VERSION: transcript.header.cln_version },
  });
  const dataDir = join(ld.dir, 'sphinx');
  const device = startDeviceProcess({ url: `mqtt://127.0.0.1:${port}`, brokerIdFile: join(dataDir, 'broker-id'), hsmSecret: secret });
  const tried: { signer?: ReturnType<typeof spawnSync>; hsmd?: ReturnType<typeof hsmdOnce>; audit?: ReturnType<typeof spawnSync> } = {};
  try {
    const result = ld.replay(PATH, (ex) => {
      if (ex.seq !== transcript.exchanges[60]!.seq) return;
      // Mid-session, both locks held: the device's and the broker's.
      tried.signer = spawnSync(process.execPath, [SIGNER_BIN, '--mqtt', `mqtt://127.0.0.1:${port}`, '--data', device.dir, '--broker-id', BROKER_ID], { encoding: 'utf8', timeout: 20_000 });
      const cwd = mkdtempSync(join(tmpdir(), 'second-hsmd-'));
      writeFileSync(join(cwd, 'hsm_secret'), secret);
      tried.hsmd = hsmdOnce(transcript, { SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: dataDir, SPHINX_MQTT_PORT: String(port) }, cwd);
      rmSync(cwd, { recursive: true, force: true });
      tried.audit = spawnSync(process.execPath, [AUDIT_BIN, 'summary', '--log', dataDir], { encoding: 'utf8', timeout: 20_000 });
    });
    const exit = await ld.stop();
    assert.equal(result.failed, 0, `replay through the first processes: ${JSON.stringify(result.mismatches.slice(0, 3))}\n${device.output()}`);
    assert.equal(exit.code, 2);

    assert.equal(tried.signer?.status, 1, `second signer: ${tried.signer?.stderr}`);
    assert.match(String(tried.signer.stderr), new RegExp(`sphinx-signer: ${device.dir} is in use by sphinx-signer \\(pid ${device.child.pid} on host `));
    assert.match(String(tried.signer.stderr), /stop the other one first/);

    assert.equal(tried.hsmd?.code, 242, 'the second hsmd fails as hsmd does after status_fail');
    assert.match(failText(tried.hsmd.status), new RegExp(`cannot start the signer: ${dataDir} is in use by sphinx-hsmd \\(pid ${ld.child.pid} on host `));

    // LevelDB's own LOCK on the broker log, met by a reader: named from the lock file.
    assert.equal(tried.audit?.status, 2, `audit: ${tried.audit?.stdout}${tried.audit?.stderr}`);
    assert.match(String(tried.audit.stderr), new RegExp(`the broker log ${join(dataDir, 'broker-log')} is in use by sphinx-hsmd \\(pid ${ld.child.pid} on host `));
    assert.doesNotMatch(String(tried.audit.stderr), /\n\s+at /, 'no stack trace');
  } finally {
    await device.stop();
    ld.cleanup();
    rmSync(device.dir, { recursive: true, force: true });
  }
  assert.ok(!existsSync(join(device.dir, LOCK_FILE)), 'a clean stop removes the lock');
});

test('local signer: a second sphinx-hsmd on the same SPHINX_DATA_DIR refuses it naming the holder; the first replays byte-identical', async () => {
  const name = 'hsmd-basic-legacy.jsonl';
  const path = fixturePath(`transcripts/${name}`);
  const header = loadTranscript(path).header;
  const ld = await SimLightningd.start({ hsmSecret: Buffer.from(header.hsm_secret, 'hex'), args: header.hsmd_args, env: { SPHINX_SIGNER: 'local', SPHINX_CLN_VERSION: header.cln_version } });
  const dataDir = join(ld.dir, 'sphinx');
  let second: ReturnType<typeof hsmdOnce> | undefined;
  try {
    const result = ld.replay(path, (ex) => {
      if (ex.seq !== loadTranscript(path).exchanges[3]!.seq) return;
      const cwd = mkdtempSync(join(tmpdir(), 'second-hsmd-'));
      writeFileSync(join(cwd, 'hsm_secret'), Buffer.from(header.hsm_secret, 'hex'));
      second = hsmdOnce(transcript, { SPHINX_DATA_DIR: dataDir, SPHINX_SIGNER: 'local' }, cwd);
      rmSync(cwd, { recursive: true, force: true });
    });
    assert.equal(result.failed, 0, JSON.stringify(result.mismatches.slice(0, 3)));
    assert.equal((await ld.stop()).code, 2);
    assert.equal(second?.code, 242);
    assert.match(failText(second.status), new RegExp(`${dataDir} is in use by sphinx-hsmd \\(pid ${ld.child.pid} on host `));
  } finally {
    ld.cleanup();
  }
});

test('a lock left by a SIGKILLed device is stale: the next device takes it over and says so', async () => {
  const server = await MqttServer.start();
  const dir = dataDirWith(secret);
  const broker = await BrokerStandIn.connect(server.url, deviceIdOf(secret));
  try {
    const first = SignerProcess.start(dir, server.url);
    await broker.until(() => broker.hellos.length === 1, 'first hello');
    const holder = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid: number; program: string };
    assert.equal(holder.pid, first.child.pid);
    assert.equal(holder.program, 'sphinx-signer');
    first.child.kill('SIGKILL');
    await first.exited;
    assert.ok(existsSync(join(dir, LOCK_FILE)), 'SIGKILL leaves the lock file behind');

    const second = SignerProcess.start(dir, server.url);
    await broker.until(() => broker.hellos.length === 2, 'second hello');
    assert.match(second.stdout + second.stderr, new RegExp(`stale lock of sphinx-signer \\(pid ${first.child.pid} .*no longer runs; taken over`));
    second.child.kill('SIGTERM');
    assert.equal((await second.exited).code, 0);
    assert.ok(!existsSync(join(dir, LOCK_FILE)));
  } finally {
    await broker.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a lock naming another host is never taken over: the message says which file to remove', async () => {
  const dir = dataDirWith(secret);
  try {
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere.example', program: 'sphinx-signer', since: '2026-01-01T00:00:00.000Z' }));
    const child = spawn(process.execPath, [SIGNER_BIN, '--mqtt', 'mqtt://127.0.0.1:1', '--data', dir, '--broker-id', BROKER_ID], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const [code] = await once(child, 'exit');
    assert.equal(code, 1);
    assert.match(stderr, /in use by sphinx-signer \(pid 1 on host elsewhere\.example, since 2026-01-01T00:00:00\.000Z\); this host cannot check it: if that process is gone, remove .*sphinx\.lock/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
