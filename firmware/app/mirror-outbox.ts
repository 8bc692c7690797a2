/**
 * The device mirror's outbox (docs/journal.md "Mirror"): the entries made and not yet
 * acknowledged by the broker, in counter order, with the heap they take, bounded. Pure.
 *
 * A broker that is unreachable for long, or keeps refusing this device's chain, acknowledges
 * nothing, and every record the journal makes adds an entry: unbounded, the outbox would take
 * the heap the signer needs (docs/device-memory.md). Past the bound the records
 * are not what the broker needs: a snapshot entry makes its copy whole after a gap (the
 * broker accepts a snapshot that does not follow its chain's last entry), and supersedes every
 * entry before it. So over the bound everything before the newest snapshot is dropped, and a
 * fresh snapshot is wanted when the records after the newest one (or all of them, with none)
 * exceed half the bound: a fresh one then reclaims at least that much. The snapshot and what
 * follows it are never dropped: with a snapshot bigger than half the bound the outbox holds up
 * to its size and half the bound more, and the mirror says so.
 */
import type { MirrorEntry } from '../../log/mirror/entry.js';

/**
 * What an entry takes of the heap besides its payload, measured under XS with 16-byte slots
 * as on the ESP32 (docs/device-memory.md "Memory"): 320 bytes of slots (the entry, its byte
 * arrays, the counter) and 104 of chunks (its MAC among them).
 */
export const MIRROR_ENTRY_OVERHEAD = 424;

/**
 * The bound where the host sets none (Node, where memory is cheap): far above what is in
 * flight at full speed, so only a broker that stops acknowledging reaches it. The ESP32's is
 * DEVICE_MIRROR_OUTBOX_BYTES (device-memory.ts).
 */
export const MIRROR_OUTBOX_BYTES = 1024 * 1024;

/** The heap an entry takes in the outbox. */
export const entryHeapBytes = (e: MirrorEntry): number => e.payload.length + MIRROR_ENTRY_OVERHEAD;

/** What trim() did. */
export interface Trimmed {
  /** The entries dropped, superseded by the snapshot entry `by` (undefined: none dropped). */
  readonly dropped: { readonly from: bigint; readonly to: bigint; readonly count: number; readonly bytes: number; readonly by: bigint } | undefined;
  /** Only a fresh snapshot brings the outbox back under the bound. */
  readonly wantSnapshot: boolean;
  /**
   * Still over the bound with no fresh snapshot wanted: the newest snapshot entry is bigger
   * than half the bound (its counter and size), so the bound cannot be kept.
   */
  readonly oversized: { readonly counter: bigint; readonly bytes: number } | undefined;
}

export class MirrorOutbox {
  #entries: MirrorEntry[] = [];
  #bytes = 0;

  constructor(readonly limit: number = MIRROR_OUTBOX_BYTES) {}

  get length(): number {
    return this.#entries.length;
  }

  /** The heap the entries take (entryHeapBytes). */
  get bytes(): number {
    return this.#bytes;
  }

  get first(): MirrorEntry | undefined {
    return this.#entries[0];
  }

  push(e: MirrorEntry): void {
    this.#entries.push(e);
    this.#bytes += entryHeapBytes(e);
  }

  /** The entries after `counter`, in order. */
  after(counter: bigint): MirrorEntry[] {
    return this.#entries.filter((e) => e.counter > counter);
  }

  /** Drops the entries up to `counter` (the broker holds them); returns the last one dropped. */
  acknowledge(counter: bigint): MirrorEntry | undefined {
    const keep = this.#entries.findIndex((e) => e.counter > counter);
    return this.#dropFirst(keep === -1 ? this.#entries.length : keep).at(-1);
  }

  newestSnapshot(): MirrorEntry | undefined {
    for (let i = this.#entries.length - 1; i >= 0; i--) if (this.#entries[i]!.kind === 'snapshot') return this.#entries[i];
    return undefined;
  }

  /** Over the bound: drops what the newest snapshot supersedes, and says whether a fresh one is wanted. */
  trim(): Trimmed | undefined {
    if (this.#bytes <= this.limit) return undefined;
    const snapshot = this.newestSnapshot();
    let dropped: Trimmed['dropped'];
    const at = snapshot ? this.#entries.indexOf(snapshot) : 0;
    if (snapshot && at > 0) {
      const before = this.#bytes;
      const gone = this.#dropFirst(at);
      dropped = { from: gone[0]!.counter, to: gone.at(-1)!.counter, count: gone.length, bytes: before - this.#bytes, by: snapshot.counter };
    }
    const snapshotBytes = snapshot ? entryHeapBytes(snapshot) : 0;
    const over = this.#bytes > this.limit;
    const wantSnapshot = over && this.#bytes - snapshotBytes > this.limit / 2;
    return {
      dropped,
      wantSnapshot,
      oversized: snapshot && over && !wantSnapshot ? { counter: snapshot.counter, bytes: snapshotBytes } : undefined,
    };
  }

  #dropFirst(n: number): MirrorEntry[] {
    const gone = this.#entries.slice(0, n);
    this.#entries = this.#entries.slice(n);
    for (const e of gone) this.#bytes -= entryHeapBytes(e);
    return gone;
  }
}
