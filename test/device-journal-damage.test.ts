/**
 * A device whose whole journal file was overwritten, through the real processes
 * (docs/journal.md "Recovery"): a simulated lightningd → bin/sphinx-hsmd (remote, embedded MQTT)
 * → bin/sphinx-signer, which journals the first part of session-basic-l1 (CLN v25.12.1) and
 * stops. Its journal, reserved space and all, is then overwritten with zeros, with random
 * bytes, and with random bytes whose first four announce a frame longer than the file (the
 * shape of a torn first write: one random file in 256 starts so). Started on each, the
 * device refuses to sign, naming the journal, the offset and the way out (exit 1, before it
 * connects), and leaves the file byte for byte; lightningd's request, waiting in the broker
 * meanwhile, gets no reply. The journal put back, the device answers it with CLN's reply.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { JOURNAL_FILE } from '../log/journal/journal.js';
import { fixturePath } from './fixtures.js';
import { type DeviceProcess, freePort, startDeviceProcess } from './remote-helpers.js';
import { Timeout } from './sync-wire.js';
import { loadTranscript, replayExchanges } from './transcript.js';

const { header, exchanges } = loadTranscript(fixturePath('transcripts/session-basic-l1.jsonl'));
const SECRET = Buffer.from(header.hsm_secret, 'hex');
/** Past several commitment rounds: the journal holds revocations a fresh state would not know. */
const BEFORE = 80;

/** Each damage, and what the refusal says of it (after "journal <path> is corrupt at byte offset 0: "). */
const DAMAGES: readonly [string, (length: number) => Buffer, RegExp][] = [
  ['zeros', (length) => Buffer.alloc(length), /\d+ zero bytes after the last good frame \(last id none\), but the high-water mark in .* is id \d+: replies up to id \d+ were sent/],
  ['random bytes', (length) => randomBytes(length), /not a torn last write|high-water mark/],
  ['random bytes announcing a longer first frame', (length) => Buffer.concat([Uint8Array.of(0, 0xff, 0xff, 0xff), randomBytes(length - 4)]), /high-water mark/],
];

/** The device's exit code once it exits, or 'running' after `ms`. */
async function exitOf(device: DeviceProcess, ms: number): Promise<number | null | 'running'> {
  if (device.child.exitCode !== null) return device.child.exitCode;
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    new Promise<number | null>((r) => device.child.once('exit', (c) => r(c))),
    new Promise<'running'>((r) => (timer = setTimeout(() => r('running'), ms))),
  ]);
  clearTimeout(timer);
  return code;
}

test('a device whose journal was overwritten whole (zeros, random bytes) refuses to sign by name, keeps the file, and signs nothing', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sphinx-journal-damage-'));
  const port = await freePort();
  const deviceOptions = { url: `mqtt://127.0.0.1:${port}`, dir: join(dataDir, 'device'), brokerIdFile: join(dataDir, 'broker-id'), hsmSecret: SECRET };
  let device = startDeviceProcess(deviceOptions);
  const ld = await SimLightningd.start({
    hsmSecret: SECRET,
    args: header.hsmd_args,
    env: { SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: dataDir, SPHINX_MQTT_PORT: String(port), SPHINX_CLN_VERSION: header.cln_version },
  });
  t.after(async () => {
    await device.stop();
    ld.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const first = replayExchanges(ld, exchanges.slice(0, BEFORE));
  assert.equal(first.failed, 0, JSON.stringify(first.mismatches));
  await device.stop();
  const journal = join(device.dir, JOURNAL_FILE);
  const kept = readFileSync(journal);

  // lightningd's next request waits in the broker: no device is connected.
  const next = exchanges.slice(BEFORE).find((ex) => ex.conn === 'master' && !ex.req.startsWith('0009'))!;
  ld.master.send(next.req);
  for (const [what, damage, detail] of DAMAGES) {
    const damaged = damage(kept.length);
    writeFileSync(journal, damaged);
    const outputBefore = device.output().length;
    device = startDeviceProcess({ ...deviceOptions, dir: device.dir });
    assert.equal(await exitOf(device, 20_000), 1, `${what}: the device stops (exit 1)`);
    const told = device.output().slice(outputBefore);
    assert.match(told, new RegExp(`sphinx-signer: journal ${journal} is corrupt at byte offset 0: `), `${what}: refused by name`);
    assert.match(told, detail, what);
    assert.match(told, new RegExp(`Refusing to sign with a state that cannot be rebuilt\\. Keep the file for inspection and move it aside \\(e\\.g\\. mv ${device.dir} ${device.dir}\\.corrupt\\)`), what);
    assert.ok(readFileSync(journal).equals(damaged), `${what}: the file is left byte for byte`);
  }
  assert.throws(() => ld.master.receive(1500), Timeout, 'nothing answered the waiting request');

  // The journal put back: the waiting request gets CLN's recorded reply (so it would have been answered).
  writeFileSync(journal, kept);
  device = startDeviceProcess({ ...deviceOptions, dir: device.dir });
  assert.equal(Buffer.from(ld.master.receive(20_000)).toString('hex'), next.rep, 'the waiting request gets CLN\'s recorded reply');
});
