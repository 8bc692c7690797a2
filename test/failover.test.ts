/**
 * One active device (docs/journal.md "Spare and failover"), with real processes: simulated
 * lightningd → bin/sphinx-hsmd (remote, embedded MQTT) → a primary bin/sphinx-signer, and a
 * spare (`--spare`, same seed, its own empty data directory) connected all along. The primary
 * is SIGKILLed mid-session: the spare takes over only after catching up from the mirror, the
 * recorded session completes byte-identical, and no request id is decided by both devices
 * (checked from both journals: the spare's records up to where it caught up are the
 * primary's, byte for byte; every id it decided itself is absent from the primary's journal).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { fixturePath } from './fixtures.js';
import { freePort, journalById, SIGNER_BIN, startDeviceProcess, waitForOutput } from './remote-helpers.js';
import { loadTranscript } from './transcript.js';

const NAME = 'session-basic-l1.jsonl';
const PATH = fixturePath(`transcripts/${NAME}`);
const transcript = loadTranscript(PATH);
const secret = Buffer.from(transcript.header.hsm_secret, 'hex');
const KILL_AFTER = 100;
/** A reply may wait this long while the spare takes over (on a loaded machine): the takeover's speed is not what is checked. */
const TAKEOVER_MS = 30_000;

test('primary SIGKILLed with a spare connected: the spare takes over after catching up, the session completes byte-identical, no id decided by both', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sphinx-broker-'));
  const port = await freePort();
  const url = `mqtt://127.0.0.1:${port}`;
  const brokerIdFile = join(dataDir, 'broker-id');
  const ld = await SimLightningd.start({
    timeoutMs: TAKEOVER_MS,
    hsmSecret: secret,
    args: transcript.header.hsmd_args,
    env: { SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: dataDir, SPHINX_MQTT_PORT: String(port), SPHINX_CLN_VERSION: transcript.header.cln_version },
  });
  const primary = startDeviceProcess({ url, brokerIdFile, hsmSecret: secret });
  let spare: ReturnType<typeof startDeviceProcess> | undefined;
  let spareBeforeKill = '';
  try {
    const result = ld.replay(PATH, (ex) => {
      // The spare joins once the session runs (the primary online), stands by through many requests.
      if (ex.seq === transcript.exchanges[10]!.seq) spare = startDeviceProcess({ url, brokerIdFile, hsmSecret: secret, args: ['--spare'] });
      if (ex.seq !== transcript.exchanges[KILL_AFTER]!.seq) return;
      // The scenario needs the spare standing by at the kill; the replay may outrun its boot.
      spareBeforeKill = waitForOutput(() => spare!.output(), /spare: standing by/, TAKEOVER_MS);
      primary.child.kill('SIGKILL');
    });
    const exit = await ld.stop();
    const out = spare?.output() ?? '';
    assert.equal(result.failed, 0, `replay: ${JSON.stringify(result.mismatches.slice(0, 3))}\nprimary:\n${primary.output()}\nspare:\n${out}\nhsmd:\n${ld.describeStatus()}`);
    assert.equal(exit.code, 2);
    assert.match(spareBeforeKill, /spare: standing by for device [0-9a-f]{66}/);
    assert.doesNotMatch(spareBeforeKill, /journal resumes|connected to mqtt/, 'the spare was not active before the kill');
    assert.match(out, /spare: the primary is offline/);
    const caughtUp = /restore: journal rebuilt up to request id (\d+)/.exec(out);
    assert.ok(caughtUp, `the spare caught up from the mirror first:\n${out}`);
    const upTo = BigInt(caughtUp[1]!);
    await spare!.stop();
    await primary.stop();

    const fromPrimary = journalById(primary.dir);
    const fromSpare = journalById(spare!.dir);
    assert.ok(fromPrimary.size > 50 && fromSpare.size > fromPrimary.size / 2, `both journals hold the session (${fromPrimary.size}, ${fromSpare.size})`);
    for (const [id, bytes] of fromSpare) {
      if (id <= upTo) assert.equal(bytes, fromPrimary.get(id), `id ${id}: the spare's copy is the primary's record`);
      else assert.ok(!fromPrimary.has(id), `id ${id} decided by both devices`);
    }
    assert.ok([...fromSpare.keys()].some((id) => id > upTo), 'the spare decided the rest of the session');

    // The old primary cannot be made a spare (or restored) on its old journal: refused at once.
    for (const flag of ['--spare', '--restore']) {
      const again = spawnSync(process.execPath, [SIGNER_BIN, '--mqtt', url, '--data', primary.dir, '--broker-id-file', brokerIdFile, flag], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(again.status, 1, again.stderr);
      assert.match(again.stderr, new RegExp(`${flag} needs a data directory without a journal, and this one is readable`));
    }
  } finally {
    await primary.stop();
    await spare?.stop();
    ld.cleanup();
    for (const dir of [dataDir, primary.dir, spare?.dir]) if (dir) rmSync(dir, { recursive: true, force: true });
  }
});
