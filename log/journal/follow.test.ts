/**
 * Streaming recovery (follow.ts, Journal.recover; docs/journal.md "Recovery"): each record
 * after the snapshot is handed on in journal order with its frame's offset and payload, the
 * same records `Journal.open` holds; a covered head (a crash between snapshot and
 * compaction) that does not end exactly at the snapshot's offset and id is refused; a refusal
 * found early still waits for every frame to decode, so an undecodable frame is what is named,
 * as when recovery decoded everything first; a record read back later (a redelivered id's
 * reply) is checked again; the device's decode (decodeEntryToFold, its reply checked, not kept)
 * refuses exactly what decodeEntry refuses, with the same words, over damaged records (fast-check).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import { assertProperty } from '../../property-tests/settings.js';
import { sessionJournalRecords } from '../../test/journal-records.js';
import { MemoryDir, type MemoryFile } from '../memory-file.js';
import { FRAME_HEADER, JournalCorruptError, encodeFrame } from './frame.js';
import { JOURNAL_FILE, Journal, SNAPSHOT_FILES, openJournalFiles } from './journal.js';
import { type JournalEntry, type JournalRecord, decodeEntry, decodeEntryToFold, encodeEntry } from './record.js';
import { SnapshotSlots } from './snapshot-slots.js';

const records = sessionJournalRecords().slice(0, 12);
const chain = (seq: bigint): JournalEntry => ({ source: 'chain', seq, at: 1_700_000_000_000, events: [] });

const journalFile = (dir: MemoryDir): MemoryFile => dir.open(JOURNAL_FILE);

/** A journal of `entries`, synced; the offsets their frames start at. */
function journalOf(dir: MemoryDir, entries: readonly JournalEntry[]): number[] {
  const file = journalFile(dir);
  return entries.map((e) => {
    const offset = file.size();
    file.append(encodeFrame(encodeEntry(e)));
    file.sync();
    return offset;
  });
}

test('recover hands on each record after the snapshot in journal order, with its offset and payload; open holds the same', () => {
  const dir = new MemoryDir();
  const { journal } = Journal.open(openJournalFiles(dir));
  for (const r of records.slice(0, 4)) journal.append(r);
  journal.sync();
  journal.snapshot(Uint8Array.of(1));
  const after = [records[4]!, chain(1n), records[5]!, chain(2n), records[6]!];
  for (const e of after) 'source' in e ? journal.appendSourced(e) : journal.append(e);
  journal.sync();

  const seen: { entry: JournalEntry; offset: number; payload: Uint8Array }[] = [];
  let snapshotSeen: bigint | undefined;
  const { recovery, journal: reopened } = Journal.recover(openJournalFiles(dir), (snapshot) => {
    snapshotSeen = snapshot?.lastId;
    return (entry, offset, payload) => seen.push({ entry, offset, payload: payload.slice() });
  }, decodeEntry);
  assert.equal(snapshotSeen, 4n);
  assert.equal(recovery.snapshot?.lastId, 4n);
  assert.deepEqual(seen.map((s) => s.entry), after);
  for (const s of seen) assert.deepEqual(s.payload, encodeEntry(s.entry));
  assert.deepEqual(seen.map((s) => s.offset), Journal.open(openJournalFiles(dir)).recovery.entries.map((e) => e.offset));
  assert.equal(reopened.lastId, records[6]!.id);
  // Read back by offset: the request records; a sourced one is not a reply.
  assert.deepEqual(reopened.readRecord(seen[2]!.offset), records[5]);
  assert.throws(() => reopened.readRecord(seen[1]!.offset), new JournalCorruptError(JOURNAL_FILE, seen[1]!.offset, 'a chain record where a request record was'));
});

test('a record read back after open that no longer checks is refused naming its offset', () => {
  const dir = new MemoryDir();
  const offsets = journalOf(dir, records.slice(0, 3));
  const { journal } = Journal.open(openJournalFiles(dir));
  journalFile(dir).flipBit(offsets[1]! + FRAME_HEADER + 3);
  assert.throws(() => journal.readRecord(offsets[1]!), (e: unknown) =>
    e instanceof JournalCorruptError && e.offset === offsets[1] && /a frame read back no longer checks: CRC-32C/.test(e.detail));
  assert.deepEqual(journal.readRecord(offsets[2]!), records[2]);
});

/** Four records with no start marker, and a snapshot (generation 0, last id 4) claiming they end at `journalOffset`. */
function coveredHead(journalOffset: (offsets: number[], end: number) => number): { dir: MemoryDir; claimed: number; end: number } {
  const dir = new MemoryDir();
  const offsets = journalOf(dir, records.slice(0, 4));
  const end = journalFile(dir).size();
  const claimed = journalOffset(offsets, end);
  new SnapshotSlots(openJournalFiles(dir).slots).write(4n, claimed, Uint8Array.of(9));
  return { dir, claimed, end };
}

test('a covered head that does not end at the snapshot\'s offset with its last id is refused', () => {
  const atRecord4 = coveredHead((offsets) => offsets[3]!);
  assert.throws(() => Journal.open(openJournalFiles(atRecord4.dir)), new JournalCorruptError(JOURNAL_FILE, atRecord4.claimed,
    `the records before the snapshot's offset ${atRecord4.claimed} end at id 3, the snapshot says 4`));
  const midFrame = coveredHead((offsets) => offsets[3]! + 1);
  assert.throws(() => Journal.open(openJournalFiles(midFrame.dir)), new JournalCorruptError(JOURNAL_FILE, midFrame.end,
    `the records the snapshot of id 4 covers end at offset ${midFrame.end}, the snapshot says ${midFrame.claimed}`));
  // A good head: the covered records are skipped, the compaction finished.
  const good = coveredHead((_offsets, end) => end);
  const { recovery } = Journal.open(openJournalFiles(good.dir));
  assert.deepEqual([recovery.entries, recovery.notes], [[], ['journal journal: 4 records already in the snapshot of id 4; compaction finished']]);
});

test('a refusal found at the start marker waits for every frame: an undecodable frame later is what is named', () => {
  const dir = new MemoryDir();
  const { journal } = Journal.open(openJournalFiles(dir));
  for (const r of records.slice(0, 3)) journal.append(r);
  journal.snapshot(Uint8Array.of(1));
  journal.append(records[3]!);
  journal.snapshot(Uint8Array.of(2));
  journal.append(records[4]!);
  journal.sync();
  dir.open(SNAPSHOT_FILES[1]).flipBit(20); // the newest slot unusable: the journal continues a lost snapshot
  const refused = 'the journal continues the snapshot of generation 1 (last id 4) but the newest usable snapshot is generation 0: records would be missing';
  assert.throws(() => Journal.open(openJournalFiles(dir)), new JournalCorruptError(JOURNAL_FILE, 0, refused));
  const bad = journalFile(dir).size();
  journalFile(dir).append(encodeFrame(Uint8Array.of(0x07, 1, 2, 3)));
  journalFile(dir).sync();
  let visited = 0;
  assert.throws(() => Journal.recover(openJournalFiles(dir), () => () => visited++, decodeEntryToFold), (e: unknown) =>
    e instanceof JournalCorruptError && e.offset === bad && /record does not decode/.test(e.detail));
  assert.equal(visited, 0, 'nothing handed on from a journal refused at its start');
});

/** What decoding `payload` gives: the entry without its reply, or the error's words. */
function outcome(decode: (payload: Uint8Array) => unknown, payload: Uint8Array): unknown {
  try {
    const { reply: _reply, ...rest } = decode(payload) as JournalRecord;
    return rest;
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

test('the device\'s decode refuses what decodeEntry refuses, with the same words, and otherwise gives the same record less its reply', () => {
  const session: JournalEntry[] = sessionJournalRecords();
  const payloads = [...session, chain(3n)].map(encodeEntry);
  for (const p of payloads) assert.deepEqual(outcome(decodeEntryToFold, p), outcome(decodeEntry, p));
  // Damage where the reply is (the end of a request record) as often as anywhere: a byte
  // changed, the payload cut, bytes added.
  const damaged = fc.record({
    payload: fc.constantFrom(...payloads),
    fromEnd: fc.boolean(),
    at: fc.nat(),
    value: fc.integer({ min: 0, max: 255 }),
    how: fc.constantFrom('set', 'cut', 'add'),
  }).map(({ payload, fromEnd, at, value, how }) => {
    const i = fromEnd ? payload.length - 1 - (at % Math.min(payload.length, 80)) : at % payload.length;
    if (how === 'cut') return payload.subarray(0, i);
    if (how === 'add') return Uint8Array.from([...payload, value]);
    const out = payload.slice();
    out[i] = value;
    return out;
  });
  assertProperty(fc.property(damaged, (payload) => {
    assert.deepEqual(outcome(decodeEntryToFold, payload), outcome(decodeEntry, payload));
  }), 2000);
});
