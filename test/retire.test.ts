/**
 * A retired device comes back (docs/journal.md "Retiring a device"), with real processes:
 * simulated lightningd → bin/sphinx-hsmd (remote) → a primary bin/sphinx-signer, and a spare
 * (`--spare`, same seed) standing by. The primary is SIGKILLed mid-session and the spare takes
 * over; later the old primary is started again on its old data directory. Its journal is
 * behind what the spare answered: it exits 3 naming its last id, the id the broker answered
 * up to and what its owner does, having decided nothing; the spare stays active and the
 * recorded session completes byte for byte.
 * - With the embedded server, the old primary never takes the spare's MQTT session over (its
 *   token says its last id: docs/remote-protocol.md "Rollback"): the spare is never disconnected.
 * - With an external Mosquitto (examples/mosquitto.conf), it takes the session over once, is
 *   refused at its hello and told why, and stops: the spare reconnects once.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { deviceIdOf } from './device-driver.js';
import { fixturePath } from './fixtures.js';
import { type DeviceProcess, freePort, journalById, type Mosquitto, startDeviceProcess, startMosquitto, waitForOutput } from './remote-helpers.js';
import { loadTranscript } from './transcript.js';

const NAME = 'session-basic-l1.jsonl';
const PATH = fixturePath(`transcripts/${NAME}`);
const transcript = loadTranscript(PATH);
const secret = Buffer.from(transcript.header.hsm_secret, 'hex');
const DEVICE = deviceIdOf(secret);
const SPARE_JOINS = 10;
const KILL_AFTER = 100;
const RETURN_AFTER = 140;
/** A reply may wait this long while the spare takes over (on a loaded machine): its speed is not what is checked. */
const TAKEOVER_MS = 30_000;

const exited = (p: DeviceProcess): Promise<number | null> =>
  p.child.exitCode !== null || p.child.signalCode !== null ? Promise.resolve(p.child.exitCode) : new Promise((r) => p.child.once('exit', (code) => r(code)));

interface Run {
  /** The returned old primary's output (this run only), its exit code, and its journal before and after. */
  readonly returned: { readonly output: string; readonly code: number | null; readonly before: Map<bigint, string>; readonly after: Map<bigint, string> };
  /** The spare's output from when the old primary came back to the end, and whether it was still running then. */
  readonly spareAfterReturn: string;
  readonly spareRunning: boolean;
  /** The spare's journal. */
  readonly spareJournal: Map<bigint, string>;
  /** lightningd's view of sphinx-hsmd's log. */
  readonly hsmdLog: string;
}

/** The scenario: on the embedded server, or on `mosquitto`. */
async function failoverThenStaleReturns(mosquitto?: Mosquitto): Promise<Run> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sphinx-broker-'));
  const port = await freePort();
  const brokerIdFile = join(dataDir, 'broker-id');
  const url = mosquitto ? mosquitto.deviceUrl : `mqtt://127.0.0.1:${port}`;
  const args = mosquitto ? ['--ca', mosquitto.caFile, '--mqtt-password-file', mosquitto.passwordFiles.get(DEVICE)!] : [];
  const ld = await SimLightningd.start({
    timeoutMs: TAKEOVER_MS,
    hsmSecret: secret,
    args: transcript.header.hsmd_args,
    env: {
      SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: dataDir, SPHINX_MQTT_PORT: String(port), SPHINX_CLN_VERSION: transcript.header.cln_version,
      ...(mosquitto ? { SPHINX_MQTT_URL: mosquitto.url, SPHINX_MQTT_CA: mosquitto.caFile } : {}),
    },
  });
  // Reaped: the replay blocks this process, which could not reap a SIGKILLed child, and a zombie
  // would still hold the data directory's lock when the primary comes back.
  const primary = startDeviceProcess({ url, brokerIdFile, hsmSecret: secret, args, reaped: true });
  let spare: DeviceProcess | undefined;
  let returned: DeviceProcess | undefined;
  let firstRun = 0;
  let spareAtReturn = 0;
  let before = new Map<bigint, string>();
  try {
    const result = ld.replay(PATH, (ex) => {
      if (ex.seq === transcript.exchanges[SPARE_JOINS]!.seq) spare = startDeviceProcess({ url, brokerIdFile, hsmSecret: secret, args: [...args, '--spare'] });
      if (ex.seq === transcript.exchanges[KILL_AFTER]!.seq) {
        waitForOutput(() => spare!.output(), /spare: standing by/, TAKEOVER_MS);
        primary.sigkill();
      }
      if (ex.seq !== transcript.exchanges[RETURN_AFTER]!.seq) return;
      // The spare answered every exchange since the kill; the old primary comes back on its old data.
      assert.match(spare!.output(), /connected to mqtts?:/, 'the spare is the active device');
      before = journalById(primary.dir);
      firstRun = primary.output().length;
      spareAtReturn = spare!.output().length;
      returned = startDeviceProcess({ url, brokerIdFile, hsmSecret: secret, args, dir: primary.dir });
      // Booted and connecting: the rest of the session goes on meanwhile.
      waitForOutput(() => returned!.output().slice(firstRun), /journal resumes after id/, TAKEOVER_MS);
    });
    const code = await Promise.race([exited(returned!), new Promise<null>((r) => setTimeout(() => r(null), TAKEOVER_MS))]);
    // Before the broker stops (its embedded server's close would disconnect the spare).
    const spareRunning = spare!.child.exitCode === null && spare!.child.signalCode === null;
    const spareAfterReturn = spare!.output().slice(spareAtReturn);
    await ld.stop();
    assert.equal(result.failed, 0, `replay: ${JSON.stringify(result.mismatches.slice(0, 3))}\nreturned:\n${returned?.output().slice(firstRun)}\nspare:\n${spare?.output()}\nhsmd:\n${ld.describeStatus()}`);
    await spare!.stop();
    return {
      returned: { output: returned!.output().slice(firstRun), code, before, after: journalById(primary.dir) },
      spareAfterReturn,
      spareRunning,
      spareJournal: journalById(spare!.dir),
      hsmdLog: ld.describeStatus(),
    };
  } finally {
    await returned?.stop();
    await primary.stop();
    await spare?.stop();
    ld.cleanup();
    for (const dir of [dataDir, primary.dir, spare?.dir]) if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** What every run shows: the old primary exits 3 with both ids and the way out, having decided nothing; the spare stays. */
function assertRetired(run: Run): void {
  const { returned } = run;
  const lastId = [...returned.before.keys()].reduce((a, b) => (b > a ? b : a), 0n);
  assert.equal(returned.code, 3, returned.output);
  const said = new RegExp(`sphinx-signer: the broker refused device ${DEVICE}: its journal ends at id ${lastId} but the broker log shows id (\\d+) answered`).exec(returned.output);
  assert.ok(said, returned.output);
  const answeredUpTo = BigInt(said[1]!);
  assert.ok(answeredUpTo > lastId && run.spareJournal.has(answeredUpTo), `id ${answeredUpTo} was answered by the spare`);
  assert.match(returned.output, /wipe its data directory, hsm_secret included.*\(docs\/journal.md "Retiring a device"\).*restore its newest journal/);
  assert.match(returned.output, /LED.*retired/);
  assert.deepEqual(returned.after, returned.before, 'the old primary decided nothing');
  assert.ok(run.spareRunning, 'the spare was still running at the end');
  assert.doesNotMatch(run.spareAfterReturn, /refused|announcing .* failed|offline/, run.spareAfterReturn);
}

test('a retired primary comes back on its old journal (embedded server): kept off the spare\'s session, told why, exits 3; the spare is never disconnected', async () => {
  const run = await failoverThenStaleReturns();
  assertRetired(run);
  assert.doesNotMatch(run.spareAfterReturn, /lost the connection/, `the spare kept its session:\n${run.spareAfterReturn}`);
  assert.match(run.hsmdLog, new RegExp(`log\\(6\\) remote signer: device ${DEVICE} refused: its journal ends at id \\d+ but the broker log shows id \\d+ answered: .*Its connection is kept apart: the active device keeps its MQTT session`));
  assert.match(run.hsmdLog, new RegExp(`MQTT: device ${DEVICE} authenticated \\(client id ${DEVICE}-refused, kept apart as stale`));
});

const mosquittoInstalled = spawnSync('sh', ['-c', 'command -v mosquitto']).status === 0;
test('a retired primary comes back on its old journal (external Mosquitto): one takeover, refused at its hello, told why, exits 3; the spare reconnects once', { skip: !mosquittoInstalled && 'mosquitto is not installed (.ci/run installs it)' }, async () => {
  const mosquitto = await startMosquitto([DEVICE]);
  try {
    const run = await failoverThenStaleReturns(mosquitto);
    assertRetired(run);
    assert.equal((run.spareAfterReturn.match(/lost the connection/g) ?? []).length, 1, `one takeover, at the old primary's connection:\n${run.spareAfterReturn}`);
    assert.match(run.hsmdLog, new RegExp(`remote signer: device ${DEVICE} refused: its journal ends at id \\d+ but the broker log shows id \\d+ answered`));
  } finally {
    await mosquitto.stop();
  }
});
