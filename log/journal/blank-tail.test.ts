/**
 * A blank tail after the journal's last good frame (docs/journal.md "Recovery" step 2): zeros, or
 * 0xff as erased sectors read, to the end, alone or after the first bytes of a torn frame. The
 * scan reports it, only when asked and only if it has that shape and is at most one frame long;
 * opening against the high-water mark cuts it as a torn write when the mark is at or below the
 * last good id, and refuses it by name, the file kept, when the mark is above (answered records
 * were there), when there is no mark, when it is longer than a frame, or when anything else is in
 * it. A torn last frame is judged by the mark alike, but cut when there is none (a crash leaves
 * one): so a whole file of garbage whose first bytes announce a frame longer than the file is
 * refused, not cut. The journals are written by the journal itself, then their bytes are damaged.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { sessionJournalRecords, writeJournal } from '../../test/journal-records.js';
import { MemoryDir, type MemoryFile } from '../memory-file.js';
import { writeReserveFill } from '../file-port.js';
import { BLANK_TAIL_LIMIT, type Blank, JournalCorruptError, scanFrameOffsets, scanFrames } from './frame.js';
import { tailAgainstMark, slotMark } from './high-water.js';
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
/** Where the last record's frame begins, and its length. */
const last = offsets.at(-1)!;
const lastLength = good.length - last;

const withTail = (head: Uint8Array, tail: Uint8Array): Uint8Array => {
  const bytes = new Uint8Array(head.length + tail.length);
  bytes.set(head);
  bytes.set(tail, head.length);
  return bytes;
};
const blankBytes = (length: number, blank: Blank): Uint8Array => new Uint8Array(length).fill(blank);
const blankName = (blank: Blank): string => (blank === 0 ? 'zero' : '0xff');

/**
 * The fewest bytes, `atLeast` or more, of the last frame that end in a byte neither blank value:
 * kept, then blanked, they are the torn frame's first bytes as the scan counts them.
 */
function keepOfLast(atLeast: number): number {
  let keep = atLeast;
  while (good[last + keep - 1] === 0x00 || good[last + keep - 1] === 0xff) keep++;
  assert.ok(keep < lastLength);
  return keep;
}

/** The session's journal with its last record torn: its first `keep` bytes, then `blank` to its end and `extra` bytes more. */
const tornLast = (keep: number, blank: Blank, extra = 0): Uint8Array =>
  withTail(good.subarray(0, last + keep), blankBytes(lastLength - keep + extra, blank));

test('scan: a blank tail after the last good frame is reported only when asked, neither cut nor judged', () => {
  for (const blank of [0x00, 0xff] as const) {
    const bytes = withTail(good, blankBytes(4096, blank));
    assert.throws(() => scanFrameOffsets('j', bytes), (e) => e instanceof JournalCorruptError && e.offset === good.length &&
      /out of range; the 4096 bytes from here to the end are not a torn last write/.test(e.message));
    const scan = scanFrameOffsets('j', bytes, { blankTail: true });
    assert.deepEqual(scan, { offsets, end: good.length, torn: undefined, blankTail: { offset: good.length, length: 4096, partial: 0, blank } });
    // A whole file of them: a tail from offset 0.
    assert.deepEqual(scanFrameOffsets('j', blankBytes(600, blank), { blankTail: true }).blankTail, { offset: 0, length: 600, partial: 0, blank });
    // After a torn frame's first bytes (the length it announces kept), up to its length or past it (a batch's).
    const keep = keepOfLast(20);
    for (const extra of [0, 3000]) {
      const torn = scanFrameOffsets('j', tornLast(keep, blank, extra), { blankTail: true });
      assert.deepEqual(torn, { offsets: offsets.slice(0, -1), end: last, torn: undefined, blankTail: { offset: last, length: lastLength + extra, partial: keep, blank } });
    }
  }
  // The scan cannot tell appended zeros from zeros over the last records: both are a tail after the last good frame.
  const zeroedLast = good.slice();
  zeroedLast.fill(0, offsets.at(-2)!);
  assert.deepEqual(scanFrameOffsets('j', zeroedLast, { blankTail: true }).blankTail, { offset: offsets.at(-2)!, length: good.length - offsets.at(-2)!, partial: 0, blank: 0 });
});

test('scan: fewer than a header\'s blank bytes, or fewer than the torn frame\'s length, stay a torn write, as before, asked or not', () => {
  for (const blankTail of [false, true]) {
    for (const blank of [0x00, 0xff] as const) {
      const scan = scanFrameOffsets('j', withTail(good, blankBytes(7, blank)), { blankTail });
      assert.equal(scan.blankTail, undefined);
      assert.deepEqual(scan.torn, { offset: good.length, length: 7, reason: 'short header (7 of 8 bytes)' });
    }
    // Zeros within the length the torn frame announces: shorter than its frame.
    const short = withTail(good.subarray(0, last + 30), blankBytes(lastLength - 31, 0));
    assert.deepEqual(scanFrameOffsets('j', short, { blankTail }).torn, { offset: last, length: lastLength - 1, reason: `short frame (${lastLength - 1} of ${lastLength} bytes)` });
  }
});

test('scan: a blank tail is at most one maximal frame long; one byte more is damage', () => {
  const head = good.subarray(0, offsets[3]!);
  for (const blank of [0x00, 0xff] as const) {
    const longest = scanFrameOffsets('j', withTail(head, blankBytes(BLANK_TAIL_LIMIT, blank)), { blankTail: true });
    assert.deepEqual(longest.blankTail, { offset: head.length, length: BLANK_TAIL_LIMIT, partial: 0, blank });
    assert.throws(() => scanFrameOffsets('j', withTail(head, blankBytes(BLANK_TAIL_LIMIT + 1, blank)), { blankTail: true }),
      (e) => e instanceof JournalCorruptError && e.offset === head.length && /not a torn last write/.test(e.message));
  }
});

/** Tails that are not one torn frame's first bytes and then one blank value: damage, mark or not. */
const notBlank: [string, Uint8Array, number][] = (() => {
  const cases: [string, Uint8Array, number][] = [];
  // (A byte at 3 of zeros makes an in-range length: the first bytes of a torn frame, then zeros.)
  for (const at of [0, 8, 2047, 4095]) {
    const tail = blankBytes(4096, 0);
    tail[at] = 0x5a;
    cases.push([`zeros with 0x5a at ${at}`, withTail(good, tail), good.length]);
  }
  cases.push(['zeros, then 0xff', withTail(good, withTail(blankBytes(100, 0), blankBytes(4000, 0xff))), good.length]);
  cases.push(['0xff, then zeros', withTail(good, withTail(blankBytes(100, 0xff), blankBytes(4000, 0))), good.length]);
  const keep = keepOfLast(20);
  const pastTheFrame = tornLast(keep, 0, 3000);
  pastTheFrame[last + lastLength + 1000] = 0x5a;
  cases.push(['a torn frame\'s first bytes, zeros, then a byte past its length', pastTheFrame, last]);
  // A whole frame that fails its CRC, then zeros: not torn (its last byte, not blank, was written).
  const flipped = withTail(good, blankBytes(4096, 0));
  flipped[last + 20]! ^= 1;
  cases.push(['a whole last frame failing its CRC, then zeros', flipped, last]);
  cases.push(['garbage (no length in range), then 0xff', withTail(good, withTail(Uint8Array.of(0x5a, 1, 2, 3, 4, 5, 6, 7, 8), blankBytes(4000, 0xff))), good.length]);
  return cases;
})();

test('scan: anything else in the tail makes it damage', () => {
  for (const [what, bytes, offset] of notBlank) {
    assert.throws(() => scanFrameOffsets('j', bytes, { blankTail: true }), (e) => e instanceof JournalCorruptError && e.offset === offset, what);
  }
  // Blank bytes with good frames after them are damage in the middle, asked or not.
  for (const blank of [0x00, 0xff]) {
    const middle = good.slice();
    middle.fill(blank, offsets[5]!, offsets[7]!);
    assert.throws(() => scanFrameOffsets('j', middle, { blankTail: true }), /a good frame follows at offset/);
  }
});

test('scan: zeros before the reserved space that ends the file are a blank tail up to the fill', () => {
  const fill = new Uint8Array(256);
  const head = withTail(good, new Uint8Array(100));
  const bytes = withTail(head, fill);
  writeReserveFill(bytes, head.length, 0);
  assert.deepEqual(scanFrameOffsets('j', bytes, { blankTail: true }).blankTail, { offset: good.length, length: 100, partial: 0, blank: 0 });
});

/**
 * The session's journal as the journal wrote it, then damaged: its bytes from `from` on become
 * `bytes` (the file cut or lengthened to fit); the mark at `mark` (none if undefined).
 */
function damaged(from: number, bytes: Uint8Array, mark: bigint | undefined) {
  const dir = new MemoryDir();
  writeJournal(dir, records);
  const file: MemoryFile = dir.open(JOURNAL_FILE);
  file.truncate(from);
  file.append(bytes);
  file.sync();
  const highWater = slotMark(dir, 'memory');
  if (mark !== undefined) highWater.write(mark);
  const open = () => Journal.open(openJournalFiles(dir), { tail: tailAgainstMark(highWater) });
  return { dir, file, open, bytes: () => file.read(0, file.size()) };
}
/** damaged() of whole file contents. */
const damagedTo = (content: Uint8Array, mark: bigint | undefined) => damaged(0, content, mark);

/** Opening refuses by name and leaves the file as it was. */
function refused(d: ReturnType<typeof damaged>, offset: number, message: RegExp): void {
  const before = d.bytes();
  assert.throws(d.open, (e) => e instanceof JournalCorruptError && e.offset === offset && message.test(e.message), 'refused by name');
  assert.deepEqual(d.bytes(), before, 'the file is kept as it was');
}

/**
 * Opening cuts the tail at `offset` (after `kept` records) as a torn write judged by `mark`,
 * reports it as `text`, and recovers the records before it exactly; the journal goes on from there.
 */
function cut(d: ReturnType<typeof damaged>, offset: number, kept: number, mark: bigint, text: string): void {
  const length = d.bytes().length - offset;
  const { journal, recovery } = d.open();
  assert.deepEqual(recovery.records.map((s) => s.record), records.slice(0, kept));
  assert.equal(journal.lastId, BigInt(kept));
  assert.deepEqual(recovery.torn, { offset, length,
    reason: `blank after the last good frame; the high-water mark in memory is id ${mark}, so no reply was sent for anything in them` });
  assert.equal(recovery.notes.at(-1), `journal journal: torn last write of ${text} at offset ${offset} (${recovery.torn!.reason}); truncated`);
  assert.deepEqual(d.bytes(), good.subarray(0, offset), 'cut back to the last good frame');
  journal.append({ ...records[0]!, id: BigInt(kept) + 1n });
  journal.sync();
  const again = d.open();
  assert.equal(again.recovery.torn, undefined);
  assert.equal(again.journal.lastId, BigInt(kept) + 1n);
  assert.equal(again.recovery.records.at(-2)!.offset, offsets[kept - 1]);
}

test('journal: zeros or 0xff after the last good frame, the mark at (or below) the last good id: cut as a torn write, reported, the records exact', () => {
  for (const blank of [0x00, 0xff] as const) {
    for (const mark of [lastId, lastId - 40n]) cut(damaged(good.length, blankBytes(4096, blank), mark), good.length, records.length, mark, `4096 ${blankName(blank)} bytes`);
  }
});

test('journal: a record torn after its first bytes, then zeros (a size written, not all the data): cut with the mark below its id, refused with its reply sent', () => {
  for (const [keep, extra] of [[keepOfLast(4), 0], [keepOfLast(40), 0], [keepOfLast(lastLength - 3), 0], [keepOfLast(40), 3000]] as const) {
    const bytes = tornLast(keep, 0, extra).subarray(last);
    const text = `${bytes.length} bytes (a frame's first ${keep}, then zero bytes)`;
    for (const mark of [lastId - 1n, 0n]) cut(damaged(last, bytes, mark), last, records.length - 1, mark, text);
    refused(damaged(last, bytes, lastId), last, new RegExp(`^journal journal is corrupt at byte offset ${last}: ${text.replace(/[()]/g, '\\$&')} after the last good frame ` +
      `\\(last id ${lastId - 1n}\\), but the high-water mark in memory is id ${lastId}: replies up to id ${lastId} were sent, so the tail replaced answered records`));
    refused(damaged(last, bytes, undefined), last, /and no high-water mark in memory/);
  }
});

test('journal: 0xff appended after the last good frame (erased sectors): cut with the mark at the last id, refused with it above or none', () => {
  cut(damaged(good.length, blankBytes(600, 0xff), lastId), good.length, records.length, lastId, '600 0xff bytes');
  refused(damaged(good.length, blankBytes(600, 0xff), lastId + 1n), good.length,
    /600 0xff bytes after the last good frame \(last id 193\), but the high-water mark in memory is id 194/);
  refused(damaged(good.length, blankBytes(600, 0xff), undefined), good.length, /600 0xff bytes after the last good frame \(last id 193\), and no high-water mark/);
  // An erased file: no frame at all.
  refused(damagedTo(blankBytes(4096, 0xff), undefined), 0, /4096 0xff bytes after the last good frame \(last id none\), and no high-water mark/);
});

test('journal: a record torn after its first bytes, then 0xff: cut with the mark below its id, refused with its reply sent', () => {
  for (const [keep, extra] of [[keepOfLast(4), 0], [keepOfLast(40), 0], [keepOfLast(40), 4096]] as const) {
    const bytes = tornLast(keep, 0xff, extra).subarray(last);
    cut(damaged(last, bytes, lastId - 1n), last, records.length - 1, lastId - 1n, `${bytes.length} bytes (a frame's first ${keep}, then 0xff bytes)`);
    refused(damaged(last, bytes, lastId), last, /then 0xff bytes\) after the last good frame \(last id 192\), but the high-water mark in memory is id 193/);
  }
});

test('journal: any other bytes in the tail are damage even with the mark at the last good id', () => {
  for (const [what, bytes, offset] of notBlank) {
    const d = damagedTo(bytes, offset === good.length ? lastId : lastId - 1n);
    assert.throws(d.open, (e) => e instanceof JournalCorruptError && e.offset === offset && /not a torn last write/.test(e.message), what);
    assert.deepEqual(d.bytes(), bytes, `${what}: the file is kept as it was`);
  }
});

test('journal: a blank tail after a snapshot is judged against the snapshot\'s last id', () => {
  const dir = new MemoryDir();
  const journal = writeJournal(dir, records.slice(0, 10));
  journal.snapshot(Uint8Array.of(1));
  const marker = dir.open(JOURNAL_FILE).size();
  dir.open(JOURNAL_FILE).append(new Uint8Array(300));
  dir.open(JOURNAL_FILE).sync();
  const mark = slotMark(dir, 'memory');
  mark.write(10n);
  const { recovery } = Journal.open(openJournalFiles(dir), { tail: tailAgainstMark(mark) });
  assert.equal(recovery.snapshot?.lastId, 10n);
  assert.deepEqual(recovery.torn && [recovery.torn.offset, recovery.torn.length], [marker, 300]);
  mark.write(11n);
  dir.open(JOURNAL_FILE).append(blankBytes(300, 0xff));
  dir.open(JOURNAL_FILE).sync();
  assert.throws(() => Journal.open(openJournalFiles(dir), { tail: tailAgainstMark(mark) }), /300 0xff bytes .* the high-water mark in memory is id 11/);
});

test('journal: zeros over answered records (the mark above the last good id) are refused naming the offset and the mark', () => {
  const from = offsets.at(-3)!;
  refused(damaged(from, blankBytes(good.length - from, 0), lastId), from, new RegExp(`^journal journal is corrupt at byte offset ${from}: ${good.length - from} zero bytes after the last good frame ` +
    `\\(last id ${lastId - 3n}\\), but the high-water mark in memory is id ${lastId}: replies up to id ${lastId} were sent`));
  // Appended zeros with a mark the journal does not reach are refused too (as a rollback would be).
  refused(damaged(good.length, blankBytes(64, 0), lastId + 1n), good.length, /but the high-water mark in memory is id 194/);
});

test('journal: a zero tail with no mark is refused (nothing tells torn from zeroed answered records)', () => {
  refused(damaged(good.length, blankBytes(4096, 0), undefined), good.length, /4096 zero bytes after the last good frame \(last id 193\), and no high-water mark in memory/);
  refused(damagedTo(blankBytes(600, 0), undefined), 0, /600 zero bytes after the last good frame \(last id none\), and no high-water mark/);
});

test('journal: a blank tail longer than a frame is refused whatever the mark; without a judge any blank tail is', () => {
  const head = offsets[3]!;
  refused(damaged(head, blankBytes(BLANK_TAIL_LIMIT + 1, 0xff), 3n), head, /not a torn last write/);
  const overLong = withTail(good.subarray(last, last + keepOfLast(40)), blankBytes(BLANK_TAIL_LIMIT + 1 - keepOfLast(40), 0));
  refused(damaged(last, overLong, lastId - 1n), last, /not a torn last write/);
  const judged: [ReturnType<typeof damaged>, number][] = [
    [damaged(good.length, blankBytes(4096, 0), lastId), good.length],
    [damaged(last, tornLast(keepOfLast(40), 0xff).subarray(last), lastId - 1n), last],
  ];
  for (const [d, offset] of judged) {
    const before = d.bytes();
    assert.throws(() => Journal.open(openJournalFiles(d.dir)), (e) => e instanceof JournalCorruptError && e.offset === offset);
    assert.deepEqual(d.bytes(), before);
  }
});

test('journal: a torn last frame is cut with the mark at or below the last good id, or no mark; refused by name, the file kept, with its reply sent', () => {
  const bytes = good.subarray(last, last + 40);
  const torn = `40 bytes at offset ${last} (short frame (40 of ${lastLength} bytes); `;
  for (const [mark, why] of [[lastId - 1n, `the high-water mark in memory is id ${lastId - 1n}, so no reply was sent for anything in them`],
    [undefined, 'no high-water mark in memory to judge it by, and a crash leaves a torn frame']] as const) {
    const d = damaged(last, bytes, mark);
    const { journal, recovery } = d.open();
    assert.equal(journal.lastId, lastId - 1n);
    assert.equal(recovery.notes.at(-1), `journal journal: torn last write of ${torn}${why}); truncated`);
    assert.deepEqual(d.bytes(), good.subarray(0, last), 'cut back to the last good frame');
  }
  refused(damaged(last, bytes, lastId), last, new RegExp(`^journal journal is corrupt at byte offset ${last}: 40 bytes of a torn frame \\(short frame \\(40 of ${lastLength} bytes\\)\\) ` +
    `after the last good frame \\(last id ${lastId - 1n}\\), but the high-water mark in memory is id ${lastId}: replies up to id ${lastId} were sent`));
  // A whole file overwritten with bytes that announce a longer first frame: torn in shape, refused by the mark.
  const garbage = good.map((b, i) => (i < 4 ? [0, 0xff, 0xff, 0xff][i]! : (b * 31 + i) & 0xff));
  refused(damagedTo(garbage, lastId), 0, new RegExp(`^journal journal is corrupt at byte offset 0: ${good.length} bytes of a torn frame .* but the high-water mark in memory is id ${lastId}`));
});
