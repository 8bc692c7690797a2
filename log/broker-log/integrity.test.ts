/**
 * The broker log against a bad disk, on real LevelDB files (docs/broker-log.md "Integrity"):
 * a flipped bit in the write-ahead log (which LevelDB's own recovery turns into silently
 * dropped records: shown first, as the oracle for which records), a flipped bit in a table,
 * a record gone from a table, a torn last write, and a log directory that is gone.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type TestContext } from 'node:test';
import { Level } from 'level';
import { fileHashes } from '../../test/fixtures.js';
import { BrokerLog, seqKey, type StoredRecord } from './broker-log.js';
import { BROKER_LOG_MARKER, BrokerLogDamagedError, BrokerLogMissingError, checkBrokerLogPresent, markBrokerLogCreated } from './log-dir.js';
import type { LogRecord } from './record.js';

const RECORDS = 600;

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'broker-log-integrity-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Requests with random (incompressible, findable) messages. The peer is random too: with a
 * constant one LevelDB's blocks compressed by more than its 1/8 threshold and were stored
 * snappy-compressed, where a chance match could split a message (seen once in a CI run).
 */
const request = (id: number, message: Uint8Array): LogRecord => ({
  kind: 'request-received', id: BigInt(id), client: { peer: new Uint8Array([2, ...randomBytes(32)]), dbid: 0n, permissions: 0n }, type: message[0]! * 256 + message[1]!, message, at: id,
});

/** A closed log of RECORDS records, each appended alone (one write-ahead record each); its messages. */
async function writeLog(dir: string): Promise<Uint8Array[]> {
  const messages = Array.from({ length: RECORDS }, () => new Uint8Array(randomBytes(120)));
  const log = await BrokerLog.open(dir);
  for (const [i, m] of messages.entries()) await log.append(request(i, m));
  await log.close();
  return messages;
}

const walFile = (dir: string): string => join(dir, readdirSync(dir).find((f) => f.endsWith('.log'))!);
const tableFile = (dir: string): string => join(dir, readdirSync(dir).find((f) => f.endsWith('.ldb'))!);

function flipBit(path: string, byte: number): void {
  const b = readFileSync(path);
  b[byte]! ^= 0x08;
  writeFileSync(path, b);
}

/** The keys plain LevelDB keeps when it opens `dir` (a copy: its recovery rewrites). */
async function keysLevelDbKeeps(dir: string, t: TestContext): Promise<bigint[]> {
  const copy = join(tempDir(t), 'copy');
  cpSync(dir, copy, { recursive: true });
  const db = new Level<Uint8Array, Uint8Array>(copy, { keyEncoding: 'view', valueEncoding: 'view' });
  const keys: bigint[] = [];
  for await (const k of db.keys()) keys.push(new DataView(k.buffer, k.byteOffset, 8).getBigUint64(0));
  await db.close();
  return keys;
}

async function readAll(log: BrokerLog): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for await (const r of log.read()) out.push(r);
  return out;
}

for (const [where, at] of [['its first block', 5000], ['a middle block', 40_000], ['its last block', -300]] as const) {
  test(`a bit flipped in the write-ahead log (${where}): LevelDB alone drops records silently; the broker log refuses to open, naming the place, and changes nothing`, async (t) => {
    const dir = tempDir(t);
    await writeLog(dir);
    const wal = walFile(dir);
    const byte = at < 0 ? readFileSync(wal).length + at : at;
    flipBit(wal, byte);

    const kept = await keysLevelDbKeeps(dir, t);
    const firstLost = kept.findIndex((k, i) => k !== BigInt(i));
    const lastBefore = BigInt(firstLost === -1 ? kept.length - 1 : firstLost - 1);
    assert.ok(kept.length < RECORDS, `plain LevelDB lost ${RECORDS - kept.length} records without an error`);

    const before = fileHashes(dir);
    await assert.rejects(BrokerLog.open(dir), (e: unknown) => e instanceof BrokerLogDamagedError &&
      new RegExp(`^after seq ${lastBefore} \\(write-ahead log ${wal.split('/').pop()}, byte \\d+\\)$`).test(e.where) &&
      /checksum mismatch in a record of \d+ bytes/.test(e.detail) && e.message.includes('Nothing in it was changed') &&
      e.message.includes('SPHINX_ACCEPT_NEW_BROKER_LOG=1'));
    assert.deepEqual(fileHashes(dir), before, 'no file of the log changed');
  });
}

test('the place named is the damaged write-ahead record itself', async (t) => {
  const dir = tempDir(t);
  await writeLog(dir);
  const wal = walFile(dir);
  flipBit(wal, 40_000);
  const e = await BrokerLog.open(dir).then(() => undefined, (x: unknown) => x as BrokerLogDamagedError);
  const start = Number(/byte (\d+)/.exec(e!.where)![1]);
  const length = readFileSync(wal).readUInt16LE(start + 4);
  assert.ok(start <= 40_000 && 40_000 < start + 7 + length, `record at ${start} (${length} bytes) holds the flipped byte 40000`);
});

test('a torn last write (the write-ahead log cut inside its last record) is no damage: every earlier record reads', async (t) => {
  const dir = tempDir(t);
  await writeLog(dir);
  const wal = walFile(dir);
  const size = readFileSync(wal).length;
  for (const cut of [1, 50, 150]) {
    const copy = join(tempDir(t), 'log');
    cpSync(dir, copy, { recursive: true });
    truncateSync(walFile(copy), size - cut);
    const log = await BrokerLog.open(copy);
    assert.equal(log.end, BigInt(RECORDS - 1), `cut ${cut} bytes`);
    assert.equal((await readAll(log)).length, RECORDS - 1);
    await log.close();
  }
});

test('a bit flipped in a table changes a stored request for plain LevelDB; the broker log refuses that record by seq when it is read', async (t) => {
  const dir = tempDir(t);
  const messages = await writeLog(dir);
  // Reopening moves the write-ahead log into a table.
  await (await BrokerLog.open(dir)).close();
  const table = tableFile(dir);
  const bytes = readFileSync(table);
  const victim = 321;
  const offset = bytes.indexOf(Buffer.from(messages[victim]!));
  assert.ok(offset > 0, 'the message is stored as is (incompressible)');
  flipBit(table, offset + 10);

  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  const raw = await db.get(seqKey(BigInt(victim)));
  await db.close();
  assert.ok(raw !== undefined && !Buffer.from(raw).includes(Buffer.from(messages[victim]!)), 'LevelDB hands back the changed value without an error');

  const log = await BrokerLog.open(dir);
  await assert.rejects(readAll(log), (e: unknown) => e instanceof BrokerLogDamagedError && e.where === `at seq ${victim}` &&
    /^checksum mismatch \(stored [0-9a-f]{8}, computed [0-9a-f]{8} over key 321/.test(e.detail));
  // Records before it read as written.
  const before: StoredRecord[] = [];
  for await (const r of log.read(0n, BigInt(victim))) before.push(r);
  assert.deepEqual(before.map((r) => (r.record as { message: Uint8Array }).message), messages.slice(0, victim).map((m) => m));
  await log.close();
});

test('a record gone from the middle of a table: opening refuses, naming the missing seq', async (t) => {
  const dir = tempDir(t);
  await writeLog(dir);
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.del(seqKey(200n));
  await db.close();
  await assert.rejects(BrokerLog.open(dir), (e: unknown) => e instanceof BrokerLogDamagedError && e.where === 'at seq 200' && e.detail.startsWith('record 200 is missing'));
  // An audit (onDamage) is told and reads on.
  const told: BrokerLogDamagedError[] = [];
  const log = await BrokerLog.open(dir, { onDamage: (e) => told.push(e) });
  assert.equal((await readAll(log)).length, RECORDS - 1);
  assert.deepEqual(told.map((e) => e.where), ['at seq 200']);
  await log.close();
});

test('a log that was created and is gone is refused, with the way out; a new data directory, or the operator\'s setting, starts one', async (t) => {
  const dataDir = tempDir(t);
  const dir = join(dataDir, 'broker-log');
  assert.equal(checkBrokerLogPresent(dataDir, dir, false), undefined, 'a new data directory');
  await (await BrokerLog.open(dir)).close();
  markBrokerLogCreated(dataDir, new Date('2026-12-01T00:00:00Z'));
  assert.equal(checkBrokerLogPresent(dataDir, dir, false), undefined, 'the log is there');
  assert.match(checkBrokerLogPresent(dataDir, dir, true)!, /SPHINX_ACCEPT_NEW_BROKER_LOG=1 is set but the broker log .* is there: the setting does nothing; remove it/);

  rmSync(dir, { recursive: true });
  assert.throws(() => checkBrokerLogPresent(dataDir, dir, false), (e: unknown) => e instanceof BrokerLogMissingError &&
    e.message.startsWith(`the broker log ${dir} is missing, but ${join(dataDir, BROKER_LOG_MARKER)} says it was created (2026-12-01T00:00:00.000Z)`) &&
    /Put the log back .*start once with SPHINX_ACCEPT_NEW_BROKER_LOG=1/.test(e.message));
  // Files left without CURRENT: LevelDB would delete them, so they must be moved aside first.
  mkdirSync(dir);
  writeFileSync(join(dir, '000005.ldb'), 'x');
  assert.throws(() => checkBrokerLogPresent(dataDir, dir, true), /has no CURRENT file but holds 000005\.ldb: move .* aside first/);
  rmSync(dir, { recursive: true });

  assert.match(checkBrokerLogPresent(dataDir, dir, true)!, /is missing, .*: starting a new one because SPHINX_ACCEPT_NEW_BROKER_LOG=1/);
  assert.ok(!existsSync(join(dataDir, BROKER_LOG_MARKER)), 'the old marker goes with the accepted loss');
  await (await BrokerLog.open(dir)).close();
  markBrokerLogCreated(dataDir, new Date('2026-12-02T00:00:00Z'));
  assert.equal(readFileSync(join(dataDir, BROKER_LOG_MARKER), 'utf8'), '2026-12-02T00:00:00.000Z\n');
});
