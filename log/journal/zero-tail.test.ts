/**
 * A zero-filled tail after the journal's last good frame (docs/journal.md "Recovery" step 2):
 * the scan reports it, only when asked and only if it is all zeros and at most one frame long;
 * opening against the high-water mark cuts it as a torn write when the mark is at or below
 * the last good id, and refuses it by name, the file kept, when the mark is above (answered
 * records were there), when there is no mark, or when the tail is longer than a frame.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { sessionJournalRecords, writeJournal } from '../../test/journal-records.js';
import { MemoryDir, type MemoryFile } from '../memory-file.js';
import { writeReserveFill } from '../file-port.js';
import { JournalCorruptError, ZERO_TAIL_LIMIT, scanFrameOffsets, scanFrames } from './frame.js';
import { slotMark, zeroTailAgainstMark } from './high-water.js';
import { JOURNAL_FILE, Journal, openJournalFiles } from './journal.js';

const records = sessionJournalRecords();
const lastId = records.at(-1)!.id;

/** The session's journal, whole. */
const good: Uint8Array = (() => {
  const dir = new MemoryDir();
  writeJournal(dir, records);
  const file = dir.open(JOURNAL_FILE);
  return file.read(0, file.size());
})();
const offsets = scanFrames('j', good).frames.map((f) => f.offset);

const withTail = (head: Uint8Array, tail: Uint8Array): Uint8Array => {
  const bytes = new Uint8Array(head.length + tail.length);
  bytes.set(head);
  bytes.set(tail, head.length);
  return bytes;
};

test('scan: zeros after the last good frame are reported only when asked, neither cut nor judged', () => {
  const bytes = withTail(good, new Uint8Array(4096));
  assert.throws(() => scanFrameOffsets('j', bytes), (e) => e instanceof JournalCorruptError && e.offset === good.length &&
    /length 0 out of range; the 4096 bytes from here to the end are not a torn last write/.test(e.message));
  const scan = scanFrameOffsets('j', bytes, { zeroTail: true });
  assert.deepEqual(scan, { offsets, end: good.length, torn: undefined, zeroTail: { offset: good.length, length: 4096 } });
  // A whole file of zeros: a tail from offset 0.
  assert.deepEqual(scanFrameOffsets('j', new Uint8Array(600), { zeroTail: true }), { offsets: [], end: 0, torn: undefined, zeroTail: { offset: 0, length: 600 } });
  // The scan cannot tell appended zeros from zeros over the last records: both are a tail after the last good frame.
  const zeroedLast = good.slice();
  zeroedLast.fill(0, offsets.at(-2)!);
  assert.deepEqual(scanFrameOffsets('j', zeroedLast, { zeroTail: true }).zeroTail, { offset: offsets.at(-2)!, length: good.length - offsets.at(-2)! });
});

test('scan: fewer than a header\'s zeros stay a torn write, as before, asked or not', () => {
  for (const zeroTail of [false, true]) {
    const scan = scanFrameOffsets('j', withTail(good, new Uint8Array(7)), { zeroTail });
    assert.equal(scan.zeroTail, undefined);
    assert.deepEqual(scan.torn, { offset: good.length, length: 7, reason: 'short header (7 of 8 bytes)' });
  }
});

test('scan: a zero tail is at most one maximal frame long; one byte more is damage', () => {
  const head = good.subarray(0, offsets[3]!);
  const longest = scanFrameOffsets('j', withTail(head, new Uint8Array(ZERO_TAIL_LIMIT)), { zeroTail: true });
  assert.deepEqual(longest.zeroTail, { offset: head.length, length: ZERO_TAIL_LIMIT });
  assert.throws(() => scanFrameOffsets('j', withTail(head, new Uint8Array(ZERO_TAIL_LIMIT + 1)), { zeroTail: true }),
    (e) => e instanceof JournalCorruptError && e.offset === head.length && /not a torn last write/.test(e.message));
});

test('scan: one non-zero byte anywhere in the tail makes it damage', () => {
  // (A byte at 1 or 2 makes an in-range length longer than the tail instead: torn, as before.)
  for (const at of [0, 3, 8, 2047, 4095]) {
    const tail = new Uint8Array(4096);
    tail[at] = 0x5a;
    assert.throws(() => scanFrameOffsets('j', withTail(good, tail), { zeroTail: true }),
      (e) => e instanceof JournalCorruptError && e.offset === good.length, `a non-zero byte at ${at} of the tail`);
  }
  // Zeros with good frames after them are damage in the middle, asked or not.
  const middle = good.slice();
  middle.fill(0, offsets[5]!, offsets[7]!);
  assert.throws(() => scanFrameOffsets('j', middle, { zeroTail: true }), /a good frame follows at offset/);
});

test('scan: zeros before the reserved space that ends the file are a zero tail up to the fill', () => {
  const fill = new Uint8Array(256);
  const head = withTail(good, new Uint8Array(100));
  const bytes = withTail(head, fill);
  writeReserveFill(bytes, head.length, 0);
  assert.deepEqual(scanFrameOffsets('j', bytes, { zeroTail: true }).zeroTail, { offset: good.length, length: 100 });
});

/** A journal of the session with `tail` after its frames, the mark at `mark` (none if undefined). */
function damaged(tail: Uint8Array, mark: bigint | undefined, head = good) {
  const dir = new MemoryDir();
  (dir.open(JOURNAL_FILE) as MemoryFile).append(withTail(head, tail));
  dir.open(JOURNAL_FILE).sync();
  const highWater = slotMark(dir, 'memory');
  if (mark !== undefined) highWater.write(mark);
  const file = dir.open(JOURNAL_FILE);
  const open = () => Journal.open(openJournalFiles(dir), { zeroTail: zeroTailAgainstMark(highWater) });
  return { dir, file, open, bytes: () => file.read(0, file.size()) };
}

/** Opening refuses by name and leaves the file as it was. */
function refused(d: ReturnType<typeof damaged>, offset: number, message: RegExp): void {
  const before = d.bytes();
  assert.throws(d.open, (e) => e instanceof JournalCorruptError && e.offset === offset && message.test(e.message), 'refused by name');
  assert.deepEqual(d.bytes(), before, 'the file is kept as it was');
}

test('journal: a zero tail with the mark at (or below) the last good id is cut as a torn write, reported, the records exact', () => {
  for (const mark of [lastId, lastId - 40n]) {
    const d = damaged(new Uint8Array(4096), mark);
    const { journal, recovery } = d.open();
    assert.deepEqual(recovery.records.map((s) => s.record), records);
    assert.equal(journal.lastId, lastId);
    assert.deepEqual(recovery.torn, { offset: good.length, length: 4096,
      reason: `all zeros after the last good frame; the high-water mark in memory is id ${mark}, so no reply was sent for anything in them` });
    assert.match(recovery.notes.at(-1)!, new RegExp(`^journal journal: torn last write of 4096 zero bytes at offset ${good.length} \\(.*\\); truncated$`));
    assert.deepEqual(d.bytes(), good, 'cut back to the last good frame');
    // The next record goes right after it, and the journal reopens clean.
    journal.append({ ...records[0]!, id: lastId + 1n });
    journal.sync();
    const again = d.open();
    assert.equal(again.recovery.torn, undefined);
    assert.equal(again.journal.lastId, lastId + 1n);
    assert.equal(again.recovery.records.at(-2)!.offset, offsets.at(-1));
  }
});

test('journal: a zero tail after a snapshot is judged against the snapshot\'s last id', () => {
  const dir = new MemoryDir();
  const journal = writeJournal(dir, records.slice(0, 10));
  journal.snapshot(Uint8Array.of(1));
  const marker = dir.open(JOURNAL_FILE).size();
  dir.open(JOURNAL_FILE).append(new Uint8Array(300));
  dir.open(JOURNAL_FILE).sync();
  const mark = slotMark(dir, 'memory');
  mark.write(10n);
  const { recovery } = Journal.open(openJournalFiles(dir), { zeroTail: zeroTailAgainstMark(mark) });
  assert.equal(recovery.snapshot?.lastId, 10n);
  assert.deepEqual(recovery.torn && [recovery.torn.offset, recovery.torn.length], [marker, 300]);
  mark.write(11n);
  dir.open(JOURNAL_FILE).append(new Uint8Array(300));
  dir.open(JOURNAL_FILE).sync();
  assert.throws(() => Journal.open(openJournalFiles(dir), { zeroTail: zeroTailAgainstMark(mark) }), /the high-water mark in memory is id 11/);
});

test('journal: zeros over answered records (the mark above the last good id) are refused naming the offset and the mark', () => {
  const from = offsets.at(-3)!;
  const d = damaged(new Uint8Array(good.length - from), lastId, good.subarray(0, from));
  refused(d, from, new RegExp(`^journal journal is corrupt at byte offset ${from}: ${good.length - from} zero bytes after the last good frame ` +
    `\\(last id ${lastId - 3n}\\), but the high-water mark in memory is id ${lastId}: replies up to id ${lastId} were sent`));
  // Appended zeros with a mark the journal does not reach are refused too (as a rollback would be).
  refused(damaged(new Uint8Array(64), lastId + 1n), good.length, /but the high-water mark in memory is id 194/);
});

test('journal: a zero tail with no mark is refused (nothing tells torn from zeroed answered records)', () => {
  refused(damaged(new Uint8Array(4096), undefined), good.length, /4096 zero bytes after the last good frame \(last id 193\), and no high-water mark in memory/);
  refused(damaged(new Uint8Array(600), undefined, new Uint8Array(0)), 0, /600 zero bytes after the last good frame \(last id none\), and no high-water mark/);
});

test('journal: a zero tail longer than a frame is refused whatever the mark; without a judge any zero tail is', () => {
  const head = good.subarray(0, offsets[3]!);
  refused(damaged(new Uint8Array(ZERO_TAIL_LIMIT + 1), 3n, head), head.length, /not a torn last write/);
  const d = damaged(new Uint8Array(4096), lastId);
  assert.throws(() => Journal.open(openJournalFiles(d.dir)), (e) => e instanceof JournalCorruptError && e.offset === good.length);
  assert.deepEqual(d.bytes(), withTail(good, new Uint8Array(4096)));
});
