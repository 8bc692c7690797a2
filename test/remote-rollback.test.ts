/**
 * Rollback through the real processes (docs/remote-protocol.md "Rollback"): a simulated
 * lightningd → bin/sphinx-hsmd (remote, embedded MQTT, LevelDB broker log) → bin/sphinx-signer
 * replays the first part of session-basic-l1 (CLN v25.12.1); the device is killed, its journal
 * deleted, and it is started again: its login token (and its hello) says a last id below what
 * the broker log shows answered, so it is refused loudly, told why (it stops, exit 3), and
 * nothing is decided from the lost state, and it remembers that (DIR/retired). Restoring the
 * journal and then deleting DIR/retired is the way back: the waiting request is then answered
 * with CLN's recorded reply.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { NodeDir } from '../node/node-file.js';
import { Journal, openJournalFiles } from '../log/journal/journal.js';
import { fixturePath } from './fixtures.js';
import { freePort, readBrokerLog, startDeviceProcess, type DeviceProcess } from './remote-helpers.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { Timeout } from './sync-wire.js';
import { loadTranscript, replayExchanges } from './transcript.js';

const PATH = fixturePath('transcripts/session-basic-l1.jsonl');
const { header, exchanges } = loadTranscript(PATH);
const BEFORE = 80;

const journaledIds = (dir: string): bigint[] => Journal.open(openJournalFiles(new NodeDir(dir))).recovery.records.map((r) => r.record.id);

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a device restarted without its journal is refused (lightningd log, broker log), decides nothing; its restored journal lets it back', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sphinx-rollback-'));
  const port = await freePort();
  const deviceOptions = { url: `mqtt://127.0.0.1:${port}`, dir: join(dataDir, 'device'), brokerIdFile: join(dataDir, 'broker-id'), hsmSecret: Buffer.from(header.hsm_secret, 'hex') };
  let device: DeviceProcess = startDeviceProcess(deviceOptions);
  const deviceDir = device.dir;
  const ld = await SimLightningd.start({
    hsmSecret: Buffer.from(header.hsm_secret, 'hex'),
    args: header.hsmd_args,
    env: { SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: dataDir, SPHINX_MQTT_PORT: String(port), SPHINX_CLN_VERSION: header.cln_version },
  });
  const saved = mkdtempSync(join(tmpdir(), 'sphinx-rollback-journal-'));
  try {
    const first = replayExchanges(ld, exchanges.slice(0, BEFORE));
    assert.equal(first.failed, 0, JSON.stringify(first.mismatches));
    const journaled = journaledIds(deviceDir);
    const lastId = journaled.at(-1)!;

    // The journal is lost (a copy kept for the way back), the device starts again. Its
    // high-water mark goes too (the whole state lost, hsm_secret aside): with the mark the
    // device itself would refuse to start (sphinx-signer.test.ts); here the broker's log notices.
    device.child.kill('SIGKILL');
    await device.stop();
    for (const f of ['high-water-a', 'high-water-b']) rmSync(join(deviceDir, f), { force: true });
    for (const f of ['journal', 'snapshot-a', 'snapshot-b']) {
      cpSync(join(deviceDir, f), join(saved, f), { force: true });
      rmSync(join(deviceDir, f), { force: true });
    }
    device = startDeviceProcess({ ...deviceOptions, dir: deviceDir });
    const next = exchanges.slice(BEFORE).find((ex) => ex.conn === 'master' && !ex.req.startsWith('0009'))!;
    ld.master.send(next.req);
    const refusal = new RegExp(`device [0-9a-f]{66} refused: its journal ends at id 0 but the broker log shows id ${lastId} answered: .*SPHINX_ACCEPT_DEVICE_ROLLBACK=[0-9a-f]{66}:0 .*delete that file before starting it again`);
    await until('the refusal in lightningd\'s log', () => refusal.test(ld.describeStatus()));
    assert.match(ld.describeStatus(), new RegExp(`log\\(6\\) remote signer: ${refusal.source}`));
    assert.throws(() => ld.master.receive(1500), Timeout, 'no reply while only a refused device is connected');
    assert.deepEqual(journaledIds(deviceDir), [], 'nothing decided from the lost state');
    // Told why, it stopped for good (exit 3) rather than reconnecting (docs/journal.md "Retiring a device").
    const told = await device.outputMatching(/stopping \(refused by the broker\)/, 20_000);
    assert.match(told, new RegExp(`sphinx-signer: the broker refused device [0-9a-f]{66}: its journal ends at id 0 but the broker log shows id ${lastId} answered`));
    assert.equal(await new Promise((r) => (device.child.exitCode !== null ? r(device.child.exitCode) : device.child.once('exit', r))), 3);

    // The way back (docs/journal.md "Retiring a device"): the journal restored; started with
    // the retired marker still there, it stops before connecting; the marker deleted, it is back.
    await device.stop();
    for (const f of ['journal', 'snapshot-a', 'snapshot-b']) cpSync(join(saved, f), join(deviceDir, f), { force: true });
    const outputBefore = device.output().length;
    device = startDeviceProcess({ ...deviceOptions, dir: deviceDir });
    assert.equal(await new Promise((r) => (device.child.exitCode !== null ? r(device.child.exitCode) : device.child.once('exit', r))), 3);
    assert.match(device.output().slice(outputBefore), new RegExp(`retired, not connecting: ${join(deviceDir, 'retired')} records that .* its journal ends at id 0 but the broker log shows id ${lastId} answered.*then delete ${join(deviceDir, 'retired')} and start it`));
    rmSync(join(deviceDir, 'retired'));
    device = startDeviceProcess({ ...deviceOptions, dir: deviceDir });
    assert.equal(Buffer.from(ld.master.receive(20_000)).toString('hex'), next.rep, 'the waiting request gets CLN\'s recorded reply');
    assert.deepEqual(journaledIds(deviceDir).slice(0, journaled.length), journaled);

    await ld.stop();
    const records = await readBrokerLog(dataDir);
    assert.ok(records.some((r) => r.record.kind === 'error' && refusal.test(r.record.text)), 'the refusal is an error record in the broker log');
  } finally {
    await device.stop();
    ld.cleanup();
    for (const dir of [dataDir, saved, deviceDir]) rmSync(dir, { recursive: true, force: true });
  }
});
