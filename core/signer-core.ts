/**
 * SignerCore: the device's platform-neutral request handling, write-ahead (docs/design.md#durability-rules):
 *   id already answered → the same reply again (no second decision);
 *   else decide → append the record {id, request digest, events, reply} and sync
 *        → apply the events → reply.
 * handleBatch (or begin/handle/commit, or commitLater: the sync off the event loop) takes
 * several requests with one write and one sync: each decided, appended and applied in memory
 * in order, then the sync, then the replies. A reply therefore never leaves before its record
 * is durable, and after a crash the journal folds back into the same state. Opening recovers
 * the journal (a torn tail cut and reported; corruption refused with JournalCorruptError),
 * loads the newest snapshot and replays the rest; a journal that ends below the high-water
 * mark (log/journal/high-water.ts) is refused with JournalRollbackError unless the operator
 * accepts the rollback. Every `snapshotEvery` records it snapshots and compacts, keeping the
 * latest `recentReplies` replies in the snapshot so redelivered ids are still answered.
 *
 * Events that no hsmd request caused (a control command's policy change, a chain update)
 * go through `commit(source, events, at)`: a sourced record numbered per source, journaled
 * and synced, then applied, replayed at open like the request records (docs/journal.md).
 *
 * A retried request with a new id but the same content is decided again: decide is
 * deterministic (RFC 6979 signatures, docs/hsmd-protocol.md#signing) and CLN's retries pass the commitment
 * policies (policy-retry-identical), so it gets the identical reply (signer-core.test.ts).
 */
import { sha256 } from '../signer/crypto/hashes.js';
import { type JournalFiles, Journal, type RecoveryReport } from '../log/journal/journal.js';
import { assertSourceName, decodeEntryToFold, type JournalRecord, type SourcedRecord } from '../log/journal/record.js';
import type { Snapshot } from '../log/journal/snapshot-slots.js';
import type { JournalObserver } from './journal-observer.js';
import { equal } from '../signer/bytes.js';
import { type AcceptRollback, checkJournalAgainstMark, type HighWaterMark, tailAgainstMark } from '../log/journal/high-water.js';
import { badRequest, type Decision } from '../signer/decision.js';
import { ID_REFUSAL } from './id-refusals.js';
import type { Envelope } from '../signer/envelope.js';
import type { SignerEvent } from '../signer/events.js';
import type { Signer } from '../signer/signer.js';
import type { SignerState } from '../signer/state.js';
import { encodeSnapshotBody } from '../projections/signer-state.js';
import type { KeptReplies } from './kept-replies.js';
import { RecoveryFold } from './recovery-fold.js';
import { OffLoopSyncs } from './off-loop-syncs.js';
import { MarkKeeper } from './mark-keeper.js';

export interface SignerCoreOptions {
  /** Records between snapshots (each followed by compaction). */
  readonly snapshotEvery?: number;
  /** Replies kept across a snapshot for redelivered ids. */
  readonly recentReplies?: number;
  /** Recovery's findings (torn tail, unusable slots), one line each. */
  readonly log?: (line: string) => void;
  /** The high-water mark, raised after each journal sync before any reply leaves, or with markAtFlush at flush(). */
  readonly mark?: HighWaterMark;
  /** The operator's way out of a JournalRollbackError: lower the mark to the journal and go on. */
  readonly acceptRollback?: AcceptRollback;
  /** Told what the journal made durable (the device's mirror: firmware/app/mirror.ts). */
  readonly observer?: JournalObserver;
  /**
   * Whether a record whose decision has no events is synced before its reply (true, the
   * default: the device), or rides along with the next sync or the host's flush() (false:
   * the in-process signer; docs/journal.md "Read-only replies"). A record with events is
   * always synced before its reply, and with it every record before it.
   */
  readonly syncReadOnly?: boolean;
  /**
   * Raise the high-water mark at flush() (the host's timer) instead of after every sync: the
   * in-process signer, whose mark write (truncate + write of a slot file) would otherwise ride
   * on every state-changing reply. The mark then lags the journal by up to one flush, as a
   * raise that a crash loses does (log/journal/high-water.ts): never above what is durable.
   */
  readonly markAtFlush?: boolean;
}

export const DEFAULT_SNAPSHOT_EVERY = 1000;
export const DEFAULT_RECENT_REPLIES = 64;

/** What handle() did: decided anew, or answered a known id from the journal. */
export interface Handled extends Decision {
  readonly replayed: boolean;
}

export class SignerCore {
  /** Replies by id: the snapshot's recent ones, then every record's since it (recovered ones read back from the journal). */
  readonly #replies: KeptReplies;
  /** The last sequence number of each source of sourced records. */
  readonly #sources: Map<string, bigint>;
  #sinceSnapshot: number;
  #inBatch = false;
  /** A snapshot was asked for while a batch or a sync was under way: made after the next sync. */
  #snapshotWanted = false;
  readonly #mark: MarkKeeper;
  /** Records appended but not yet synced (answered already only if read-only with syncReadOnly false). */
  #unsynced: Uint8Array[] = [];
  /** commitLater's syncs off the event loop; counts what of #unsynced became durable. */
  readonly #syncs = new OffLoopSyncs({
    syncAsync: () => this.journal.syncAsync(),
    lastId: () => this.journal.lastId,
    madeDurable: (count, lastId) => {
      const durable = this.#unsynced.splice(0, count);
      this.options.observer?.durable(durable);
      this.#afterSync(durable.length, lastId);
    },
  });

  private constructor(
    readonly signer: Signer,
    private readonly journal: Journal,
    private readonly options: SignerCoreOptions,
    replies: KeptReplies,
    sources: Map<string, bigint>,
    sinceSnapshot: number,
    marked: bigint | undefined,
  ) {
    this.#replies = replies;
    this.#sources = sources;
    this.#sinceSnapshot = sinceSnapshot;
    this.#mark = new MarkKeeper(options.mark, marked);
  }

  /**
   * Recovers the journal, folding each record as it is decoded (recovery-fold.ts), and builds
   * the signer on the recovered state (`makeSigner(state)`: the host's keys and options); the
   * observer is then told what was recovered. Throws JournalCorruptError (a torn frame or blank
   * tail after the last good frame too, unless the mark clears it), or JournalRollbackError (it
   * ends below the mark).
   */
  static open(files: JournalFiles, makeSigner: (state: SignerState) => Signer, options: SignerCoreOptions = {}): { core: SignerCore; recovery: RecoveryReport } {
    let fold: RecoveryFold | undefined;
    const visitor = (snapshot: Snapshot | undefined) => (fold = new RecoveryFold(snapshot, options.observer !== undefined)).visit;
    const { journal, recovery } = Journal.recover(files, visitor, decodeEntryToFold, { tail: options.mark && tailAgainstMark(options.mark) });
    for (const note of recovery.notes) options.log?.(note);
    const marked = options.mark && checkJournalAgainstMark(options.mark, journal.lastId, options);
    const { state, replies, sources, entries, payloads } = fold!;
    const core = new SignerCore(makeSigner(state), journal, options, replies, sources, entries, marked);
    options.observer?.recovered(recovery.snapshot, payloads!);
    return { core, recovery };
  }

  get state(): SignerState {
    return this.signer.state;
  }

  /** The last id journaled (or covered by the snapshot); new requests need a larger one. */
  get lastId(): bigint | undefined {
    return this.journal.lastId;
  }

  /** The last sequence number `source` has journaled (0 if none). */
  lastSeq(source: string): bigint {
    return this.#sources.get(source) ?? 0n;
  }

  /**
   * Journals events no hsmd request caused, from `source` ('control', 'chain', ...: a
   * sourced record numbered lastSeq(source) + 1), at `at` (unix ms, the device's clock);
   * syncs, then applies them. The caller decides the events (purely, on `state`) and acts
   * on them only after this returns: write-ahead as for requests. Not inside a batch
   * (begin .. commit): the batch's records would not yet be durable.
   */
  commit(source: string, events: readonly SignerEvent[], at: number): SourcedRecord {
    assertSourceName(source);
    if (this.#inBatch) throw new Error(`SignerCore.commit(${source}) inside a request batch: commit the batch first`);
    if (this.#syncs.broken) throw this.#syncs.broken;
    const record: SourcedRecord = { source, seq: this.lastSeq(source) + 1n, at, events };
    const payload = this.#io(() => this.journal.appendSourced(record));
    this.#io(() => this.journal.sync()); // write-ahead: durable before it is applied or acted on
    this.#sources.set(source, record.seq);
    this.signer.apply(events);
    this.#pushUnsynced(payload);
    this.#synced();
    return record;
  }

  handle(env: Envelope): Handled {
    if (this.#syncs.broken) throw this.#syncs.broken;
    const requestDigest = sha256(env.message);
    const early = this.#known(env, requestDigest);
    if (early) return early;
    const { decision, record, payload } = this.#decideAndAppend(env, requestDigest);
    const mustSync = this.#mustSync(decision.events.length > 0);
    if (mustSync) this.#io(() => this.journal.sync()); // write-ahead: durable before it is applied or answered
    this.signer.apply(decision.events);
    this.#replies.handled(record);
    this.#pushUnsynced(payload);
    if (mustSync) this.#synced();
    return { ...decision, replayed: false };
  }

  /** The failed write or sync that stopped this core (#io), if one did. */
  get stoppedBy(): Error | undefined {
    return this.#syncs.broken;
  }

  /** Records answered but not yet synced (only with syncReadOnly false); flush() syncs them. */
  get unsynced(): number {
    return this.#unsynced.length;
  }

  /** True when flush() has work: records not synced, or (markAtFlush) a mark below the journal. */
  get flushPending(): boolean {
    return this.#unsynced.length > 0 || (this.options.markAtFlush === true && this.#mark.behind(this.journal.lastId));
  }

  /**
   * Syncs the records that rode along unsynced, and with markAtFlush raises the mark (the host
   * calls it on a short timer and at close).
   */
  flush(): void {
    if (this.#inBatch) return;
    if (this.#syncs.broken) throw this.#syncs.broken;
    if (this.#unsynced.length > 0) {
      this.#io(() => this.journal.sync());
      this.#synced();
    }
    if (this.options.markAtFlush) this.#mark.raise(this.journal.lastId);
  }

  /**
   * flush() with the sync off the event loop where the journal can (the in-process signer's
   * timer): resolves once every record appended before the call is durable and (markAtFlush)
   * the mark raised to the last of them, never higher. A failed sync stops the core.
   */
  async flushLater(): Promise<void> {
    if (this.#inBatch || !this.journal.syncsOffLoop) return this.flush();
    const upTo = this.journal.lastId; // what is appended by now: the mark goes no higher
    const durable = this.#syncs.whenDurable();
    if (durable) await durable;
    if (this.options.markAtFlush) this.#mark.raise(upTo);
  }

  #mustSync(hasEvents: boolean): boolean {
    return hasEvents || this.options.syncReadOnly !== false;
  }

  #pushUnsynced(payload: Uint8Array): void {
    this.#unsynced.push(payload);
    this.#syncs.appended();
  }

  /** Everything appended so far was just synced: the observer is told, the mark raised, waiting batches released. */
  #synced(): void {
    const durable = this.#unsynced;
    this.#unsynced = [];
    this.options.observer?.durable(durable);
    this.#afterSync(durable.length, this.journal.lastId);
    this.#syncs.syncedAll();
  }

  /**
   * Several requests in order with ONE journal sync (docs/remote-protocol.md "Batches"): each
   * is deduplicated, decided (on the state its predecessors in the batch leave), appended
   * and applied in memory; then the journal is synced once, and only then are the replies
   * returned. Nothing leaves before that sync: a sync that throws leaves this core unusable
   * (the device stops signing: firmware/app/device.ts) and the journal as recovery finds it.
   */
  handleBatch(envs: readonly Envelope[]): Handled[] {
    const batch = this.begin();
    const handled = envs.map((env) => batch.handle(env));
    batch.commit();
    return handled;
  }

  /**
   * A batch the caller drives one request at a time (the device checks each against its
   * held-back rules first): `handle` decides, appends (held in memory) and applies; `commit`
   * writes the batch's records at once and syncs. The replies may leave only after commit().
   * `commitLater` writes them and syncs off the event loop where the file can (FilePort.syncAsync:
   * the device on Node), so the next batch is decided meanwhile (off-loop-syncs.ts); a batch of
   * one record with no sync under way is synced at once, on the loop: undefined
   * when the replies may leave now, else a promise resolved once every record appended so far
   * is durable (observer told, mark raised), rejected if the sync fails (the core then stops).
   */
  begin(): { handle(env: Envelope): Handled; commit(): void; commitLater(): Promise<void> | undefined } {
    if (this.#syncs.broken) throw this.#syncs.broken;
    let appended = 0;
    let withEvents = false;
    let committed = false;
    this.#inBatch = true;
    this.journal.hold();
    const end = (): boolean => {
      if (committed) return false;
      committed = true;
      this.#inBatch = false;
      this.#io(() => this.journal.write()); // the batch's records in one write, before any acknowledgement or reply
      return appended > 0 && this.#mustSync(withEvents);
    };
    const commit = (): void => {
      if (!end()) return;
      this.#io(() => this.journal.sync()); // write-ahead: every record of the batch is durable before any reply leaves
      this.#synced();
    };
    return {
      handle: (env) => {
        if (committed) throw new Error('SignerCore batch: handle after commit');
        const requestDigest = sha256(env.message);
        const early = this.#known(env, requestDigest);
        if (early) return early;
        const { decision, record, payload } = this.#decideAndAppend(env, requestDigest);
        this.signer.apply(decision.events); // in memory only: the next in the batch is decided on it
        this.#replies.handled(record);
        this.#pushUnsynced(payload);
        appended++;
        withEvents ||= decision.events.length > 0;
        return { ...decision, replayed: false };
      },
      commit,
      commitLater: () => {
        // A lone record with no sync under way is synced here: the thread pool's hand-off and the
        // wake-up after it cost more than the sync itself (docs/journal.md "Write-ahead").
        if (!this.journal.syncsOffLoop || (appended <= 1 && this.#syncs.idle)) {
          commit();
          return undefined;
        }
        end();
        return this.#syncs.whenDurable();
      },
    };
  }

  readonly #readRecord = (offset: number): JournalRecord => this.journal.readRecord(offset);

  /** A known id's journaled reply, or a refusal; undefined when `env` is to be decided. */
  #known(env: Envelope, requestDigest: Uint8Array): Handled | undefined {
    const known = this.#replies.get(env.id, this.#readRecord);
    if (known !== undefined) {
      // docs/design.md#durability-rules: a request id seen before gets the journaled reply, never a second decision.
      if (!equal(known.requestDigest, requestDigest)) {
        return { ...badRequest(ID_REFUSAL.otherRequest(env.id)), replayed: false };
      }
      return { events: [], reply: known.reply, replayed: true };
    }
    const last = this.journal.lastId;
    if (last !== undefined && env.id <= last) {
      return { ...badRequest(ID_REFUSAL.notKept(env.id, last)), replayed: false };
    }
    return undefined;
  }

  #decideAndAppend(env: Envelope, requestDigest: Uint8Array) {
    const decision = this.signer.decide(env);
    const record = { id: env.id, requestDigest, events: decision.events, reply: decision.reply };
    const payload = this.#io(() => this.journal.append(record));
    return { decision, record, payload };
  }

  /** Journal writes and syncs: one that throws stops this core for good, its state perhaps ahead of the disk (docs/journal.md "Write-ahead"). */
  #io<T>(write: () => T): T {
    try {
      return write();
    } catch (e) {
      throw this.#syncs.stop(e);
    }
  }

  #afterSync(records: number, lastId: bigint | undefined): void {
    // Before the replies leave, every answered id goes under the mark (unless markAtFlush).
    if (!this.options.markAtFlush) this.#mark.raise(lastId);
    this.#sinceSnapshot += records;
    // A snapshot names the last request id: sourced records alone wait for the first request.
    const due = this.#snapshotWanted || this.#sinceSnapshot >= (this.options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY);
    if (due && this.journal.lastId !== undefined) this.snapshot();
  }

  /**
   * A snapshot now if no batch or sync is under way (and a request is journaled), else after
   * the next sync: the mirror asks for one when the broker lacks entries this device no
   * longer holds (docs/journal.md "Mirror").
   */
  snapshotSoon(): void {
    if (this.#syncs.broken) return;
    if (this.#inBatch || !this.#syncs.idle || this.journal.lastId === undefined) {
      this.#snapshotWanted = true;
      return;
    }
    this.snapshot();
  }

  /** Snapshots the state with the latest replies, then compacts the journal. */
  snapshot(): void {
    if (this.#unsynced.length > 0) {
      // The observer (the mirror) sees every record before the snapshot that covers it.
      this.#io(() => this.journal.sync());
      this.options.observer?.durable(this.#unsynced.splice(0));
      if (!this.options.markAtFlush) this.#mark.raise(this.journal.lastId);
      this.#syncs.syncedAll();
    }
    const keep = this.options.recentReplies ?? DEFAULT_RECENT_REPLIES;
    const recent = this.#replies.latest(keep, this.#readRecord);
    const body = encodeSnapshotBody({ state: this.signer.state, recent, sources: this.#sources });
    if (this.journal.lastId !== undefined) this.options.observer?.snapshotting(this.journal.lastId, body);
    this.#io(() => this.journal.snapshot(body));
    this.#replies.restart(recent);
    this.#sinceSnapshot = 0;
    this.#snapshotWanted = false;
  }
}
