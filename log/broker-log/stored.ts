/**
 * The broker log's LevelDB keys and values read back as records (broker-log.ts), and what
 * damage looks like there: a key that is not a sequence number, a record whose checksum or
 * encoding fails, LevelDB's own refusal of a damaged file, a hole in the sequence
 * (docs/broker-log.md "Integrity").
 */
import type { Level } from 'level';
import { BrokerLogDamagedError } from './log-dir.js';
import { decodeRecord, type LogRecord } from './record.js';

export type Db = Level<Uint8Array, Uint8Array>;

/** A record with its place in the log. */
export interface StoredRecord {
  readonly seq: bigint;
  readonly record: LogRecord;
}

/** A key's sequence number; a key that is not one is damage. */
export function seqOfKey(dir: string, key: Uint8Array, after: bigint | undefined): bigint {
  if (key.length !== 8) throw new BrokerLogDamagedError(dir, after === undefined ? 'at its first key' : `after seq ${after}`, `a key of ${key.length} bytes is not an 8-byte sequence number`);
  return new DataView(key.buffer, key.byteOffset, 8).getBigUint64(0);
}

/** Decodes a stored value; level hands back Buffers, whose slice() aliases, so view it as a plain Uint8Array. */
export function decodeStored(dir: string, seq: bigint, value: Uint8Array): StoredRecord {
  try {
    return { seq, record: decodeRecord(new Uint8Array(value.buffer, value.byteOffset, value.byteLength), seq) };
  } catch (e) {
    throw new BrokerLogDamagedError(dir, `at seq ${seq}`, (e as Error).message, e);
  }
}

/** LevelDB's own refusal of damaged files (a bad block, a bad MANIFEST), as damage of `where`. */
export function levelDamage(dir: string, where: string, e: unknown): unknown {
  if (e instanceof BrokerLogDamagedError) return e;
  const code = (e as { code?: string; cause?: { code?: string } }).code ?? '';
  const cause = (e as { cause?: Error }).cause;
  if (code !== 'LEVEL_CORRUPTION' && !/corrupt/i.test(String(cause?.message ?? (e as Error).message))) return e;
  return new BrokerLogDamagedError(dir, where, `LevelDB: ${cause?.message ?? (e as Error).message}`, e);
}

/** Records `from`..`to`-1 are not there: LevelDB dropped them (a damaged write-ahead block, or table). */
export const missing = (dir: string, from: bigint, to: bigint): BrokerLogDamagedError =>
  new BrokerLogDamagedError(dir, `at seq ${from}`, `${to - from === 1n ? `record ${from} is` : `records ${from}..${to - 1n} are`} missing ` +
    '(the sequence has no holes when written, so LevelDB dropped them: a damaged write-ahead log or table)');

/** The end of the sequence (last seq + 1), after checking every key from 0 is there (each hole to `onDamage`, or thrown). */
export async function contiguousEnd(dir: string, db: Db, onDamage: ((e: BrokerLogDamagedError) => void) | undefined): Promise<bigint> {
  let next = 0n;
  try {
    for await (const key of db.keys()) {
      const seq = seqOfKey(dir, key, next === 0n ? undefined : next - 1n);
      if (seq !== next) {
        if (!onDamage || seq < next) throw missing(dir, next, seq);
        onDamage(missing(dir, next, seq));
      }
      next = seq + 1n;
    }
  } catch (e) {
    throw levelDamage(dir, next === 0n ? 'at its first key' : `after seq ${next - 1n}`, e);
  }
  return next;
}
