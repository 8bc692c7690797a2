/**
 * The replies the device core answers a redelivered id with (docs/journal.md "Write-ahead"):
 * the snapshot's recent ones, then every request record since the snapshot, in journal order.
 *
 * The records recovery found are not held: only each one's id and the offset of its frame,
 * in two typed arrays, and the reply is read back from the journal when its id comes again
 * (rare: a broker resending after a lost connection). Holding each recovered reply as objects
 * had every one promoted out of V8's young generation, and collecting them was most of the
 * cost of a long recovery (docs/performance-history.md "Journal rebuild"). Replies of requests handled
 * since open are held as they are made. A snapshot compacts the journal (the offsets then name
 * nothing), so `restart` begins again from the snapshot's recent replies.
 */
import type { RecentReply } from '../projections/signer-state.js';

/** Reads back the request record whose frame starts at an offset of the journal. */
export type ReadRecord = (offset: number) => RecentReply;

export class KeptReplies {
  /** The snapshot's recent replies. */
  #snapshot = new Map<bigint, RecentReply>();
  /** Ids of the recovered request records, ascending (ids strictly increase in a journal), and where each frame starts. */
  #ids = new BigUint64Array(0);
  #offsets = new Float64Array(0);
  #recovered = 0;
  /** Replies of the requests handled since open (or since the last snapshot), in order. */
  #handled = new Map<bigint, RecentReply>();

  constructor(recent: readonly RecentReply[]) {
    this.restart(recent);
  }

  /** A request record recovery found: its id (above every one before) and its frame's offset. */
  recovered(id: bigint, offset: number): void {
    if (this.#recovered === this.#ids.length) this.#grow();
    this.#ids[this.#recovered] = id;
    this.#offsets[this.#recovered++] = offset;
  }

  /** The reply of a request handled now. */
  handled(reply: RecentReply): void {
    this.#handled.set(reply.id, reply);
  }

  /** The reply kept for `id`; `read` reads back a recovered one. */
  get(id: bigint, read: ReadRecord): RecentReply | undefined {
    const at = this.#find(id);
    if (at !== undefined) return this.#readAt(at, read);
    return this.#handled.get(id) ?? this.#snapshot.get(id);
  }

  /** The latest `count` replies, oldest first (what the next snapshot keeps). */
  latest(count: number, read: ReadRecord): RecentReply[] {
    if (count <= 0) return [];
    const handled = [...this.#handled.values()].slice(-count);
    const fromJournal = Math.min(count - handled.length, this.#recovered);
    const recovered: RecentReply[] = [];
    for (let i = this.#recovered - fromJournal; i < this.#recovered; i++) recovered.push(this.#readAt(i, read));
    const fromSnapshot = count - handled.length - recovered.length;
    const snapshot = fromSnapshot > 0 ? [...this.#snapshot.values()].slice(-fromSnapshot) : [];
    return [...snapshot, ...recovered, ...handled];
  }

  /** After a snapshot (or at open): only its recent replies are kept. */
  restart(recent: readonly RecentReply[]): void {
    this.#snapshot = new Map(recent.map((r) => [r.id, r]));
    this.#ids = new BigUint64Array(0);
    this.#offsets = new Float64Array(0);
    this.#recovered = 0;
    this.#handled = new Map();
  }

  #readAt(index: number, read: ReadRecord): RecentReply {
    const id = this.#ids[index]!;
    const record = read(this.#offsets[index]!);
    if (record.id !== id) throw new Error(`journal: the record read back at offset ${this.#offsets[index]} has id ${record.id}, recovery found id ${id} there`);
    return record;
  }

  /** The index of `id` among the recovered records (binary search). */
  #find(id: bigint): number | undefined {
    let lo = 0;
    let hi = this.#recovered;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#ids[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.#recovered && this.#ids[lo] === id ? lo : undefined;
  }

  #grow(): void {
    const capacity = Math.max(64, this.#ids.length * 2);
    const ids = new BigUint64Array(capacity);
    ids.set(this.#ids);
    const offsets = new Float64Array(capacity);
    offsets.set(this.#offsets);
    this.#ids = ids;
    this.#offsets = offsets;
  }
}
