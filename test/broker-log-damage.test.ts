/**
 * A damaged or missing broker log met by the real broker (docs/broker-log.md): a simulated
 * lightningd → bin/sphinx-hsmd (remote, LevelDB broker log) → bin/sphinx-signer replays the
 * first part of session-basic-l1, both stop; then a bit is flipped in the log's write-ahead
 * log, or the log directory is deleted. sphinx-hsmd must refuse to start (status_fail, as CLN's
 * hsmd fails) naming the place and the way out, and change no file of the log; with the
 * operator's SPHINX_ACCEPT_NEW_BROKER_LOG=1 a deleted log is replaced by a new one, loudly
 * (a damaged leftover MQTT session store next to it is not read).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { fileHashes, fixturePath } from './fixtures.js';
import { failText, hsmdOnce } from './hsmd-once.js';
import { freePort, startDeviceProcess } from './remote-helpers.js';
import { loadTranscript, replayExchanges } from './transcript.js';

const transcript = loadTranscript(fixturePath('transcripts/session-basic-l1.jsonl'));
const { header, exchanges } = transcript;

/** A broker data directory after a remote session of `n` exchanges and a clean stop. */
async function brokerAfterSession(root: string, n: number): Promise<string> {
  const dataDir = join(root, 'broker');
  const port = await freePort();
  const device = startDeviceProcess({ url: `mqtt://127.0.0.1:${port}`, dir: join(root, 'device'), brokerIdFile: join(dataDir, 'broker-id'), hsmSecret: Buffer.from(header.hsm_secret, 'hex') });
  const ld = await SimLightningd.start({
    hsmSecret: Buffer.from(header.hsm_secret, 'hex'),
    args: header.hsmd_args,
    env: { SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: dataDir, SPHINX_MQTT_PORT: String(port), SPHINX_CLN_VERSION: header.cln_version },
  });
  try {
    const replayed = replayExchanges(ld, exchanges.slice(0, n));
    assert.equal(replayed.failed, 0, JSON.stringify(replayed.mismatches));
  } finally {
    await ld.stop();
    await device.stop();
    ld.cleanup();
  }
  return dataDir;
}

test('sphinx-hsmd refuses a broker log with a flipped bit in its write-ahead log, or a deleted one, naming it; changes nothing; a new log only by the operator\'s setting', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'sphinx-log-damage-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const session = await brokerAfterSession(root, 120);
  const cwd = mkdtempSync(join(root, 'cwd-'));
  const env = async (dataDir: string): Promise<Record<string, string>> => ({ SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: dataDir, SPHINX_MQTT_PORT: String(await freePort()) });

  // A bit flipped in the write-ahead log.
  const flipped = join(root, 'flipped');
  cpSync(session, flipped, { recursive: true });
  const logDir = join(flipped, 'broker-log');
  const wal = join(logDir, readdirSync(logDir).find((f) => f.endsWith('.log'))!);
  const bytes = readFileSync(wal);
  assert.ok(bytes.length > 40_000, `the write-ahead log holds the session (${bytes.length} bytes)`);
  bytes[Math.floor(bytes.length / 3)]! ^= 0x40;
  writeFileSync(wal, bytes);
  const before = fileHashes(logDir);
  const damaged = hsmdOnce(transcript, await env(flipped), cwd);
  assert.equal(damaged.code, 242, 'status_fail, as CLN\'s hsmd fails');
  assert.match(failText(damaged.status), new RegExp(`cannot start the signer: the broker log ${logDir} is damaged after seq \\d+ \\(write-ahead log \\d+\\.log, byte \\d+\\): ` +
    'checksum mismatch .*Nothing in it was changed.*sphinx-audit verify.*restore the directory from a backup, or move it aside .*SPHINX_ACCEPT_NEW_BROKER_LOG=1'));
  assert.deepEqual(fileHashes(logDir), before, 'no file of the log changed');

  // The log directory deleted.
  const deleted = join(root, 'deleted');
  cpSync(session, deleted, { recursive: true });
  rmSync(join(deleted, 'broker-log'), { recursive: true });
  const missing = hsmdOnce(transcript, await env(deleted), cwd);
  assert.equal(missing.code, 242);
  assert.match(failText(missing.status), new RegExp(`cannot start the signer: the broker log ${join(deleted, 'broker-log')} is missing, but ${join(deleted, 'broker-log-created')} says it was created \\(\\d{4}-.*\\): ` +
    'a new log would restart request ids .*start once with SPHINX_ACCEPT_NEW_BROKER_LOG=1'));
  assert.deepEqual(readdirSync(deleted).filter((f) => f === 'broker-log'), [], 'no new log was made');

  // The operator's way out: the broker starts (and waits for its device) on a new log, saying so.
  // A damaged MQTT session store left by an older build (SPHINX_DATA_DIR/mqtt, LevelDB) is not
  // read at all: sessions are in memory (docs/remote-protocol.md "Sessions").
  mkdirSync(join(deleted, 'mqtt'));
  writeFileSync(join(deleted, 'mqtt', 'CURRENT'), 'MANIFEST-000009\n');
  writeFileSync(join(deleted, 'mqtt', 'MANIFEST-000009'), randomBytes(100));
  const accepted = hsmdOnce(transcript, { ...(await env(deleted)), SPHINX_ACCEPT_NEW_BROKER_LOG: '1' }, cwd, 4000);
  assert.equal(failText(accepted.status), '', 'no status_fail');
  assert.ok(accepted.status.some((m) => m.kind === 'log' && new RegExp(`broker log ${join(deleted, 'broker-log')} is missing, .*starting a new one because SPHINX_ACCEPT_NEW_BROKER_LOG=1`).test(m.entry)),
    accepted.status.map((m) => (m.kind === 'log' ? m.entry : m.kind)).join('\n'));
  assert.ok(readdirSync(join(deleted, 'broker-log')).includes('CURRENT'), 'a new log');
});
