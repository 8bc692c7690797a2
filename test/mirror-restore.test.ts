/**
 * The journal mirror and restore with real processes (docs/journal.md "Mirror", "Restore"):
 * simulated lightningd → bin/sphinx-hsmd (remote, embedded MQTT) → bin/sphinx-signer.
 * - A device SIGKILLed mid-session has its data directory deleted; `sphinx-signer --restore`
 *   on an empty one rebuilds the journal from the broker's mirror and the recorded session
 *   goes on byte-identical; the restored journal refuses a revoked holder commitment of the
 *   channel; `sphinx-audit verify` finds the mirror consistent with the journal.
 * - The broker's mirror with one record changed, one dropped, or its tail cut off (rolled
 *   back) is refused by `--restore`, naming forged / gap / rollback, and nothing is written.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Level } from 'level';
import { mirrorDir } from '../log/broker-log/mirror-db.js';
import { SignerCore } from '../core/signer-core.js';
import { NodeDir } from '../node/node-file.js';
import { openJournalFiles } from '../log/journal/journal.js';
import { decodeMirrorEntry, encodeMirrorEntry } from '../log/mirror/entry.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import { Signer } from '../signer/signer.js';
import { RECORDED, revokedProbe, REVOKED_THROUGH } from '../property-tests/node-model.js';
import { replyText } from '../property-tests/harness.js';
import { fixturePath, repoRoot } from './fixtures.js';
import { dataDirWith } from './device-driver.js';
import { freePort, startDeviceProcess } from './remote-helpers.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { loadTranscript } from './transcript.js';

const NAME = 'session-basic-l1.jsonl';
const PATH = fixturePath(`transcripts/${NAME}`);
const transcript = loadTranscript(PATH);
const secret = Buffer.from(transcript.header.hsm_secret, 'hex');
const AUDIT_BIN = join(repoRoot, 'bin', 'sphinx-audit');
const SIGNER_BIN = join(repoRoot, 'bin', 'sphinx-signer');
/** Killed after this exchange: well into the commitment rounds, with holder commitments revoked. */
const KILL_AFTER = 120;

const hsmdEnv = (dataDir: string, port: number) => ({
  SPHINX_SIGNER: 'remote',
  SPHINX_DATA_DIR: dataDir,
  SPHINX_MQTT_PORT: String(port),
  SPHINX_CLN_VERSION: transcript.header.cln_version,
});

/** The broker's and the restored device's data directories after the SIGKILL-and-restore session below, for the refusal cases. */
let session: { brokerDir: string; deviceDir: string } | undefined;
// Removed however many of the tests run (--test-name-pattern): the test run fails on a leaked directory.
after(() => {
  if (session) for (const dir of Object.values(session)) rmSync(dir, { recursive: true, force: true });
});

test('device SIGKILLed mid-session, its data directory deleted, restored from the mirror: the session goes on byte-identical; a revoked holder commitment stays refused', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sphinx-broker-'));
  const port = await freePort();
  const url = `mqtt://127.0.0.1:${port}`;
  const brokerIdFile = join(dataDir, 'broker-id');
  const ld = await SimLightningd.start({ timeoutMs: 30_000, hsmSecret: secret, args: transcript.header.hsmd_args, env: hsmdEnv(dataDir, port) });
  const first = startDeviceProcess({ url, brokerIdFile, hsmSecret: secret });
  let restored: ReturnType<typeof startDeviceProcess> | undefined;
  let firstOutput = '';
  try {
    const result = ld.replay(PATH, (ex) => {
      if (ex.seq !== transcript.exchanges[KILL_AFTER]!.seq) return;
      first.child.kill('SIGKILL');
      firstOutput = first.output();
      rmSync(first.dir, { recursive: true, force: true }); // the dead SD card
      restored = startDeviceProcess({ url, brokerIdFile, hsmSecret: secret, args: ['--restore'] });
    });
    const exit = await ld.stop();
    const out = restored?.output() ?? '';
    assert.equal(result.failed, 0, `replay: ${JSON.stringify(result.mismatches.slice(0, 3))}\nfirst device:\n${firstOutput}\nrestored device:\n${out}\nhsmd:\n${ld.describeStatus()}`);
    assert.equal(exit.code, 2);
    assert.match(out, /restore: \d+ mirror entries received/);
    assert.match(out, /restore: journal rebuilt up to request id \d+/);
    assert.match(ld.describeStatus(), /mirror of [0-9a-f]{66}: sending \d+ entries for a restore/);
    await restored!.stop();

    // The audit finds the mirror consistent with the restored device's journal, every MAC checked.
    const secretFile = join(restored!.dir, 'hsm_secret');
    const audit = spawnSync(process.execPath, [AUDIT_BIN, 'verify', '--log', dataDir, '--journal', restored!.dir, '--hsm-secret', secretFile], { encoding: 'utf8' });
    assert.match(audit.stdout, /mirror: \d+ entries, consistent with the journal \(every MAC checked\)/, audit.stdout + audit.stderr);

    // The restored journal (a copy: the probe is journaled) holds the channel's revocations: an old holder commitment is refused.
    // (REVOKED_THROUGH counts the signer's requests: the broker answers client_hsmfd itself.)
    const signerRequestsBeforeKill = transcript.exchanges.slice(0, KILL_AFTER + 1).filter((ex) => !ex.req.startsWith('0009')).length;
    const revoked = REVOKED_THROUGH[signerRequestsBeforeKill];
    assert.ok(revoked !== undefined, 'holder commitments were revoked before the kill');
    const probeDir = mkdtempSync(join(tmpdir(), 'sphinx-probe-'));
    cpSync(restored!.dir, probeDir, { recursive: true });
    const { core } = SignerCore.open(openJournalFiles(new NodeDir(probeDir)), (state) =>
      new Signer({ curve: nobleCurve, developer: false, readHsmSecret: () => secret }, state));
    const init = core.handle({ id: core.lastId! + 1n, client: RECORDED[0]!.client, at: 0, message: RECORDED[0]!.message });
    assert.equal(init.reply.kind, 'frame', 'init unlocks the keys again');
    const probe = revokedProbe(revoked);
    const refused = core.handle({ id: core.lastId! + 1n, client: probe.client, at: 0, message: probe.message });
    assert.match(replyText(refused.reply), /policy-commitment-revoked-holder:/);
    rmSync(probeDir, { recursive: true, force: true });
    session = { brokerDir: dataDir, deviceDir: restored!.dir };
  } finally {
    await first.stop();
    await restored?.stop();
    ld.cleanup();
    rmSync(first.dir, { recursive: true, force: true });
    if (!session) {
      if (restored) rmSync(restored.dir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
});

type Tamper = (db: Level<string, Uint8Array>, keys: string[]) => Promise<void>;

/** The broker dropped the mirror's last entries (a rollback, or entries it never stored). */
const cutTail: Tamper = async (db, keys) => {
  for (const key of keys.slice(-5)) await db.del(key);
};

/** A copy of the session's broker data directory, its mirror tampered with. */
async function tamperedBrokerDir(tamper: Tamper): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sphinx-broker-'));
  cpSync(session!.brokerDir, dataDir, { recursive: true });
  rmSync(join(dataDir, 'sphinx.lock'), { force: true });
  const db = new Level<string, Uint8Array>(mirrorDir(dataDir), { valueEncoding: 'view' });
  const keys: string[] = [];
  for await (const key of db.keys()) keys.push(key);
  assert.ok(keys.length > 10, `the session mirrored its records (${keys.length} entries)`);
  await tamper(db, keys);
  await db.close();
  return dataDir;
}

/** `sphinx-signer --restore` (and `extra`) on `deviceDir` against the broker on `port`, to its exit. */
const restoreOnce = (port: number, brokerDir: string, deviceDir: string, extra: readonly string[] = []) =>
  spawnSync(process.execPath, [SIGNER_BIN, '--mqtt', `mqtt://127.0.0.1:${port}`, '--data', deviceDir, '--broker-id-file', join(brokerDir, 'broker-id'), '--restore', ...extra], {
    encoding: 'utf8',
    timeout: 30_000,
  });

const assertNothingWritten = (deviceDir: string): void => {
  for (const file of ['journal', 'snapshot-a', 'snapshot-b', 'mirror-a', 'mirror-b']) {
    assert.ok(!existsSync(join(deviceDir, file)) || statSync(join(deviceDir, file)).size === 0, `${file} not written`);
  }
};

const tampers: { name: string; problem: RegExp; audit: RegExp; tamper: Tamper }[] = [
  {
    name: 'one record changed',
    problem: /mirror refused \(forged\): entry \d+ \(record\): its MAC does not verify/,
    audit: /mirror forged: .*entry \d+ \(record\): its MAC does not verify[^]*mirror forged: entry \d+ \(request id \d+\) differs from the journal record/,
    tamper: async (db, keys) => {
      const key = keys[Math.floor(keys.length / 2)]!;
      const e = decodeMirrorEntry(await db.get(key));
      const payload = e.payload.slice();
      payload[payload.length - 1]! ^= 1;
      await db.put(key, encodeMirrorEntry({ ...e, payload }));
    },
  },
  {
    name: 'one record dropped',
    problem: /mirror refused \(gap\): entries (\d+)\.\.\1 are missing/,
    audit: /mirror gap: .*entries (\d+)\.\.\1 are missing[^]*mirror gap: journal record \d+ is missing from the mirror/,
    tamper: (db, keys) => db.del(keys[Math.floor(keys.length / 2)]!),
  },
  {
    name: 'its last records cut off (rolled back by the broker)',
    problem: /mirror refused \(rollback\): the mirror ends at request id \d+, but the broker's reply log shows the device answered id \d+/,
    audit: /mirror rollback: journal record \d+ is not mirrored: the mirror ends at id \d+/,
    tamper: cutTail,
  },
];

for (const { name, problem, audit, tamper } of tampers) {
  test(`a mirror with ${name} is refused by --restore and named by sphinx-audit verify; nothing is written`, async (t) => {
    if (!session) return t.skip('needs the session of the test above');
    const dataDir = await tamperedBrokerDir(tamper);
    const audited = spawnSync(process.execPath, [AUDIT_BIN, 'verify', '--log', dataDir, '--journal', session.deviceDir, '--hsm-secret', join(session.deviceDir, 'hsm_secret')], { encoding: 'utf8' });
    assert.equal(audited.status, 1, audited.stdout + audited.stderr);
    assert.match(audited.stdout, audit);

    const port = await freePort();
    const ld = await SimLightningd.start({ hsmSecret: secret, args: transcript.header.hsmd_args, env: hsmdEnv(dataDir, port) });
    const deviceDir = dataDirWith(secret);
    try {
      ld.master.send(transcript.exchanges[0]!.req); // lightningd's init opens the broker's signer side; no reply awaited
      const device = restoreOnce(port, dataDir, deviceDir);
      assert.equal(device.status, 1, `${device.stdout}${device.stderr}`);
      assert.match(device.stderr, problem);
      assertNothingWritten(deviceDir);
    } finally {
      ld.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(deviceDir, { recursive: true, force: true });
    }
  });
}

test('a mirror behind the reply log: refused naming --accept-mirror-behind and SPHINX_ACCEPT_DEVICE_ROLLBACK; refused with another id; restored with its own id, and accepted by a broker so told', async (t) => {
  if (!session) return t.skip('needs the session of the test above');
  const dataDir = await tamperedBrokerDir(cutTail);
  const deviceDir = dataDirWith(secret);
  const port = await freePort();
  let ld = await SimLightningd.start({ hsmSecret: secret, args: transcript.header.hsmd_args, env: hsmdEnv(dataDir, port) });
  let restored: ReturnType<typeof startDeviceProcess> | undefined;
  try {
    ld.master.send(transcript.exchanges[0]!.req);
    const plain = restoreOnce(port, dataDir, deviceDir);
    assert.equal(plain.status, 1, `${plain.stdout}${plain.stderr}`);
    const wayOut = /mirror refused \(rollback\): the mirror ends at request id (\d+), but the broker's reply log shows the device answered id (\d+): .*requests answered after id \1 \(up to id \2\) are lost to the device and may be signed again.*run sphinx-signer --restore --accept-mirror-behind \1, and start the broker with SPHINX_ACCEPT_DEVICE_ROLLBACK=([0-9a-f]{66}):\1 /;
    const named = wayOut.exec(plain.stderr);
    assert.ok(named, plain.stderr);
    const [, mirrorLastId, answered, deviceId] = named;
    assert.ok(BigInt(mirrorLastId!) < BigInt(answered!));
    assertNothingWritten(deviceDir);

    // Another id (an older or other mirror than the owner accepted): refused, naming this one's.
    const other = restoreOnce(port, dataDir, deviceDir, ['--accept-mirror-behind', String(BigInt(mirrorLastId!) - 1n)]);
    assert.equal(other.status, 1, `${other.stdout}${other.stderr}`);
    assert.match(other.stderr, new RegExp(`mirror refused \\(rollback\\): .*\\(--accept-mirror-behind ${BigInt(mirrorLastId!) - 1n} names another mirror: this one ends at id ${mirrorLastId}\\)`));
    assertNothingWritten(deviceDir);
    await ld.stop();
    ld.cleanup();

    // Its own id, and the broker told to accept the restored device's hello: it signs again.
    const port2 = await freePort();
    ld = await SimLightningd.start({
      hsmSecret: secret,
      args: transcript.header.hsmd_args,
      env: { ...hsmdEnv(dataDir, port2), SPHINX_ACCEPT_DEVICE_ROLLBACK: `${deviceId}:${mirrorLastId}` },
    });
    restored = startDeviceProcess({ url: `mqtt://127.0.0.1:${port2}`, brokerIdFile: join(dataDir, 'broker-id'), hsmSecret: secret, dir: deviceDir, args: ['--restore', '--accept-mirror-behind', mirrorLastId!] });
    ld.master.send(transcript.exchanges[0]!.req);
    assert.equal(Buffer.from(ld.master.receive(30_000)).toString('hex'), transcript.exchanges[0]!.rep, `init answered by the restored device\n${restored.output()}\n${ld.describeStatus()}`);
    assert.match(restored.output(), new RegExp(`BROKEN +restore: the mirror ends at request id ${mirrorLastId}, behind id ${answered} answered: ACCEPTED by the owner`));
    assert.match(restored.output(), new RegExp(`restore: journal rebuilt up to request id ${mirrorLastId} `));
    const accepted = new RegExp(`device ${deviceId} says its journal ends at id ${mirrorLastId} although the broker log shows id ${answered} answered: accepted because SPHINX_ACCEPT_DEVICE_ROLLBACK names it`);
    await ld.waitForStatus((m) => m.kind === 'log' && accepted.test(m.entry));
  } finally {
    await ld.stop();
    ld.cleanup();
    await restored?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(deviceDir, { recursive: true, force: true });
  }
});

test('--restore beside the running device is refused naming it (after waiting for an offline that does not come); the running device goes on, not retired', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sphinx-broker-'));
  const port = await freePort();
  const url = `mqtt://127.0.0.1:${port}`;
  const ld = await SimLightningd.start({ timeoutMs: 30_000, hsmSecret: secret, args: transcript.header.hsmd_args, env: hsmdEnv(dataDir, port) });
  const running = startDeviceProcess({ url, brokerIdFile: join(dataDir, 'broker-id'), hsmSecret: secret });
  const deviceDir = dataDirWith(secret);
  try {
    const first = ld.replay(PATH);
    assert.equal(first.failed, 0, ld.describeStatus());
    const restore = spawnSync(process.execPath, [SIGNER_BIN, '--mqtt', url, '--data', deviceDir, '--broker-id-file', join(dataDir, 'broker-id'), '--restore'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(restore.status, 1, `${restore.stdout}${restore.stderr}`);
    assert.match(restore.stderr, /restore: device [0-9a-f]{66} is online \(its status on the broker says so\): --restore is for a device whose storage died.*Stop the running device first .*or start this one with --spare/);
    for (const file of ['journal', 'snapshot-a', 'snapshot-b']) assert.ok(!existsSync(join(deviceDir, file)) || statSync(join(deviceDir, file)).size === 0, `${file} not written`);
    // The running device was never pushed off: the session again through it, byte-identical.
    const again = ld.replay(PATH);
    assert.equal(again.failed, 0, `${ld.describeStatus()}\n${running.output()}`);
    assert.doesNotMatch(running.output(), /the broker refused|retired/);
  } finally {
    await ld.stop();
    ld.cleanup();
    await running.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(deviceDir, { recursive: true, force: true });
  }
});
