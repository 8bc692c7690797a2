/**
 * The journal in a file that keeps reserved space after its content (docs/journal.md
 * "Reserved space"; log/file-port.ts), on the in-memory file with faults: the fill is never a
 * frame, zeros or 0xff; records survive reopen, which cuts the reserved space and goes on
 * appending where the content ends; a crash tearing an append over reserved space at any
 * byte loses only that record and is reported as torn; zeros where the last records were,
 * with the fill after them, are still damage, refused by name with nothing cut; damage
 * inside the reserved space only is no loss. The same on a real file: node/node-file.test.ts.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import { sessionJournalRecords, writeJournal } from '../../test/journal-records.js';
import { MemoryDir, type MemoryFile } from '../memory-file.js';
import { RESERVE_PERIOD, isReserveFill, reserveFillAt, reserveSuffixStart, writeReserveFill } from '../file-port.js';
import { JournalCorruptError, MAX_FRAME_PAYLOAD, encodeFrame, scanFrames } from './frame.js';
import { JOURNAL_FILE, Journal, openJournalFiles } from './journal.js';
import { type JournalRecord, encodeRecord } from './record.js';

const records = sessionJournalRecords().slice(0, 40);

/** Stretches smaller than a record and larger than several. */
const STRETCHES = [64, 700, 4096];

const open = (dir: MemoryDir) => Journal.open(openJournalFiles(dir));
const journalFile = (dir: MemoryDir): MemoryFile => dir.open(JOURNAL_FILE, { reserve: true });
const frameLength = (r: JournalRecord): number => encodeFrame(encodeRecord(r)).length;

const write = writeJournal;

test('the fill is never zeros or 0xff, and no four of its bytes are a frame length in range', () => {
  fc.assert(fc.property(fc.nat(1 << 30), (offset) => {
    const fill = new Uint8Array(4);
    writeReserveFill(fill, 0, offset);
    assert.ok(fill.every((b) => b !== 0 && b !== 0xff));
    assert.ok(new DataView(fill.buffer).getUint32(0) > MAX_FRAME_PAYLOAD);
    assert.equal(fill[0], reserveFillAt(offset));
  }));
});

test('records survive reopen; the file keeps fill after them, which reopening cuts before appending on', () => {
  for (const reserve of STRETCHES) {
    const dir = new MemoryDir({ reserve });
    write(dir, records.slice(0, 20));
    const file = journalFile(dir);
    const content = records.slice(0, 20).reduce((n, r) => n + frameLength(r), 0);
    assert.equal(file.contentEnd, content);
    assert.equal(file.size() % reserve, 0, `reserve ${reserve}: the file grows a stretch at a time`);
    assert.ok(isReserveFill(file.read(0, file.size()), content, file.size()), 'fill after the content');
    const { journal, recovery } = open(dir);
    assert.deepEqual(recovery.records.map((s) => s.record), records.slice(0, 20));
    assert.equal(recovery.torn, undefined);
    assert.deepEqual(recovery.notes, [], 'reserved space is no news');
    assert.equal(file.size(), content, 'reopening cut the reserved space');
    for (const r of records.slice(20)) {
      journal.append(r);
      journal.sync();
    }
    assert.deepEqual(open(dir).recovery.records.map((s) => s.record), records);
  }
});

test('a crash tearing an append over reserved space at any byte loses only that record, reported as torn', () => {
  const head = records.slice(0, 5);
  const last = records[5]!;
  for (const reserve of STRETCHES) {
    for (let keep = 0; keep <= frameLength(last); keep++) {
      const dir = new MemoryDir({ reserve });
      const journal = write(dir, head);
      journal.append(last); // not synced: not acknowledged
      dir.crash(keep);
      const { recovery } = open(dir);
      const expected = keep === frameLength(last) ? [...head, last] : head;
      assert.deepEqual(recovery.records.map((s) => s.record), expected, `reserve ${reserve}, keep ${keep}`);
      if (keep === 0 || keep === frameLength(last)) assert.equal(recovery.torn, undefined);
      else assert.equal(recovery.torn?.length, keep, `reserve ${reserve}, keep ${keep}: the kept bytes, up to the fill`);
    }
  }
});

test('tearLastWrite over reserved space: the torn record is dropped and the fill it was written over is back', () => {
  const dir = new MemoryDir({ reserve: 4096 });
  write(dir, records.slice(0, 3));
  const file = journalFile(dir);
  file.tearLastWrite(10);
  const bytes = file.read(0, file.size());
  const second = frameLength(records[0]!) + frameLength(records[1]!);
  assert.equal(reserveSuffixStart(bytes), second + 10);
  const { recovery } = open(dir);
  assert.deepEqual(recovery.records.map((s) => s.record), records.slice(0, 2));
  assert.deepEqual(recovery.torn && { offset: recovery.torn.offset, length: recovery.torn.length }, { offset: second, length: 10 });
});

test('zeros over the last records with the fill after them are damage: refused by name, nothing cut', () => {
  const dir = new MemoryDir({ reserve: 4096 });
  write(dir, records);
  const file = journalFile(dir);
  const end = file.contentEnd;
  const offsets = scanFrames('j', file.read(0, end)).frames.map((f) => f.offset);
  const hit = offsets.filter((o) => o <= end - 600).at(-1)!;
  file.overwrite(end - 600, new Uint8Array(600));
  const before = file.read(0, file.size());
  assert.throws(() => open(dir), (e: unknown) => e instanceof JournalCorruptError && e.offset === hit &&
    /the \d+ bytes from here to the reserved space are not a torn last write/.test(e.message));
  assert.deepEqual(file.read(0, file.size()), before, 'the file is kept as it was');
});

test('damage inside the reserved space loses nothing: the content ends where the fill begins', () => {
  const dir = new MemoryDir({ reserve: 4096 });
  write(dir, records.slice(0, 10));
  const file = journalFile(dir);
  const end = file.contentEnd;
  assert.ok(file.size() - end > 100 + RESERVE_PERIOD);
  file.overwrite(end + RESERVE_PERIOD, new Uint8Array(100));
  file.overwrite(file.size() - 10, Uint8Array.of(0xff, 0xff, 0xff));
  const { recovery } = open(dir);
  assert.deepEqual(recovery.records.map((s) => s.record), records.slice(0, 10));
  assert.equal(file.size(), end);
});
