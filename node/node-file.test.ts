/**
 * The FilePort on real files (node/node-file.ts) with reserved space (docs/journal.md
 * "Reserved space"): the journal's file grows a stretch of fill at a time and its records
 * are written over it; the other files never get any; reopening finds the records, cuts the
 * fill and appends on; a torn write left on disk over the fill (as a power cut leaves it)
 * is cut and reported, the records before it kept.
 */
import assert from 'node:assert/strict';
import fs, { mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync, closeSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { encodeFrame } from '../log/journal/frame.js';
import { JOURNAL_FILE, Journal, SNAPSHOT_FILES, openJournalFiles } from '../log/journal/journal.js';
import { type JournalRecord, encodeRecord } from '../log/journal/record.js';
import { isReserveFill } from '../log/file-port.js';
import { sessionJournalRecords, writeJournal } from '../test/journal-records.js';
import { NodeDir, NodeFile, RESERVE_BYTES } from './node-file.js';

const records = sessionJournalRecords();
/** The recorded ones, then them again under later ids: as many as a test needs, ids increasing. */
const recordAt = (i: number): JournalRecord => ({ ...records[i % records.length]!, id: BigInt(i + 1) });
const frames = records.map((r) => encodeFrame(encodeRecord(r)));
/** The first n records' frames: a u64 id has one length, so a later copy's frame is as long as the recorded one. */
const lengthOf = (n: number): number => Array.from({ length: n }, (_, i) => frames[i % frames.length]!.length).reduce((a, b) => a + b, 0);

function withDir(body: (path: string) => void): void {
  const path = mkdtempSync(join(tmpdir(), 'sphinx-node-file-'));
  try {
    body(path);
  } finally {
    rmSync(path, { recursive: true, force: true });
  }
}

const write = (path: string, rs: readonly JournalRecord[]): Journal => writeJournal(new NodeDir(path), rs);

test('the journal file grows a stretch of fill at a time; its records are written over it; other files get none', () => {
  withDir((path) => {
    write(path, records.slice(0, 50));
    const onDisk = new Uint8Array(readFileSync(join(path, JOURNAL_FILE)));
    assert.equal(onDisk.length % RESERVE_BYTES, 0);
    assert.ok(onDisk.length >= lengthOf(50));
    assert.deepEqual(onDisk.subarray(0, lengthOf(50)), new Uint8Array(Buffer.concat(frames.slice(0, 50))));
    assert.ok(isReserveFill(onDisk, lengthOf(50), onDisk.length), 'fill after the records');
    for (const name of SNAPSHOT_FILES) assert.equal(statSync(join(path, name)).size, 0);
  });
});

test('reopening finds the records, cuts the fill, and appends on where the content ends, across stretches', () => {
  withDir((path) => {
    write(path, records.slice(0, 10));
    const file = new NodeFile(join(path, JOURNAL_FILE), { reserve: true });
    assert.equal(file.size(), RESERVE_BYTES, 'a reopened file counts its reserved space until its owner cuts it');
    file.close();
    const { journal, recovery } = Journal.open(openJournalFiles(new NodeDir(path)));
    assert.deepEqual(recovery.records.map((s) => s.record), records.slice(0, 10));
    assert.deepEqual(recovery.notes, []);
    assert.equal(statSync(join(path, JOURNAL_FILE)).size, lengthOf(10));
    // Enough records to cross into the next stretch.
    let n = 10;
    for (; lengthOf(n) < RESERVE_BYTES + 1000; n++) {
      journal.append(recordAt(n));
      journal.sync();
    }
    assert.equal(statSync(join(path, JOURNAL_FILE)).size, 2 * RESERVE_BYTES);
    const reopened = Journal.open(openJournalFiles(new NodeDir(path))).recovery.records;
    assert.deepEqual(reopened.map((s) => s.record.id), Array.from({ length: n }, (_, i) => BigInt(i + 1)));
  });
});

test('a torn write left on disk over the fill is cut and reported; the records before it are kept', () => {
  withDir((path) => {
    write(path, records.slice(0, 8));
    // What a power cut during the ninth record's write leaves: its first 30 bytes over the fill.
    const fd = openSync(join(path, JOURNAL_FILE), 'r+');
    writeSync(fd, frames[8]!, 0, 30, lengthOf(8));
    closeSync(fd);
    const { journal, recovery } = Journal.open(openJournalFiles(new NodeDir(path)));
    assert.deepEqual(recovery.records.map((s) => s.record), records.slice(0, 8));
    assert.deepEqual(recovery.torn && { offset: recovery.torn.offset, length: recovery.torn.length }, { offset: lengthOf(8), length: 30 });
    assert.match(recovery.notes[0]!, /torn last write of 30 bytes/);
    journal.append(records[8]!);
    journal.sync();
    assert.deepEqual(Journal.open(openJournalFiles(new NodeDir(path))).recovery.records.map((s) => s.record), records.slice(0, 9));
  });
});

test("a directory opened with syncs 'none': its files read back what was written, and none of their syncs reaches the disk", async () => {
  const counted = { fdatasyncSync: fs.fdatasyncSync, fsyncSync: fs.fsyncSync, fdatasync: fs.fdatasync };
  let syncs = 0;
  // Count every sync node:fs is asked for (the named imports follow once the builtin's exports are synced).
  fs.fdatasyncSync = (...a: Parameters<typeof fs.fdatasyncSync>) => (syncs++, counted.fdatasyncSync(...a));
  fs.fsyncSync = (...a: Parameters<typeof fs.fsyncSync>) => (syncs++, counted.fsyncSync(...a));
  fs.fdatasync = ((...a: Parameters<typeof fs.fdatasync>) => (syncs++, counted.fdatasync(...a))) as typeof fs.fdatasync;
  syncBuiltinESMExports();
  const root = mkdtempSync(join(tmpdir(), 'node-file-nosync-'));
  try {
    const dir = new NodeDir(join(root, 'made'), 'none');
    const file = dir.open('journal', { reserve: true });
    file.append(Uint8Array.of(1, 2, 3));
    file.sync();
    await file.syncAsync();
    assert.deepEqual([...file.read(0, 3)], [1, 2, 3]);
    file.close();
    assert.equal(syncs, 0, 'no sync of the file, nor of the directories it made');
    // The same through a directory that syncs: the contract every journal relies on.
    const durable = new NodeDir(join(root, 'durable')).open('journal', { reserve: true });
    durable.append(Uint8Array.of(1));
    durable.sync();
    durable.close();
    assert.ok(syncs >= 2, `a synced directory's file and its entry are synced (${syncs})`);
  } finally {
    Object.assign(fs, counted);
    syncBuiltinESMExports();
    rmSync(root, { recursive: true, force: true });
  }
});
