/**
 * The device journal on the in-memory file with faults (CRC-32C itself: crc32c.test.ts): real
 * records (session-basic-l1 through a live Signer) survive reopen; a crash mid-append at every
 * byte loses only the unacknowledged record (torn tail cut and reported); a flipped bit
 * anywhere is refused naming its frame's offset (in the last frame only a length raised past
 * the end looks torn); zero-filled and overwritten regions, even at the end, are refused with
 * the file left as it was; snapshots alternate slots, survive a torn slot, and compaction
 * restarts the journal after the snapshot's id, also when a crash interrupted it.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import { sessionJournalRecords, writeJournal } from '../../test/journal-records.js';
import { MemoryDir, type MemoryFile } from '../memory-file.js';
import { FRAME_HEADER, JournalCorruptError, MAX_FRAME_PAYLOAD, encodeFrame, scanFrames } from './frame.js';
import { JOURNAL_FILE, Journal, SNAPSHOT_FILES, openJournalFiles } from './journal.js';
import { type SourcedRecord, decodeEntry, decodeRecord, encodeRecord, encodeSourced, requestIdOf } from './record.js';

const records = sessionJournalRecords();

const open = (dir: MemoryDir) => Journal.open(openJournalFiles(dir));
const journalFile = (dir: MemoryDir): MemoryFile => dir.open(JOURNAL_FILE);

const write = writeJournal;

test('records round-trip through the record codec and reopen in order', () => {
  for (const r of records) assert.deepEqual(decodeRecord(encodeRecord(r)), r);
  const dir = new MemoryDir();
  write(dir, records);
  const { journal, recovery } = open(dir);
  assert.deepEqual(recovery.records.map((s) => s.record), records);
  assert.equal(recovery.torn, undefined);
  assert.deepEqual(recovery.notes, []);
  assert.equal(journal.lastId, records.at(-1)!.id);
  assert.throws(() => journal.append(records[0]!), /record id 1 is not after the last id 193/);
});

const sourced = (source: string, seq: bigint): SourcedRecord => ({
  source,
  seq,
  at: 1_700_000_000_000 + Number(seq),
  events: [{ kind: 'PolicyWarned', policy: 'policy-htlc-count', detail: `${source} ${seq}` }],
});

test("a request record's id is read from its head alone, as for a damaged frame; other payloads name none", () => {
  for (const r of records) {
    const payload = encodeRecord(r);
    assert.equal(requestIdOf(payload), r.id);
    payload.fill(0xa5, 9); // the rest damaged: the head still names the request
    assert.equal(requestIdOf(payload), r.id);
    assert.equal(requestIdOf(payload.subarray(0, 8)), undefined);
  }
  assert.equal(requestIdOf(encodeSourced(sourced('control', 1n))), undefined);
  assert.equal(requestIdOf(new Uint8Array(64)), undefined, 'zeros are no record');
});

test('sourced records round-trip, interleave with request records in order, and must be numbered increasingly per source', () => {
  const s1 = sourced('control', 1n);
  assert.deepEqual(decodeEntry(encodeSourced(s1)), s1);
  assert.deepEqual(decodeEntry(encodeRecord(records[0]!)), records[0]);
  assert.throws(() => encodeSourced({ ...s1, source: '' }), /source name "" must be/);
  const dir = new MemoryDir();
  const { journal } = open(dir);
  journal.append(records[0]!);
  journal.appendSourced(s1);
  journal.appendSourced(sourced('chain', 1n));
  journal.append(records[1]!);
  journal.appendSourced(sourced('control', 2n));
  journal.sync();
  const { recovery, journal: reopened } = open(dir);
  assert.deepEqual(recovery.entries.map((e) => e.entry), [records[0], s1, sourced('chain', 1n), records[1], sourced('control', 2n)]);
  assert.deepEqual(recovery.records.map((r) => r.record), records.slice(0, 2));
  assert.equal(reopened.lastId, records[1]!.id);
  reopened.appendSourced(sourced('control', 2n));
  reopened.sync();
  assert.throws(() => open(dir), /control record 2 after 2 \(sequence numbers must increase\)/);
});

test('a crash during an append, torn at any byte, loses only that record; the tail is cut and reported', () => {
  const head = records.slice(0, 5);
  const last = records[5]!;
  const frameLength = encodeFrame(encodeRecord(last)).length;
  for (let keep = 0; keep < frameLength; keep++) {
    const dir = new MemoryDir();
    const journal = write(dir, head);
    journal.append(last); // not synced: not acknowledged
    dir.crash(keep);
    const { recovery } = open(dir);
    assert.deepEqual(recovery.records.map((s) => s.record), head, `keep ${keep}`);
    if (keep === 0) assert.equal(recovery.torn, undefined);
    else {
      assert.equal(recovery.torn?.length, keep);
      assert.match(recovery.notes[0]!, /torn last write of \d+ bytes at offset \d+ .*; truncated/);
    }
    // The cut is durable and the journal goes on from there.
    const again = open(dir);
    assert.equal(again.recovery.torn, undefined);
    again.journal.append(last);
    again.journal.sync();
    assert.deepEqual(open(dir).recovery.records.map((s) => s.record), [...head, last]);
  }
});

test('tearLastWrite after sync: the torn record is dropped (it was never acknowledged)', () => {
  const dir = new MemoryDir();
  write(dir, records.slice(0, 3));
  journalFile(dir).tearLastWrite(FRAME_HEADER + 2);
  const { recovery } = open(dir);
  assert.deepEqual(recovery.records.map((s) => s.record), records.slice(0, 2));
  assert.equal(recovery.torn?.offset, recovery.records.at(-1)!.offset + encodeFrame(encodeRecord(records[1]!)).length);
});

test('a flipped bit in any frame is corruption, refused naming that frame\'s offset; in the last frame a raised length looks torn', () => {
  const dir = new MemoryDir();
  write(dir, records.slice(0, 4));
  const bytes = journalFile(dir).read(0, journalFile(dir).size());
  const offsets = scanFrames('j', bytes).frames.map((f) => f.offset);
  const lastStart = offsets.at(-1)!;
  for (let at = 0; at < bytes.length; at += 7) {
    const copy = new MemoryDir();
    const file = journalFile(copy);
    file.append(bytes);
    file.sync();
    file.flipBit(at, at % 8);
    const frameStart = offsets.filter((o) => o <= at).at(-1)!;
    if (at < lastStart) {
      assert.throws(() => open(copy), (e: unknown) => {
        assert.ok(e instanceof JournalCorruptError);
        assert.equal(e.offset, frameStart);
        assert.match(e.message, new RegExp(`^journal journal is corrupt at byte offset ${frameStart}: .*a good frame follows at offset \\d+, so this is not a torn last write$`));
        return true;
      }, `flip at ${at}`);
    } else if (at < lastStart + 4 && flippedLength(bytes, lastStart, at) > bytes.length - lastStart - FRAME_HEADER &&
      flippedLength(bytes, lastStart, at) <= MAX_FRAME_PAYLOAD) {
      // The last frame's length raised past the end (still in range): a frame cut short, i.e.
      // a torn last write. Dropped, never used.
      const { recovery } = open(copy);
      assert.deepEqual(recovery.records.map((s) => s.record), records.slice(0, 3), `flip at ${at}`);
      assert.equal(recovery.torn?.offset, lastStart);
    } else {
      // A whole last frame whose CRC fails (or whose length fell) is damage, not a torn write.
      assert.throws(() => open(copy), (e: unknown) => e instanceof JournalCorruptError && e.offset === lastStart &&
        /; the \d+ bytes from here to the end are not a torn last write/.test(e.message), `flip at ${at}`);
    }
  }
});

/** The last frame's length after flipping bit at % 8 of byte `at` (within its length field). */
function flippedLength(bytes: Uint8Array, frameStart: number, at: number): number {
  const header = bytes.slice(frameStart, frameStart + 4);
  header[at - frameStart]! ^= 1 << (at % 8);
  return new DataView(header.buffer).getUint32(0);
}

/** Opens a copy of `bytes` as the journal: the error it is refused with, and the file afterwards. */
function refusal(bytes: Uint8Array): { error: JournalCorruptError; after: Uint8Array } {
  const dir = new MemoryDir();
  const file = journalFile(dir);
  file.append(bytes);
  file.sync();
  let error: unknown;
  try {
    open(dir);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof JournalCorruptError, `refused by name, got ${String(error)}`);
  return { error, after: file.read(0, file.size()) };
}

test('damage at the end is not a torn write: all zeros, a zeroed last 4 KiB, garbage; refused by name, nothing cut', () => {
  const dir = new MemoryDir();
  write(dir, records);
  const good = journalFile(dir).read(0, journalFile(dir).size());
  const offsets = scanFrames('j', good).frames.map((f) => f.offset);
  const firstHit = (from: number) => offsets.filter((o) => o <= from).at(-1)!;
  assert.ok(good.length > 3 * 4096, 'the journal is longer than the damaged region');

  const zeros = refusal(new Uint8Array(good.length));
  assert.equal(zeros.error.offset, 0);
  assert.match(zeros.error.message, /^journal journal is corrupt at byte offset 0: length 0 out of range; the \d+ bytes from here to the end are not a torn last write/);
  assert.deepEqual(zeros.after, new Uint8Array(good.length), 'the file is kept as it was');

  const lastPage = good.slice();
  lastPage.fill(0, good.length - 4096);
  const cut = offsets.filter((o) => o >= good.length - 4096).length;
  assert.ok(cut >= 2, `the zeroed 4 KiB hold ${cut} acknowledged records`);
  const zeroed = refusal(lastPage);
  assert.equal(zeroed.error.offset, firstHit(good.length - 4096));
  assert.deepEqual(zeroed.after, lastPage);

  // Overwritten with bytes that are no frame (SHA-256 stream: deterministic), from the middle on.
  const garbage = good.slice();
  const from = Math.floor(good.length / 2);
  for (let at = from, block = 0; at < good.length; at += 32, block++) {
    garbage.set(sha256(Uint8Array.of(block >>> 8, block & 0xff)).subarray(0, Math.min(32, good.length - at)), at);
  }
  const overwritten = refusal(garbage);
  assert.equal(overwritten.error.offset, firstHit(from));
  assert.deepEqual(overwritten.after, garbage);

  // Zeros appended after the records (a file extended but never written) are damage too.
  const extended = new Uint8Array(good.length + 4096);
  extended.set(good);
  assert.equal(refusal(extended).error.offset, good.length);
});

test('snapshots alternate slots; the newest good one wins; a torn older slot is ignored', () => {
  const dir = new MemoryDir();
  const journal = write(dir, records.slice(0, 3));
  const s1 = journal.snapshot(Uint8Array.of(1));
  for (const r of records.slice(3, 5)) journal.append(r);
  journal.sync();
  const s2 = journal.snapshot(Uint8Array.of(2));
  assert.deepEqual([s1.generation, s1.lastId, s2.generation, s2.lastId], [0n, 3n, 1n, 5n]);
  assert.ok(dir.open(SNAPSHOT_FILES[0]).size() > 0 && dir.open(SNAPSHOT_FILES[1]).size() > 0);
  journal.append(records[5]!);
  journal.sync();
  let { recovery } = open(dir);
  assert.deepEqual(recovery.snapshot?.body, Uint8Array.of(2));
  assert.deepEqual(recovery.records.map((s) => s.record), [records[5]]);
  // The older slot (generation 0) flips a bit: reported, and nothing else changes.
  dir.open(SNAPSHOT_FILES[0]).flipBit(20);
  ({ recovery } = open(dir));
  assert.equal(recovery.snapshot?.lastId, 5n);
  assert.deepEqual(recovery.records.map((s) => s.record), [records[5]]);
  assert.match(recovery.notes[0]!, /snapshot slot snapshot-a: CRC-32C mismatch; ignored/);
});

test('the newest slot unusable: the journal continues a lost snapshot, so opening refuses', () => {
  const dir = new MemoryDir();
  const journal = write(dir, records.slice(0, 3));
  journal.snapshot(Uint8Array.of(1));
  journal.append(records[3]!);
  journal.sync();
  journal.snapshot(Uint8Array.of(2));
  dir.open(SNAPSHOT_FILES[1]).flipBit(20);
  assert.throws(() => open(dir), new JournalCorruptError(JOURNAL_FILE, 0,
    'the journal continues the snapshot of generation 1 (last id 4) but the newest usable snapshot is generation 0: records would be missing'));
});

/** The journal's files, with truncation failing once: a crash right before compaction. */
function crashBeforeCompaction(dir: MemoryDir) {
  const files = openJournalFiles(dir);
  const journal = files.journal as MemoryFile;
  const truncate = journal.truncate.bind(journal);
  journal.truncate = () => {
    journal.truncate = truncate;
    throw new Error('power lost');
  };
  return files;
}

test('a crash between the snapshot and compaction: covered records are skipped and compaction finished', () => {
  for (const extra of [0, 1]) {
    const dir = new MemoryDir();
    write(dir, records.slice(0, 4));
    const { journal } = Journal.open(crashBeforeCompaction(dir));
    assert.throws(() => journal.snapshot(Uint8Array.of(9)), /power lost/);
    dir.crash();
    if (extra) {
      // A record after the covered ones (ids continue) is replayed.
      journalFile(dir).append(encodeFrame(encodeRecord(records[4]!)));
      journalFile(dir).sync();
    }
    const { recovery, journal: reopened } = open(dir);
    assert.equal(recovery.snapshot?.lastId, 4n);
    assert.deepEqual(recovery.records.map((s) => s.record), records.slice(4, 4 + extra));
    assert.equal(reopened.lastId, extra ? 5n : 4n);
    if (!extra) {
      assert.match(recovery.notes[0]!, /4 records already in the snapshot of id 4; compaction finished/);
      assert.deepEqual(open(dir).recovery.records, []);
    }
  }
});

test('a crash between the snapshot and compaction with sourced records: the covered head ends at the snapshot offset', () => {
  const dir = new MemoryDir();
  const { journal } = open(dir);
  for (const [i, r] of records.slice(0, 3).entries()) {
    journal.append(r);
    journal.appendSourced(sourced('chain', BigInt(i + 1)));
  }
  journal.sync();
  const { journal: crashing } = Journal.open(crashBeforeCompaction(dir));
  assert.throws(() => crashing.snapshot(Uint8Array.of(9)), /power lost/);
  dir.crash();
  // After the covered head (ending with a sourced record): one sourced, then one request.
  journalFile(dir).append(encodeFrame(encodeSourced(sourced('chain', 4n))));
  journalFile(dir).append(encodeFrame(encodeRecord(records[3]!)));
  journalFile(dir).sync();
  const { recovery } = open(dir);
  assert.equal(recovery.snapshot?.lastId, 3n);
  assert.deepEqual(recovery.entries.map((e) => e.entry), [sourced('chain', 4n), records[3]]);
});

test('a crash mid-compaction (journal emptied, marker lost or torn) recovers from the snapshot alone', () => {
  for (const keep of [0, 5]) {
    const dir = new MemoryDir();
    const journal = write(dir, records.slice(0, 4));
    journal.snapshot(Uint8Array.of(9));
    journalFile(dir).tearLastWrite(keep);
    const { recovery } = open(dir);
    assert.deepEqual(recovery.records, []);
    assert.equal(recovery.snapshot?.lastId, 4n);
    assert.match(recovery.notes.at(-1)!, /empty after the snapshot of id 4; compaction finished/);
    write(dir, [records[4]!]);
    assert.deepEqual(open(dir).recovery.records.map((s) => s.record), [records[4]]);
  }
});
