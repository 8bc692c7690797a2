/**
 * BrokerLog on a real LevelDB in a temp directory: sequence order and resumption, group
 * commit, range reads, tail, and live subscriptions.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { Level } from 'level';
import { BrokerLogDamagedError } from './log-dir.js';
import { BrokerLog, LAZY_WAIT_MS, seqKey, type StoredRecord } from './broker-log.js';
import type { LogRecord } from './record.js';

function tempDir(t: { after(f: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'broker-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A distinct record per n, so order and content can be checked. */
const errorRecord = (n: number): LogRecord => ({ kind: 'error', id: BigInt(n), text: `record ${n}`, at: 1_700_000_000_000 + n });

async function readAll(log: BrokerLog, from?: bigint, to?: bigint): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for await (const s of log.read(from, to)) out.push(s);
  return out;
}

test('seqs start at 0, follow append order, and resume after reopen', async (t) => {
  const dir = tempDir(t);
  let log = await BrokerLog.open(dir);
  assert.equal(log.end, 0n);
  for (let n = 0; n < 3; n++) assert.equal(await log.append(errorRecord(n)), BigInt(n));
  await log.close();
  log = await BrokerLog.open(dir);
  assert.equal(log.end, 3n);
  assert.equal(await log.append(errorRecord(3)), 3n);
  assert.deepEqual(await readAll(log), [0, 1, 2, 3].map((n) => ({ seq: BigInt(n), record: errorRecord(n) })));
  await log.close();
});

test('keys are 8-byte big-endian seqs, so LevelDB order is append order past 255 and 65535', async (t) => {
  const dir = tempDir(t);
  const log = await BrokerLog.open(dir);
  const n = 300;
  await Promise.all(Array.from({ length: n }, (_, i) => log.append(errorRecord(i))));
  await log.close();
  assert.equal([...seqKey(0x0102030405060708n)].join(','), '1,2,3,4,5,6,7,8');
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  const keys: string[] = [];
  for await (const key of db.keys()) keys.push(Buffer.from(key).toString('hex'));
  await db.close();
  assert.deepEqual(keys, Array.from({ length: n }, (_, i) => i.toString(16).padStart(16, '0')));
});

test('group commit: 200 concurrent appends share a few synced batches, all durable and in order', async (t) => {
  const dir = tempDir(t);
  let log = await BrokerLog.open(dir);
  const seqs = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(errorRecord(i))));
  assert.deepEqual(seqs, Array.from({ length: 200 }, (_, i) => BigInt(i)));
  const { batches, appends } = log.stats;
  assert.equal(appends, 200);
  assert.ok(batches <= 4, `200 concurrent appends took ${batches} batches`);

  // Appends made while a batch is in flight wait for the next one, together.
  const first = log.append(errorRecord(200));
  await Promise.resolve(); // let the first batch start
  const queued = Array.from({ length: 50 }, (_, i) => log.append(errorRecord(201 + i)));
  await Promise.all([first, ...queued]);
  assert.equal(log.stats.batches, batches + 2);
  await log.close();

  log = await BrokerLog.open(dir);
  assert.deepEqual(await readAll(log), Array.from({ length: 251 }, (_, i) => ({ seq: BigInt(i), record: errorRecord(i) })));
  await log.close();
});

test('a lazy append shares the next batch another append starts, or is written on its own after LAZY_WAIT_MS', async (t) => {
  const dir = tempDir(t);
  let log = await BrokerLog.open(dir);
  const lazy = log.append(errorRecord(0), { lazy: true });
  await new Promise((r) => setTimeout(r, LAZY_WAIT_MS / 4));
  assert.equal(log.stats.batches, 0, 'a lazy append starts no batch');
  assert.deepEqual(await Promise.all([lazy, log.append(errorRecord(1))]), [0n, 1n]);
  assert.deepEqual(log.stats, { batches: 1, appends: 2 }, 'it rode with the next append, one sync for both');

  const started = performance.now();
  assert.equal(await log.append(errorRecord(2), { lazy: true }), 2n);
  assert.ok(performance.now() - started >= LAZY_WAIT_MS - 1, 'alone, it was written once its wait was over');
  assert.equal(log.stats.batches, 2);

  // Made while a batch is in flight: it waits for a due append rather than syncing alone after it.
  const writing = log.append(errorRecord(3));
  await Promise.resolve();
  const rides = log.append(errorRecord(4), { lazy: true });
  await writing;
  const due = log.append(errorRecord(5));
  await Promise.all([rides, due]);
  assert.equal(log.stats.batches, 4);
  const waiting = log.append(errorRecord(6), { lazy: true });
  await log.close(); // writes what still waits
  assert.equal(await waiting, 6n);
  log = await BrokerLog.open(dir);
  assert.deepEqual(await readAll(log), Array.from({ length: 7 }, (_, i) => ({ seq: BigInt(i), record: errorRecord(i) })));
  await log.close();
});

test('each append resolves only after its batch was written', async (t) => {
  const log = await BrokerLog.open(tempDir(t));
  const order: string[] = [];
  const a = log.append(errorRecord(0)).then(() => order.push(`a resolved, batches ${log.stats.batches}`));
  const b = log.append(errorRecord(1)).then(() => order.push(`b resolved, batches ${log.stats.batches}`));
  await Promise.all([a, b]);
  assert.deepEqual(order, ['a resolved, batches 1', 'b resolved, batches 1']);
  await log.close();
});

test('read ranges are half-open [from, to); tail gives the last n oldest first', async (t) => {
  const log = await BrokerLog.open(tempDir(t));
  await Promise.all(Array.from({ length: 10 }, (_, i) => log.append(errorRecord(i))));
  assert.deepEqual((await readAll(log, 3n, 6n)).map((s) => s.seq), [3n, 4n, 5n]);
  assert.deepEqual((await readAll(log, 8n)).map((s) => s.seq), [8n, 9n]);
  assert.deepEqual(await readAll(log, 10n), []);
  assert.deepEqual(await readAll(log, 5n, 5n), []);
  assert.deepEqual(await log.tail(3), [7, 8, 9].map((n) => ({ seq: BigInt(n), record: errorRecord(n) })));
  assert.deepEqual((await log.tail(50)).length, 10);
  assert.deepEqual(await log.tail(0), []);
  await log.close();
});

test('subscribe delivers stored records, then new ones as they become durable, once each and in order', async (t) => {
  const log = await BrokerLog.open(tempDir(t));
  await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(errorRecord(i))));
  const seen: StoredRecord[] = [];
  const durableWhenSeen: boolean[] = [];
  const acknowledged = new Set<bigint>();
  const sub = log.subscribe(5n, (s) => {
    seen.push(s);
    durableWhenSeen.push(s.seq < 20n || log.stats.appends > Number(s.seq));
  });
  // Appends racing with the catch-up read.
  const racing = Array.from({ length: 30 }, (_, i) => log.append(errorRecord(20 + i)).then((seq) => acknowledged.add(seq)));
  await sub.ready;
  await Promise.all(racing);
  for (let i = 50; i < 60; i++) await log.append(errorRecord(i));
  assert.deepEqual(seen, Array.from({ length: 55 }, (_, i) => ({ seq: BigInt(5 + i), record: errorRecord(5 + i) })));
  assert.ok(durableWhenSeen.every(Boolean));
  sub.close();
  assert.equal(await sub.ended, undefined);
  await log.append(errorRecord(60));
  assert.equal(seen.length, 55);
  await log.close();
});

test('subscribe from a future seq waits for it; a throwing onRecord ends that subscription only', async (t) => {
  const log = await BrokerLog.open(tempDir(t));
  const future: bigint[] = [];
  const later = log.subscribe(3n, (s) => future.push(s.seq));
  const failing = log.subscribe(0n, (s) => {
    if (s.seq === 1n) throw new Error('view broke');
  });
  await Promise.all([later.ready, failing.ready]);
  for (let i = 0; i < 5; i++) await log.append(errorRecord(i));
  assert.deepEqual(future, [3n, 4n]);
  assert.match(String(await failing.ended), /view broke/);
  await log.close();
  assert.equal(await later.ended, undefined); // closing the log ends its subscriptions
});

test('append after close is refused; close waits for queued appends', async (t) => {
  const dir = tempDir(t);
  let log = await BrokerLog.open(dir);
  const pending = Array.from({ length: 5 }, (_, i) => log.append(errorRecord(i)));
  await log.close();
  assert.deepEqual(await Promise.all(pending), [0n, 1n, 2n, 3n, 4n]);
  await assert.rejects(log.append(errorRecord(5)), /append after close/);
  log = await BrokerLog.open(dir);
  assert.equal(log.end, 5n);
  await log.close();
});

test('an unencodable record is refused without taking a seq', async (t) => {
  const log = await BrokerLog.open(tempDir(t));
  await assert.rejects(log.append({ kind: 'error', text: 'x', at: -1 }), /at must be a non-negative safe integer/);
  assert.equal(await log.append(errorRecord(0)), 0n);
  await log.close();
});

test('a stored value this build cannot read is an error naming its seq', async (t) => {
  const dir = tempDir(t);
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.put(seqKey(0n), Uint8Array.of(9, 1), { sync: true });
  await db.close();
  const log = await BrokerLog.open(dir);
  assert.equal(log.end, 1n);
  await assert.rejects(readAll(log), (e: unknown) => e instanceof BrokerLogDamagedError && e.where === 'at seq 0' &&
    e.message.startsWith(`the broker log ${dir} is damaged at seq 0: unknown broker-log record version 9`));
  await log.close();
});
