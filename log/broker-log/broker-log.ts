/**
 * `BrokerLog`: the broker's durable event log on LevelDB (`level`, docs/design.md#logs-and-projections). Node-side.
 *
 * Keys are 8-byte big-endian sequence numbers from 0, so iteration order is append order;
 * values are `record.ts` records. Appends use group commit: appends made while no batch is in
 * flight are written together (after the current microtask, so a burst shares one batch) in one
 * `db.batch(..., { sync: true })`; appends made while a batch is being written wait for the next
 * one. Each append resolves with its sequence number only once its batch is durable, so the
 * broker may answer lightningd then (docs/design.md#durability-rules). A `lazy` append starts
 * no batch of its own: it rides with the next one another append starts (LevelDB writes in
 * order, so that batch's sync covers it), or is written after LAZY_WAIT_MS if none comes first.
 *
 * A failed batch poisons the log: that batch and every later append reject, and nothing more is
 * written, so a sequence never has a hole behind a durable record. Reopening resumes after the
 * last durable key.
 *
 * Reads (`read`, `tail`, `subscribe`) only see durable records, and check each record's
 * checksum (record.ts). Opening checks that the sequence numbers run from 0 without a hole
 * (LevelDB drops what follows a damaged write-ahead block and goes on); damage is refused by
 * name with BrokerLogDamagedError, never skipped (docs/broker-log.md "Integrity").
 */
import { join } from 'node:path';
import { Level } from 'level';
import { BrokerLogDamagedError } from './log-dir.js';
import { encodeRecord, type LogRecord, seqKey } from './record.js';
import { contiguousEnd, type Db, decodeStored, levelDamage, missing, seqOfKey, type StoredRecord } from './stored.js';
import { checkWriteAheadLogs, droppedAtOpen } from './wal-check.js';

export { seqKey } from './record.js';
export type { StoredRecord } from './stored.js';

/** Where a broker whose SPHINX_DATA_DIR is `dataDir` keeps its log. */
export const brokerLogDir = (dataDir: string): string => join(dataDir, 'broker-log');

/** A live view of the log (see `BrokerLog.subscribe`). */
export interface Subscription {
  /** Resolves once every record stored at subscribe time was delivered and delivery is live; rejects if that read failed. */
  readonly ready: Promise<void>;
  /**
   * Resolves when the subscription ends: with undefined when closed (by `close()` or the log
   * closing), with the error when onRecord threw or a read failed. Never rejects, so an
   * unobserved failing view cannot bring the broker down.
   */
  readonly ended: Promise<unknown>;
  close(): void;
}

/** Counters for tests and benches. */
export interface BrokerLogStats {
  /** Synced batches written since open. */
  readonly batches: number;
  /** Records made durable since open. */
  readonly appends: number;
}

interface PendingAppend {
  readonly seq: bigint;
  readonly record: LogRecord;
  readonly value: Uint8Array;
  readonly resolve: (seq: bigint) => void;
  readonly reject: (e: unknown) => void;
}

interface Subscriber {
  /** Next seq to deliver. */
  cursor: bigint;
  live: boolean;
  closed: boolean;
  readonly onRecord: (r: StoredRecord) => void;
  readonly end: (error?: unknown) => void;
}

const SEQ_MAX = 0xffffffffffffffffn;

/** The longest a lazy append waits for another append's batch before it is written on its own. */
export const LAZY_WAIT_MS = 20;

/**
 * LevelDB's own LOCK is held by another process (a running broker). Callers that can read
 * the data directory's lock file (node/dir-lock.ts) name the holder.
 */
export class BrokerLogLockedError extends Error {
  override readonly name = 'BrokerLogLockedError';
  constructor(readonly dir: string) {
    super(`the broker log ${dir} is in use by another process (LevelDB LOCK held): a LevelDB log has one writer`);
  }
}

export class BrokerLog {
  private readonly db: Db;
  /** Seq the next append gets. */
  private nextSeq: bigint;
  /** Every seq below this is durable. */
  private durableEnd: bigint;
  private queue: PendingAppend[] = [];
  /** The batch being written, if any. */
  private writing: Promise<void> | null = null;
  private flushScheduled = false;
  /** The queue holds an append that is due (not lazy, or lazy and waited long enough). */
  private due = false;
  private lazyTimer: ReturnType<typeof setTimeout> | undefined;
  private failure: Error | null = null;
  private closing = false;
  private readonly subscribers = new Set<Subscriber>();
  private batchCount = 0;
  private appendCount = 0;

  private constructor(
    db: Db,
    end: bigint,
    readonly dir: string,
    private readonly onDamage: ((e: BrokerLogDamagedError) => void) | undefined,
  ) {
    this.db = db;
    this.nextSeq = end;
    this.durableEnd = end;
  }

  /**
   * Opens (creating if needed) the log in `dir`; appends continue after its last record.
   * Reads every key once: a hole in the sequence is BrokerLogDamagedError. With `onDamage`
   * (an audit, on a copy) holes and damaged records are told to it and reads go on past them;
   * damage LevelDB itself refuses still throws.
   */
  static async open(dir: string, options: { readonly onDamage?: (e: BrokerLogDamagedError) => void } = {}): Promise<BrokerLog> {
    const tell = (e: BrokerLogDamagedError): void => {
      if (!options.onDamage) throw e;
      options.onDamage(e);
    };
    const wal = checkWriteAheadLogs(dir);
    if (wal) tell(new BrokerLogDamagedError(dir, wal.where, wal.detail));
    const db: Db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (e) {
      if ((e as { cause?: { code?: string } }).cause?.code === 'LEVEL_LOCKED') throw new BrokerLogLockedError(dir);
      throw levelDamage(dir, 'while opening', e);
    }
    try {
      const dropped = wal ? undefined : droppedAtOpen(dir);
      if (dropped) tell(new BrokerLogDamagedError(dir, 'while opening', dropped));
      return new BrokerLog(db, await contiguousEnd(dir, db, options.onDamage), dir, options.onDamage);
    } catch (e) {
      await db.close();
      throw e;
    }
  }

  /** The seq the next append will get (= number of records, as seqs start at 0). */
  get end(): bigint {
    return this.nextSeq;
  }

  get stats(): BrokerLogStats {
    return { batches: this.batchCount, appends: this.appendCount };
  }

  /**
   * Appends `record`; resolves with its seq once it is durable (synced to disk). With `lazy`,
   * it waits (up to LAZY_WAIT_MS) to share another append's batch and sync.
   */
  append(record: LogRecord, options: { readonly lazy?: boolean } = {}): Promise<bigint> {
    if (this.closing) return Promise.reject(new Error('broker log: append after close'));
    if (this.failure) return Promise.reject(this.failure);
    if (this.nextSeq > SEQ_MAX) return Promise.reject(new Error('broker log: sequence numbers exhausted'));
    const seq = this.nextSeq;
    let value: Uint8Array;
    try {
      value = encodeRecord(record, seq);
    } catch (e) {
      return Promise.reject(e);
    }
    this.nextSeq++;
    return new Promise<bigint>((resolve, reject) => {
      this.queue.push({ seq, record, value, resolve, reject });
      if (options.lazy) this.armLazy();
      else this.scheduleFlush();
    });
  }

  private armLazy(): void {
    if (this.lazyTimer !== undefined || this.due) return;
    this.lazyTimer = setTimeout(() => {
      this.lazyTimer = undefined;
      this.scheduleFlush();
    }, LAZY_WAIT_MS);
  }

  /** Starts the next batch after the current microtask, unless one is in flight (it starts the next itself). */
  private scheduleFlush(): void {
    this.due = true;
    if (this.writing !== null || this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.writing !== null || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.due = false;
    clearTimeout(this.lazyTimer);
    this.lazyTimer = undefined;
    this.writing = this.writeBatch(batch).finally(() => {
      this.writing = null;
      // Lazy appends made meanwhile wait for a due one (or their wait) rather than sync alone.
      if (this.due) this.flush();
      else if (this.queue.length > 0) this.armLazy();
    });
  }

  private async writeBatch(batch: PendingAppend[]): Promise<void> {
    if (this.failure) {
      for (const p of batch) p.reject(this.failure);
      return;
    }
    try {
      // A chained batch: abstract-level's array form copies and checks every operation as an
      // object (~4x the CPU per record, and this is on the reply path).
      const write = this.db.batch();
      for (const p of batch) write.put(seqKey(p.seq), p.value);
      await write.write({ sync: true });
    } catch (e) {
      this.failure = new Error(`broker log: synced batch of seqs ${batch[0]!.seq}..${batch.at(-1)!.seq} failed; ` +
        `the log takes no more appends until reopened: ${(e as Error).message}`, { cause: e });
      for (const p of batch) p.reject(this.failure);
      for (const p of this.queue.splice(0)) p.reject(this.failure);
      return;
    }
    this.batchCount++;
    this.appendCount += batch.length;
    this.durableEnd = batch.at(-1)!.seq + 1n;
    for (const p of batch) p.resolve(p.seq);
    if (this.subscribers.size > 0) this.deliverLive(batch);
  }

  private deliverLive(batch: PendingAppend[]): void {
    // The records as appended: what a read of them decodes equal (record.test.ts round trips).
    const stored = batch.map(({ seq, record }) => ({ seq, record }));
    for (const sub of this.subscribers) {
      if (!sub.live) continue;
      for (const s of stored) {
        if (sub.closed) break;
        if (s.seq < sub.cursor) continue;
        this.deliver(sub, s);
      }
    }
  }

  private deliver(sub: Subscriber, s: StoredRecord): void {
    try {
      sub.onRecord(s);
      sub.cursor = s.seq + 1n;
    } catch (e) {
      sub.end(e);
    }
  }

  /** Durable records with fromSeq <= seq < toSeq (default: up to the durable end at call time), in order. */
  async *read(fromSeq = 0n, toSeq?: bigint): AsyncGenerator<StoredRecord> {
    const end = toSeq === undefined || toSeq > this.durableEnd ? this.durableEnd : toSeq;
    if (fromSeq >= end) return;
    let last: bigint | undefined;
    try {
      for await (const [key, value] of this.db.iterator({ gte: seqKey(fromSeq), lt: seqKey(end) })) {
        const seq = seqOfKey(this.dir, key, last);
        // Holes: thrown here, or (onDamage) told at open.
        if (!this.onDamage && seq !== (last === undefined ? fromSeq : last + 1n)) throw missing(this.dir, last === undefined ? fromSeq : last + 1n, seq);
        last = seq;
        const stored = this.#decodeOrTell(seq, value);
        if (stored) yield stored;
      }
    } catch (e) {
      throw levelDamage(this.dir, last === undefined ? `at seq ${fromSeq}` : `after seq ${last}`, e);
    }
    if (!this.onDamage && (last ?? fromSeq - 1n) !== end - 1n) throw missing(this.dir, (last ?? fromSeq - 1n) + 1n, end);
  }

  /** The record, or undefined when it is damaged and onDamage was told. */
  #decodeOrTell(seq: bigint, value: Uint8Array): StoredRecord | undefined {
    try {
      return decodeStored(this.dir, seq, value);
    } catch (e) {
      if (!this.onDamage || !(e instanceof BrokerLogDamagedError)) throw e;
      this.onDamage(e);
      return undefined;
    }
  }

  /** The last `n` durable records, oldest first. */
  async tail(n: number): Promise<StoredRecord[]> {
    const out: StoredRecord[] = [];
    if (n <= 0 || this.durableEnd === 0n) return out;
    try {
      for await (const [key, value] of this.db.iterator({ lt: seqKey(this.durableEnd), reverse: true, limit: n })) {
        const stored = this.#decodeOrTell(seqOfKey(this.dir, key, undefined), value);
        if (stored) out.push(stored);
      }
    } catch (e) {
      throw levelDamage(this.dir, `in its last ${n} records`, e);
    }
    return out.reverse();
  }

  /**
   * Calls `onRecord` for every record from `fromSeq` on, in seq order, exactly once each: the
   * stored ones first, then each new one as soon as its batch is durable. If onRecord throws,
   * the subscription ends with that error (see `Subscription.ended`).
   */
  subscribe(fromSeq: bigint, onRecord: (r: StoredRecord) => void): Subscription {
    let endWith!: (error: unknown) => void;
    const ended = new Promise<unknown>((resolve) => {
      endWith = resolve;
    });
    const sub: Subscriber = {
      cursor: fromSeq,
      live: false,
      closed: false,
      onRecord,
      end: (error?: unknown) => {
        if (sub.closed) return;
        sub.closed = true;
        this.subscribers.delete(sub);
        endWith(error);
      },
    };
    this.subscribers.add(sub);
    const ready = this.catchUp(sub);
    // A failed catch-up is also reported through `ended`; an unobserved `ready` must not crash.
    ready.catch(() => undefined);
    return { ready, ended, close: () => sub.end() };
  }

  /** Delivers stored records until the subscriber is level with the durable end, then makes it live. */
  private async catchUp(sub: Subscriber): Promise<void> {
    try {
      // Batches that become durable while we read are picked up by the next pass; the check
      // and `live = true` run in one synchronous step, so no batch falls between them.
      while (!sub.closed && sub.cursor < this.durableEnd) {
        for await (const s of this.read(sub.cursor)) {
          if (sub.closed) return;
          this.deliver(sub, s);
        }
      }
      sub.live = true;
    } catch (e) {
      sub.end(e);
      throw e;
    }
  }

  /** Waits for queued appends to become durable, ends subscriptions, closes the database. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.queue.length > 0) this.scheduleFlush(); // lazy appends still waiting
    while (this.writing !== null || this.queue.length > 0 || this.flushScheduled) {
      if (this.writing) await this.writing;
      else await new Promise<void>((r) => queueMicrotask(r));
    }
    for (const sub of [...this.subscribers]) sub.end();
    await this.db.close();
  }
}
