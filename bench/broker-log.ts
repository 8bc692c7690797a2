/**
 * Synced appends/s of the broker's LevelDB log (log/broker-log), with 1 writer and with 64
 * concurrent writers (group commit), against raw `level` in the same process on the same disk:
 * one `put` with `{ sync: true }` per record, and one synced `batch` of 64 records. Every
 * figure is records made durable per second; each measurement starts on a fresh database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { BrokerLog, seqKey } from '../log/broker-log/broker-log.js';
import { encodeRecord, type LogRecord } from '../log/broker-log/record.js';
import { type Bench, fmtOps, fmtRatio, printTable } from './harness.js';

const CONCURRENT = 64;

/** A request of typical size (a 300-byte hsmd frame). */
const record = (n: number): LogRecord => ({
  kind: 'request-received',
  id: BigInt(n),
  client: { peer: new Uint8Array(33).fill(2), dbid: 1n, permissions: 0x403n },
  type: 0x0017,
  message: new Uint8Array(300).fill(n & 0xff),
  at: 1_700_000_000_000 + n,
});

interface AsyncMeasurement {
  readonly records: number;
  readonly ms: number;
  readonly perSec: number;
  /** Synced writes issued (puts or batches). */
  readonly syncs: number;
}

/** Runs `round` (which makes some records durable and says how many, in how many syncs) until budgetMs passed. */
async function measureAsync(round: () => Promise<[records: number, syncs: number]>, budgetMs: number): Promise<AsyncMeasurement> {
  for (let i = 0; i < 5; i++) await round(); // warm-up
  let records = 0;
  let syncs = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < budgetMs) {
    const [r, s] = await round();
    records += r;
    syncs += s;
    elapsed = performance.now() - start;
  }
  return { records, ms: elapsed, perSec: (records * 1000) / elapsed, syncs };
}

/** Runs `f` on a fresh directory and removes it after. */
async function inTempDir<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-broker-log-'));
  try {
    return await f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function rawLevel(batchSize: number, budgetMs: number): Promise<AsyncMeasurement> {
  return inTempDir(async (dir) => {
    const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    let seq = 0;
    const m = await measureAsync(async () => {
      if (batchSize === 1) {
        await db.put(seqKey(BigInt(seq)), encodeRecord(record(seq), BigInt(seq++)), { sync: true });
      } else {
        const ops = Array.from({ length: batchSize }, () => ({ type: 'put' as const, key: seqKey(BigInt(seq)), value: encodeRecord(record(seq), BigInt(seq++)) }));
        await db.batch(ops, { sync: true });
      }
      return [batchSize, 1];
    }, budgetMs);
    await db.close();
    return m;
  });
}

/** `writers` loops, each appending and awaiting durability, until budgetMs passed. */
function brokerLog(writers: number, budgetMs: number): Promise<AsyncMeasurement> {
  return inTempDir(async (dir) => {
    const log = await BrokerLog.open(dir);
    let n = 0;
    const runFor = async (ms: number): Promise<AsyncMeasurement> => {
      const { batches, appends } = log.stats;
      const start = performance.now();
      const deadline = start + ms;
      await Promise.all(Array.from({ length: writers }, async () => {
        while (performance.now() < deadline) await log.append(record(n++));
      }));
      const elapsed = performance.now() - start;
      const records = log.stats.appends - appends;
      return { records, ms: elapsed, perSec: (records * 1000) / elapsed, syncs: log.stats.batches - batches };
    };
    await runFor(50); // warm-up
    const m = await runFor(budgetMs);
    await log.close();
    return m;
  });
}

export const brokerLogBench: Bench = {
  name: 'broker log (LevelDB): synced appends/s with group commit vs raw level',
  async run({ budgetMs }) {
    const budget = Math.min(Math.max(budgetMs * 5, 500), 2000);
    const put = await rawLevel(1, budget);
    const batch = await rawLevel(CONCURRENT, budget);
    const one = await brokerLog(1, budget);
    const many = await brokerLog(CONCURRENT, budget);
    const row = (name: string, m: AsyncMeasurement, vsPut: number, vsBatch: number) => [
      name, `${fmtOps(m.perSec)} (${m.records})`, (m.records / m.syncs).toFixed(1), fmtOps((m.syncs * 1000) / m.ms),
      fmtRatio(vsPut), fmtRatio(vsBatch),
    ];
    printTable(
      ['writes', 'records/s (n)', 'records/sync', 'syncs/s', '÷ raw put', '÷ raw batch64'],
      [
        row('raw level put {sync} per record', put, 1, put.perSec / batch.perSec),
        row(`raw level batch of ${CONCURRENT} {sync}`, batch, batch.perSec / put.perSec, 1),
        row('BrokerLog.append, 1 writer', one, one.perSec / put.perSec, one.perSec / batch.perSec),
        row(`BrokerLog.append, ${CONCURRENT} concurrent writers`, many, many.perSec / put.perSec, many.perSec / batch.perSec),
      ],
    );
    console.log(`${CONCURRENT} writers vs 1 writer: ${fmtRatio(many.perSec / one.perSec)}×; ` +
      `records are ${encodeRecord(record(0), 0n).length}-byte request-received values; ${budget} ms per row; databases under ${tmpdir()}`);
  },
};
