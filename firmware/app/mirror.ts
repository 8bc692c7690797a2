/**
 * The device's journal mirror (docs/journal.md "Mirror"): every record the journal makes
 * durable, and every snapshot, becomes a MAC-chained entry (log/mirror/entry.ts) sent to the
 * broker on `journal`, kept until the broker acknowledges it on `journal-ack` and sent again
 * on every (re)connect, after a `gap` answer (later and later while the broker keeps refusing
 * them: mirror-backoff.ts), and when no acknowledgement came for a while.
 * The core tells it about records after their sync; their entries are made and published
 * at once, before the replies leave on the same connection, so the broker never holds a reply
 * whose record a restore cannot get (only an HMAC per record is added to the reply path).
 *
 * The chain continues across restarts: the position of each snapshot's entry is kept in an
 * anchor beside the journal (two alternating CRC'd files, `mirror-a` / `mirror-b`, in the
 * snapshot-slot format), written before the snapshot itself. At boot the entries since the
 * snapshot are made again from the anchor and the journal, and sent; the broker keeps what it
 * already has once. A snapshot without its anchor (a data directory from before the mirror)
 * starts a new chain at that snapshot, which the broker adopts.
 *
 * The outbox is bounded (mirror-outbox.ts): past its bound a snapshot stands in for the
 * entries the broker has not acknowledged.
 */
import type { FileDir, FilePort } from '../../log/file-port.js';
import { readWhole, replaceWhole } from '../../log/file-port.js';
import { decodeSlot, encodeSlot, type Snapshot } from '../../log/journal/snapshot-slots.js';
import { type ChainPosition, GENESIS, makeEntry, type MirrorEntry, positionAfter, snapshotPayload } from '../../log/mirror/entry.js';
import { chunkEntries, decodeAck, encodeJournal } from '../../log/mirror/messages.js';
import { ReportLimit } from '../../log/mirror/report-limit.js';
import type { JournalObserver } from '../../core/journal-observer.js';
import type { Clock, TimerHandle } from './ports.js';
import { gapStep, type GapStreak, stuckLine } from './mirror-backoff.js';
import { MirrorOutbox, type Trimmed } from './mirror-outbox.js';

export const MIRROR_ANCHOR_FILES = ['mirror-a', 'mirror-b'] as const;
/** Unacknowledged entries are sent again after this long without an acknowledgement (not while a gap wait stands in for it). */
export const MIRROR_RESEND_MS = 5000;

/** Where a snapshot's entry stands in the chain: its counter and the MAC before it. */
export interface MirrorAnchor {
  readonly snapshotLastId: bigint;
  readonly counter: bigint;
  readonly prevMac: Uint8Array;
}

export const openAnchorFiles = (dir: FileDir): [FilePort, FilePort] => [dir.open(MIRROR_ANCHOR_FILES[0]), dir.open(MIRROR_ANCHOR_FILES[1])];

/** The anchors in the two files (undefined: empty or unusable). */
export function readAnchors(files: readonly FilePort[]): (MirrorAnchor | undefined)[] {
  return files.map((file) => {
    const slot = decodeSlot(readWhole(file));
    if ('problem' in slot) return undefined;
    return { snapshotLastId: slot.snapshot.lastId, counter: slot.snapshot.generation, prevMac: slot.snapshot.body };
  });
}

/** The chain position an anchor proves (its snapshot entry's counter and MAC are not stored; the one before is). */
export const anchorProves = (a: MirrorAnchor): ChainPosition => ({ counter: a.counter - 1n, mac: a.prevMac });

/** Writes `anchor` over `file` (synced): the slot format, generation = counter, body = previous MAC. */
export function writeAnchor(file: FilePort, anchor: MirrorAnchor): void {
  replaceWhole(file, encodeSlot({ generation: anchor.counter, lastId: anchor.snapshotLastId, journalOffset: 0, body: anchor.prevMac }));
}

export interface MirrorOptions {
  /** mirrorKey(secret_data) (signer/keys/root-secrets.ts). */
  readonly key: Uint8Array;
  readonly dir: FileDir;
  readonly clock: Clock;
  /** Publishes one `journal` message (QoS 0: the mirror's own acknowledgements and resends make it reliable). */
  readonly publish: (payload: Uint8Array) => Promise<void>;
  readonly log: (level: 'info' | 'unusual' | 'broken', line: string) => void;
  /**
   * Asks the core for a snapshot soon (SignerCore.snapshotSoon): the broker lacks entries this
   * device no longer holds, and only a snapshot entry makes its mirror whole again; or the
   * entries it has not acknowledged passed the outbox's bound, and one stands in for them.
   */
  readonly snapshotNeeded?: () => void;
  /** The outbox's bound in heap bytes (mirror-outbox.ts; default MIRROR_OUTBOX_BYTES). */
  readonly outboxBytes?: number;
}

const moreTimes = (unsaid: number): string => (unsaid > 0 ? ` (${unsaid} more time${unsaid === 1 ? '' : 's'} since this was last logged)` : '');

export class JournalMirror implements JournalObserver {
  #position: ChainPosition = GENESIS;
  /** Made and not yet acknowledged, in counter order. */
  readonly #outbox: MirrorOutbox;
  /** Durable journal records whose mirror entries are not made yet: their payloads as journaled. */
  #pending: Uint8Array[] = [];
  #acked = 0n;
  /** The last entry the broker acknowledged: sent again on connect, so a broker that lost its mirror says so at once. */
  #lastAcked: MirrorEntry | undefined;
  #sentUpTo = 0n;
  #online = false;
  #waiters: (() => void)[] = [];
  #resendTimer: TimerHandle | undefined;
  /** The gap answers since the last acknowledgement that advanced, and the wait before resending after them. */
  #gapStreak: GapStreak | undefined;
  #gapTimer: TimerHandle | undefined;
  /** A snapshot was asked for to bring the outbox under its bound, and has not come yet. */
  #boundSnapshotAsked = false;
  #oversizeSaid = false;
  readonly #dropReports = new ReportLimit();
  readonly #aheadReports = new ReportLimit();
  readonly #resendReports = new ReportLimit();
  /** The anchor file holding the current snapshot's anchor (the next one goes to the other). */
  #anchorFile = 1;
  readonly #anchorFiles: [FilePort, FilePort];

  constructor(private readonly options: MirrorOptions) {
    this.#anchorFiles = openAnchorFiles(options.dir);
    this.#outbox = new MirrorOutbox(options.outboxBytes);
  }

  /** Where the chain stands (with the records not yet made into entries counted in). */
  get position(): ChainPosition {
    this.#materialize();
    return this.#position;
  }

  /** The entries the broker has not acknowledged yet. */
  get unacknowledged(): number {
    this.#materialize();
    return this.#outbox.length;
  }

  /** The heap they take (mirror-outbox.ts entryHeapBytes). */
  get unacknowledgedBytes(): number {
    this.#materialize();
    return this.#outbox.bytes;
  }

  /** Rebuilds the chain from what journal recovery found: the snapshot's entry, then one per record. */
  recovered(snapshot: Snapshot | undefined, payloads: readonly Uint8Array[]): void {
    const { key, log } = this.options;
    if (snapshot) {
      const anchors = readAnchors(this.#anchorFiles);
      const index = anchors.findIndex((a) => a?.snapshotLastId === snapshot.lastId);
      let anchor = anchors[index];
      if (anchor === undefined) {
        anchor = { snapshotLastId: snapshot.lastId, counter: 1n, prevMac: GENESIS.mac };
        log('unusual', `mirror: no anchor for the snapshot of id ${snapshot.lastId}; a new mirror chain starts at it`);
        this.#writeAnchor(anchor);
      } else {
        this.#anchorFile = index;
      }
      const entry = makeEntry(key, anchorProves(anchor), 'snapshot', snapshotPayload(snapshot.lastId, snapshot.body));
      this.#outbox.push(entry);
      this.#position = positionAfter(entry);
    }
    for (const payload of payloads) this.#pending.push(payload);
    this.#materialize();
    this.#bound();
  }

  durable(payloads: readonly Uint8Array[]): void {
    for (const payload of payloads) this.#pending.push(payload);
    // Now, before the replies of these records leave on the same connection: the broker then
    // has each record before its reply, so a device killed right after a reply has still sent
    // what a spare or a restore needs to reach it (an entry costs an HMAC, far below the sync).
    this.flush();
  }

  snapshotting(lastId: bigint, body: Uint8Array): void {
    this.#materialize();
    const anchor = { snapshotLastId: lastId, counter: this.#position.counter + 1n, prevMac: this.#position.mac };
    this.#writeAnchor(anchor); // before the snapshot: a crash in between leaves the other anchor for the old one
    const entry = makeEntry(this.options.key, this.#position, 'snapshot', snapshotPayload(lastId, body));
    this.#outbox.push(entry);
    this.#position = positionAfter(entry);
    this.#boundSnapshotAsked = false;
    this.#bound();
  }

  /** The connection is up (after hello): everything unacknowledged goes again. */
  connected(): void {
    this.#online = true;
    this.#sentUpTo = this.#acked;
    // The broker skips an entry it holds; one that lost its mirror answers `gap` to it. Not a
    // new chain's first snapshot: the broker would take that as the chain starting over.
    const probe = this.#lastAcked;
    if (probe && !(probe.kind === 'snapshot' && probe.counter === 1n)) this.#publish([probe]);
    this.flush();
  }

  disconnected(): void {
    this.#online = false;
    this.#cancelResend();
    this.#cancelGapWait();
  }

  /** A `journal-ack` payload. */
  acked(payload: Uint8Array): void {
    const { log } = this.options;
    let ack;
    try {
      ack = decodeAck(payload);
    } catch (e) {
      log('unusual', `mirror: dropped an acknowledgement that does not decode: ${(e as Error).message}`);
      return;
    }
    this.#materialize();
    if (ack.counter > this.#position.counter) {
      const unsaid = this.#aheadReports.occurred(this.options.clock.now());
      if (unsaid !== undefined) {
        log('unusual', `mirror: the broker holds entries up to ${ack.counter}, this device only made ${this.#position.counter} (another device with this seed?)${moreTimes(unsaid)}`);
      }
    }
    const advanced = ack.counter > this.#acked;
    if (advanced) {
      this.#acked = ack.counter;
      this.#lastAcked = this.#outbox.acknowledge(ack.counter) ?? this.#lastAcked;
      this.#gapStreak = undefined;
      if (this.#gapTimer) {
        this.#cancelGapWait();
        if (!this.#resendTimer) this.#armResend(); // the wait stood in for it; what is in flight may still be lost
      }
    }
    if (ack.gap) this.#gap(ack.counter, advanced);
    if (this.#outbox.length === 0) {
      this.#cancelResend();
      this.#cancelGapWait();
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves true once every entry is acknowledged, false if `ms` pass first. */
  acknowledged(ms: number): Promise<boolean> {
    this.flush();
    if (this.unacknowledged === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = this.options.clock.after(ms, () => resolve(false));
      this.#waiters.push(() => {
        this.options.clock.cancel(timer);
        resolve(true);
      });
    });
  }

  /**
   * The broker's chain ends at `counter` and what it got next did not continue it: send again,
   * at once or, if the broker refused the same again with nothing acknowledged, after a wait
   * (mirror-backoff.ts; docs/journal.md "Mirror"). Entries made meanwhile still go at once.
   */
  #gap(counter: bigint, advanced: boolean): void {
    const { clock, log } = this.options;
    const step = gapStep(this.#gapStreak, counter, advanced, this.#gapTimer !== undefined, clock.now());
    if (step === undefined) return;
    this.#gapStreak = step.streak;
    if (step.waitMs === 0) return this.#resendAfterGap(counter);
    if (step.report) log('broken', stuckLine(step, clock.now()));
    this.#cancelResend(); // the wait's resend stands in for it
    this.#gapTimer = clock.after(step.waitMs, () => {
      this.#gapTimer = undefined;
      if (this.#online) this.#resendAfterGap(counter);
    });
  }

  /**
   * If this device still holds the entries after `counter`, they go again; if not (the broker
   * lost its mirror, or entries it never stored were acknowledged), only a snapshot entry can
   * follow the gap: the newest one held goes, or the core is asked for one now.
   */
  #resendAfterGap(counter: bigint): void {
    const held = this.#outbox.first?.counter ?? this.#position.counter + 1n;
    let from = counter;
    if (held > counter + 1n && this.#outbox.first?.kind !== 'snapshot') {
      let snapshot = this.#outbox.newestSnapshot();
      if (snapshot === undefined) {
        this.options.log('broken', `mirror: the broker lacks entries ${counter + 1n}..${held - 1n}, which this device no longer holds (its mirror was lost?); making a snapshot now to make it whole again`);
        this.options.snapshotNeeded?.();
        this.#materialize();
        snapshot = this.#outbox.newestSnapshot();
      }
      // Nothing before the snapshot can follow the gap; the snapshot supersedes it.
      from = snapshot ? snapshot.counter - 1n : this.#position.counter;
    }
    this.#sentUpTo = from;
    this.flush();
  }

  /** Sends what was not sent on this connection. */
  flush(): void {
    this.#materialize();
    this.#bound();
    if (!this.#online) return;
    const unsent = this.#outbox.after(this.#sentUpTo);
    if (unsent.length === 0) return;
    this.#publish(unsent);
    this.#sentUpTo = unsent.at(-1)!.counter;
    this.#armResend();
  }

  #publish(entries: readonly MirrorEntry[]): void {
    for (const chunk of chunkEntries(entries)) {
      this.options.publish(encodeJournal(chunk)).catch((e: Error) =>
        this.options.log('unusual', `mirror: entries ${chunk[0]!.counter}..${chunk.at(-1)!.counter} not sent (${e.message}); sent again on reconnect`));
    }
  }

  #armResend(): void {
    const { clock } = this.options;
    this.#cancelResend();
    if (this.#gapTimer) return; // the wait after a refused resend ends in a resend of its own
    this.#resendTimer = clock.after(MIRROR_RESEND_MS, () => {
      this.#resendTimer = undefined;
      if (this.#outbox.length === 0 || !this.#online) return;
      const unsaid = this.#resendReports.occurred(clock.now());
      if (unsaid !== undefined) this.options.log('unusual', `mirror: entries after ${this.#acked} unacknowledged for ${MIRROR_RESEND_MS / 1000} s; sending them again${moreTimes(unsaid)}`);
      this.#sentUpTo = this.#acked;
      this.flush();
    });
  }

  #cancelResend(): void {
    if (this.#resendTimer) this.options.clock.cancel(this.#resendTimer);
    this.#resendTimer = undefined;
  }

  #cancelGapWait(): void {
    if (this.#gapTimer) this.options.clock.cancel(this.#gapTimer);
    this.#gapTimer = undefined;
  }

  #materialize(): void {
    for (const payload of this.#pending) {
      const entry = makeEntry(this.options.key, this.#position, 'record', payload);
      this.#outbox.push(entry);
      this.#position = positionAfter(entry);
    }
    this.#pending = [];
  }

  /**
   * Keeps the outbox within its bound (mirror-outbox.ts): drops what the newest snapshot
   * supersedes, and asks the core for a fresh snapshot when only that helps. Asked on the next
   * turn: the core tells the mirror about records in the middle of its sync, where a snapshot
   * would be made inside it.
   */
  #bound(): void {
    const trimmed = this.#outbox.trim();
    if (trimmed === undefined) return;
    if (trimmed.dropped) this.#reportDrop(trimmed.dropped);
    if (trimmed.oversized && !this.#oversizeSaid) {
      this.#oversizeSaid = true;
      const { counter, bytes } = trimmed.oversized;
      this.options.log('broken', `mirror: the snapshot entry ${counter} is ${bytes} bytes, more than half the outbox bound of ${this.#outbox.limit} bytes: ` +
        'the entries the broker has not acknowledged are kept past the bound, up to the snapshot and half the bound more. A configuration problem: ' +
        'this device\'s state has outgrown the bound; raise it (on the ESP32 DEVICE_MIRROR_OUTBOX_BYTES, docs/device-memory.md "Memory") if the heap allows. Said once');
    }
    if (!trimmed.wantSnapshot || this.#boundSnapshotAsked || !this.options.snapshotNeeded) return;
    this.#boundSnapshotAsked = true;
    this.options.clock.after(0, () => {
      if (!this.#boundSnapshotAsked) return; // one came meanwhile
      try {
        this.options.snapshotNeeded?.();
      } catch (e) {
        // The core stopped for good (its journal write failed) and says so at the next request.
        return this.options.log('broken', `mirror: the snapshot asked for to bound the outbox failed: ${(e as Error).message}`);
      }
      this.flush();
    });
  }

  #reportDrop(dropped: NonNullable<Trimmed['dropped']>): void {
    const unsaid = this.#dropReports.occurred(this.options.clock.now());
    if (unsaid === undefined) return;
    this.options.log('unusual', `mirror: dropped entries ${dropped.from}..${dropped.to} (${dropped.count}, ${dropped.bytes} bytes), which the broker has not acknowledged ` +
      `(it acknowledged up to ${this.#acked}; unreachable, or refusing this chain): the entries waiting passed the outbox bound of ${this.#outbox.limit} bytes, ` +
      `and the snapshot entry ${dropped.by} supersedes them, which the broker accepts after the gap${moreTimes(unsaid)}`);
  }

  #writeAnchor(anchor: MirrorAnchor): void {
    const target = 1 - this.#anchorFile;
    writeAnchor(this.#anchorFiles[target]!, anchor);
    this.#anchorFile = target;
  }
}
