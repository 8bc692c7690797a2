/**
 * A retired device comes back (docs/journal.md "Retiring a device"), with real processes:
 * simulated lightningd → bin/sphinx-hsmd (remote) → a primary bin/sphinx-signer, and a spare
 * (`--spare`, same seed) standing by. The primary is SIGKILLed mid-session and the spare takes
 * over; later the old primary is started again on its old data directory. Its journal is
 * behind what the spare answered: it exits 3 naming its last id, the id the broker answered
 * up to and what its owner does, having decided nothing; the spare stays active and the
 * recorded session completes byte for byte. Started once more on that directory, which now
 * holds the retired marker (DIR/retired), it exits 3 at once with the same advice, and the MQTT
 * server sees no connection from it.
 * - With the embedded server, the old primary never takes the spare's MQTT session over (its
 *   token says its last id: docs/remote-protocol.md "Rollback"): the spare is never disconnected.
 * - With an external Mosquitto (examples/mosquitto.conf), it takes the session over once, is
 *   refused at its hello and told why, and stops: the spare reconnects once.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { deviceIdOf } from './device-driver.js';
import { fixturePath } from './fixtures.js';
import { type DeviceProcess, freePort, journalById, type Mosquitto, startDeviceProcess, startMosquitto, waitForOutput } from './remote-helpers.js';
import { loadTranscript } from './transcript.js';
import { decodeRetiredMarker, RETIRED_FILE } from '../firmware/app/retired.js';

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
  /** It started once more on that directory: its output and exit code (then as a spare: its exit code), and the MQTT server's connections (by `connections`) before and after. */
  readonly again: { readonly output: string; readonly code: number | null; readonly asSpareCode: number | null; readonly connections: readonly [number, number]; readonly marker: ReturnType<typeof decodeRetiredMarker> };
  /** The spare's output from when the old primary came back to the end, and whether it was still running then. */
  readonly spareAfterReturn: string;
  readonly spareRunning: boolean;
  /** The spare's journal. */
  readonly spareJournal: Map<bigint, string>;
  /** lightningd's view of sphinx-hsmd's log. */
  readonly hsmdLog: string;
}

/**
 * The scenario: on the embedded server, or on `mosquitto`. `connections` counts the connections
 * the MQTT server has logged (given lightningd's view of sphinx-hsmd's log).
 */
async function failoverThenStaleReturns(connections: (hsmdLog: string) => number, mosquitto?: Mosquitto): Promise<Run> {
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
    const returnedOutput = returned!.output().slice(firstRun);
    // Started again on the same directory, while the spare and the broker run on.
    await settled();
    const connectionsBefore = connections(ld.describeStatus());
    const againFrom = returned!.output().length;
    const again = startDeviceProcess({ url, brokerIdFile, hsmSecret: secret, args, dir: primary.dir });
    const againCode = await Promise.race([exited(again), new Promise<null>((r) => setTimeout(() => r(null), TAKEOVER_MS))]);
    // And as a spare: refused the same way (docs/journal.md "Retiring a device").
    const asSpare = startDeviceProcess({ url, brokerIdFile, hsmSecret: secret, args: [...args, '--spare'], dir: primary.dir });
    const asSpareCode = await Promise.race([exited(asSpare), new Promise<null>((r) => setTimeout(() => r(null), TAKEOVER_MS))]);
    await settled();
    const connectionsAfter = connections(ld.describeStatus());
    const againOutput = again.output().slice(againFrom);
    await again.stop();
    await asSpare.stop();
    // Before the broker stops (its embedded server's close would disconnect the spare).
    const spareRunning = spare!.child.exitCode === null && spare!.child.signalCode === null;
    const spareAfterReturn = spare!.output().slice(spareAtReturn);
    await ld.stop();
    assert.equal(result.failed, 0, `replay: ${JSON.stringify(result.mismatches.slice(0, 3))}\nreturned:\n${returned?.output().slice(firstRun)}\nspare:\n${spare?.output()}\nhsmd:\n${ld.describeStatus()}`);
    await spare!.stop();
    return {
      returned: { output: returnedOutput, code, before, after: journalById(primary.dir) },
      again: { output: againOutput, code: againCode, asSpareCode, connections: [connectionsBefore, connectionsAfter], marker: decodeRetiredMarker(readFileSync(join(primary.dir, RETIRED_FILE))) },
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

/** Long enough for a line the MQTT server logged to reach lightningd's log (read asynchronously) and this test. */
const settled = () => new Promise((r) => setTimeout(r, 1000));

/**
 * What every run shows: the old primary exits 3 with both ids and the way out, having decided
 * nothing, and remembers it: started again, it exits 3 at once, no new connection; the spare stays.
 */
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
  // Its data directory remembers: started again, it stops before connecting, saying the same.
  const { again } = run;
  assert.deepEqual(again.marker, { deviceId: DEVICE, lastId, answeredUpTo, at: (again.marker as { at: number }).at });
  assert.equal(again.code, 3, again.output);
  assert.match(again.output, new RegExp(`sphinx-signer: retired, not connecting: \\S+/${RETIRED_FILE} records that at \\S+ the broker refused device ${DEVICE}: its journal ends at id ${lastId} but the broker log shows id ${answeredUpTo} answered`));
  assert.match(again.output, /wipe its data directory, hsm_secret included.*\(docs\/journal.md "Retiring a device"\).*restore its newest journal.*then delete \S+\/retired and start it/);
  assert.match(again.output, /LED.*retired/);
  assert.doesNotMatch(again.output, /connected to|warm start|journal resumes/, 'it neither connected nor opened its journal');
  assert.equal(again.asSpareCode, 3, 'started as a spare on it: refused too');
  assert.equal(again.connections[1], again.connections[0], 'the MQTT server saw no connection from it (as the device, nor as a spare)');
  assert.ok(run.spareRunning, 'the spare was still running at the end');
  assert.doesNotMatch(run.spareAfterReturn, /refused|announcing .* failed|offline/, run.spareAfterReturn);
}

test('a retired primary comes back on its old journal (embedded server): kept off the spare\'s session, told why, exits 3; the spare is never disconnected', async () => {
  const run = await failoverThenStaleReturns((hsmdLog) => hsmdLog.match(/MQTT: device [0-9a-f]+ authenticated/g)?.length ?? 0);
  assertRetired(run);
  assert.ok(run.again.connections[0] >= 3, `the count sees the primary, the spare and the returned one: ${run.again.connections[0]}`);
  assert.doesNotMatch(run.spareAfterReturn, /lost the connection/, `the spare kept its session:\n${run.spareAfterReturn}`);
  assert.match(run.hsmdLog, new RegExp(`log\\(6\\) remote signer: device ${DEVICE} refused: its journal ends at id \\d+ but the broker log shows id \\d+ answered: .*Its connection is kept apart: the active device keeps its MQTT session`));
  assert.match(run.hsmdLog, new RegExp(`MQTT: device ${DEVICE} authenticated \\(client id ${DEVICE}-refused, kept apart as stale`));
});

const mosquittoInstalled = spawnSync('sh', ['-c', 'command -v mosquitto']).status === 0;
test('a retired primary comes back on its old journal (external Mosquitto): one takeover, refused at its hello, told why, exits 3; the spare reconnects once', { skip: !mosquittoInstalled && 'mosquitto is not installed (.ci/run installs it)' }, async () => {
  const mosquitto = await startMosquitto([DEVICE]);
  try {
    // Every TCP connection Mosquitto accepted (log_type all), before any login.
    const run = await failoverThenStaleReturns(() => mosquitto.log().match(/New connection from /g)?.length ?? 0, mosquitto);
    assertRetired(run);
    assert.ok(run.again.connections[0] >= 4, `the count sees the broker, the primary, the spare and the returned one: ${run.again.connections[0]}`);
    assert.equal((run.spareAfterReturn.match(/lost the connection/g) ?? []).length, 1, `one takeover, at the old primary's connection:\n${run.spareAfterReturn}`);
    assert.match(run.hsmdLog, new RegExp(`remote signer: device ${DEVICE} refused: its journal ends at id \\d+ but the broker log shows id \\d+ answered`));
  } finally {
    await mosquitto.stop();
  }
});
