/**
 * Test kit for the device's journal mirror (docs/journal.md "Mirror"): a clock whose timers run
 * when the test advances it, and the broker's side as the broker decides it
 * (broker/remote/mirror-store.ts acceptEntries) over a stored chain kept as MirrorDb keeps it
 * (a new chain replaces the old one, a snapshot prunes what it supersedes).
 */
import { acceptEntries } from '../broker/remote/mirror-store.js';
import type { Clock, TimerHandle } from '../firmware/app/ports.js';
import type { JournalMirror } from '../firmware/app/mirror.js';
import { type ChainPosition, type MirrorEntry, positionAfter } from '../log/mirror/entry.js';
import { decodeJournal, encodeAck } from '../log/mirror/messages.js';

/** Timers run when the test advances the time, in the order they are due. */
export class ManualClock implements Clock {
  #now = 1_800_000_000_000;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 0;
  now = (): number => this.#now;
  after(ms: number, fn: () => void): TimerHandle {
    this.#timers.set(this.#next, { at: this.#now + ms, fn });
    return { __timer: this.#next++ };
  }
  cancel(timer: TimerHandle): void {
    this.#timers.delete(timer.__timer as number);
  }
  /** How long until the next timer is due (undefined: none pending). */
  get nextIn(): number | undefined {
    const ats = [...this.#timers.values()].map((t) => t.at);
    return ats.length ? Math.min(...ats) - this.#now : undefined;
  }
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      const due = [...this.#timers].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].fn();
    }
    this.#now = end;
  }
}

/** The broker: a stored chain and acceptEntries on it; what the device published, with the time. */
export class MirrorBroker {
  tip: ChainPosition | undefined;
  /** The stored chain, as a restore fetches it. */
  entries: MirrorEntry[] = [];
  readonly sent: { at: number; counters: bigint[] }[] = [];
  #queue: Uint8Array[] = [];
  constructor(private readonly clock: ManualClock) {}
  publish = async (bytes: Uint8Array): Promise<void> => {
    this.sent.push({ at: this.clock.now(), counters: decodeJournal(bytes).map((e) => e.counter) });
    this.#queue.push(bytes);
  };
  /** Restarted without its store (the owner moved it aside). */
  forget(): void {
    this.tip = undefined;
    this.entries = [];
  }
  /** Another device with the same seed stored `entry` (it continues the stored chain). */
  storeForeign(entry: MirrorEntry): void {
    this.entries.push(entry);
    this.tip = positionAfter(entry);
  }
  /** Drops what was published and not yet delivered (a lost message). */
  lose(): void {
    this.#queue = [];
  }
  /** Delivers what was published, and each acknowledgement to `mirror`, until nothing is left. */
  deliver(mirror: JournalMirror): void {
    while (this.#queue.length) {
      const a = acceptEntries(this.tip, decodeJournal(this.#queue.shift()!));
      if (a.reset) this.entries = [];
      this.entries.push(...a.store);
      if (a.pruneBelow !== undefined) this.entries = this.entries.filter((e) => e.counter >= a.pruneBelow!);
      if (a.store.length) this.tip = positionAfter(a.store.at(-1)!);
      mirror.acked(encodeAck(a.ack));
    }
  }
}
