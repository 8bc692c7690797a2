/**
 * The in-process signer journals under SPHINX_DATA_DIR, so a restarted bin/sphinx-hsmd
 * resumes its channels: session-basic-l1 replayed up to seq 98 in one hsmd, then (after
 * lightningd's restart: hsmd_init and the client fds again) the rest in a second hsmd on
 * the same data dir, every reply identical to CLN's recording; the second hsmd refuses a
 * sign_remote_commitment_tx that skips a number, which only the journaled history shows
 * (a fresh data dir signs it, as CLN's stateless hsmd would). A corrupt journal makes
 * hsmd refuse with status_fail naming the file, the byte offset and the way out; so does a
 * journal whose last 4 KiB were zeroed (damage, not a torn write: the high-water mark shows
 * their records were answered; the file is left byte for byte), and one restored from an older
 * copy (below its high-water mark), until the operator sets SPHINX_ACCEPT_JOURNAL_ROLLBACK=1.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { scanFrames } from '../log/journal/frame.js';
import { fixturePath } from './fixtures.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { Closed } from './sync-wire.js';
import { type Exchange, loadTranscript, replayExchanges } from './transcript.js';

const { header, exchanges } = loadTranscript(fixturePath('transcripts/session-basic-l1.jsonl'));
const SPLIT = 98;
const SKIPPING = exchanges.find((e) => e.seq === 101)!; // sign_remote_commitment_tx n=3 (last signed: 1)
const EXIT_FATAL = 242;
/** Where the journal's frames end: reserved space may follow (docs/journal.md "Reserved space"). */
const contentEnd = (path: string): number => scanFrames(path, new Uint8Array(readFileSync(path))).end;

const start = (dataDir: string, env: Record<string, string> = {}) =>
  SimLightningd.start({ hsmSecret: Buffer.from(header.hsm_secret, 'hex'), args: header.hsmd_args, env: { SPHINX_DATA_DIR: dataDir, SPHINX_SIGNER: 'local', ...env } });

/** hsmd on `dataDir` gets lightningd's init again: the status_fail it answers with. */
async function refusedAtInit(dataDir: string): Promise<string> {
  const ld = await start(dataDir);
  try {
    ld.master.send(restartExchanges([])[0]!.req);
    const fail = await ld.waitForStatus((m) => m.kind === 'fail');
    assert.ok(fail.kind === 'fail');
    assert.equal(fail.reason, 3); // STATUS_FAIL_INTERNAL_ERROR
    assert.equal((await ld.exited()).code, EXIT_FATAL);
    return fail.desc;
  } finally {
    ld.cleanup();
  }
}

/** What lightningd does again after a restart: hsmd_init, and the client fds `rest` uses. */
function restartExchanges(rest: readonly Exchange[]): Exchange[] {
  const created = new Set(rest.flatMap((e) => (e.creates ? [e.creates] : [])));
  const needed = new Set(rest.map((e) => e.conn).filter((c) => c !== 'master' && !created.has(c)));
  const init = exchanges.find((e) => parseInt(e.req.slice(0, 4), 16) === 11)!;
  return [init, ...exchanges.filter((e) => e.creates && needed.has(e.creates) && e.seq < SPLIT)];
}

/** `ex`'s request on a new client fd for its channel: hsmd's reply type, or 'closed'. */
function onNewClient(ld: SimLightningd, ex: Exchange): number | 'closed' {
  const client = ld.hsmfd(Buffer.from(ex.peer!, 'hex'), BigInt(ex.dbid), BigInt(ex.perms));
  client.send(ex.req);
  try {
    const reply = client.receive(5_000);
    return (reply[0]! << 8) | reply[1]!;
  } catch (e) {
    if (e instanceof Closed) return 'closed';
    throw e;
  }
}

test('a restarted hsmd on the same SPHINX_DATA_DIR resumes the channel: replies identical, history policies apply', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sphinx-data-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = await start(dataDir);
  try {
    const r = replayExchanges(first, exchanges.filter((e) => e.seq < SPLIT));
    assert.deepEqual(r.mismatches, []);
    assert.equal((await first.stop()).code, 2);
  } finally {
    first.cleanup();
  }

  const second = await start(dataDir);
  try {
    const rest = exchanges.filter((e) => e.seq >= SPLIT);
    const restart = restartExchanges(rest);
    let refused: number | 'closed' | undefined;
    // Right after hsmd_init, the skipping request on a client fd of its own (the channel's
    // fd for the rest comes after: CLN closes a client when another takes its dbid).
    const r = replayExchanges(second, [...restart, ...rest], (ex) => {
      if (ex === restart[0]) refused = onNewClient(second, SKIPPING);
    });
    assert.deepEqual(r.mismatches, []);
    assert.equal(r.passed, restart.length + rest.length);
    assert.equal(refused, 'closed', 'skipping commitment 2 refused after the restart');
    const badRequest = await second.waitForStatus((m) => m.kind === 'badRequest');
    assert.match(badRequest.kind === 'badRequest' ? badRequest.description : '', /policy-commitment-counterparty-order/);
  } finally {
    second.cleanup();
  }
});

test('without the journal (a fresh data dir) the same skipping request is signed, as CLN\'s hsmd does', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sphinx-data-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const ld = await start(dataDir);
  try {
    assert.deepEqual(replayExchanges(ld, restartExchanges([SKIPPING])).mismatches, []);
    assert.equal(onNewClient(ld, SKIPPING), 0x70); // hsmd_sign_tx_reply
  } finally {
    ld.cleanup();
  }
});

test('a corrupt journal: hsmd refuses to sign, status_fail names the file, the offset and the fix', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sphinx-data-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = await start(dataDir);
  try {
    assert.deepEqual(replayExchanges(first, exchanges.filter((e) => e.seq < 60)).mismatches, []);
    await first.stop();
  } finally {
    first.cleanup();
  }
  const path = join(dataDir, 'journal');
  const bytes = readFileSync(path);
  bytes[20] = (bytes[20]! ^ 0x01) & 0xff; // inside the first record (the init)
  writeFileSync(path, bytes);

  const second = await start(dataDir);
  try {
    const init = restartExchanges([])[0]!;
    second.master.send(init.req);
    const fail = await second.waitForStatus((m) => m.kind === 'fail');
    assert.ok(fail.kind === 'fail');
    assert.equal(fail.reason, 3); // STATUS_FAIL_INTERNAL_ERROR
    assert.match(fail.desc, new RegExp(`^journal ${path} is corrupt at byte offset 0: CRC-32C .*a good frame follows at offset \\d+`));
    assert.match(fail.desc, new RegExp(`move it aside \\(e\\.g\\. mv ${dataDir} ${dataDir}\\.corrupt\\)`));
    assert.equal((await second.exited()).code, EXIT_FATAL);
  } finally {
    second.cleanup();
  }
});

test('a zeroed last 4 KiB of the journal is damage, not a torn write: hsmd refuses, the file is left as it was', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sphinx-data-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = await start(dataDir);
  try {
    assert.deepEqual(replayExchanges(first, exchanges).mismatches, []);
    await first.stop();
  } finally {
    first.cleanup();
  }
  const path = join(dataDir, 'journal');
  const bytes = readFileSync(path);
  const end = contentEnd(path);
  assert.ok(end > 2 * 4096);
  // The zeros begin in (or at) the frame holding the first byte zeroed: a blank tail, judged by the mark.
  const from = scanFrames(path, new Uint8Array(bytes)).frames.filter((f) => f.offset <= end - 4096).at(-1)!.offset;
  bytes.fill(0, end - 4096, end); // the last 4 KiB of records, not the reserved space after them
  writeFileSync(path, bytes);
  const desc = await refusedAtInit(dataDir);
  assert.match(desc, new RegExp(`^journal ${path} is corrupt at byte offset ${from}: \\d+ (zero bytes|bytes \\(a frame's first \\d+, then zero bytes\\)) ` +
    'after the last good frame \\(last id \\d+\\), but the high-water mark in .* is id \\d+: replies up to id \\d+ were sent'));
  assert.deepEqual(readFileSync(path), bytes, 'nothing was cut');
});

test('a journal restored from an older copy is refused (nothing signed from it) until SPHINX_ACCEPT_JOURNAL_ROLLBACK=1', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sphinx-data-'));
  const older = mkdtempSync(join(tmpdir(), 'sphinx-older-'));
  t.after(() => [dataDir, older].forEach((d) => rmSync(d, { recursive: true, force: true })));
  const first = await start(dataDir);
  try {
    assert.deepEqual(replayExchanges(first, exchanges.filter((e) => e.seq < SPLIT)).mismatches, []);
    await first.stop();
  } finally {
    first.cleanup();
  }
  for (const name of ['journal', 'snapshot-a', 'snapshot-b']) cpSync(join(dataDir, name), join(older, name));
  // The rest of the session: the channel goes on, our older commitments get revoked.
  const second = await start(dataDir);
  try {
    const rest = exchanges.filter((e) => e.seq >= SPLIT);
    assert.deepEqual(replayExchanges(second, [...restartExchanges(rest), ...rest]).mismatches, []);
    await second.stop();
  } finally {
    second.cleanup();
  }
  const newestEnd = contentEnd(join(dataDir, 'journal'));
  for (const name of ['journal', 'snapshot-a', 'snapshot-b']) cpSync(join(older, name), join(dataDir, name));

  const desc = await refusedAtInit(dataDir);
  assert.match(desc, new RegExp(`the journal ends at request id \\d+ but replies up to id \\d+ were sent from it \\(high-water mark in ${dataDir}/high-water-\\{a,b\\}\\)`));
  assert.match(desc, /Refusing to sign\. Put the newest journal back .*SPHINX_ACCEPT_JOURNAL_ROLLBACK=1/);
  assert.ok(contentEnd(join(dataDir, 'journal')) < newestEnd);

  const accepted = await start(dataDir, { SPHINX_ACCEPT_JOURNAL_ROLLBACK: '1' });
  try {
    assert.deepEqual(replayExchanges(accepted, restartExchanges([])).mismatches, [], 'the operator\'s way out: init answered');
  } finally {
    accepted.cleanup();
  }
});
