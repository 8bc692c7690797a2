/**
 * The port through which the core tells a host what its journal made durable, in journal
 * order: the device's mirror (firmware/app/mirror.ts) sends each record and snapshot on to
 * the broker from it.
 */
import type { Snapshot } from '../log/journal/snapshot-slots.js';

/** Sees the journal's durable records and snapshots, in journal order. */
export interface JournalObserver {
  /** Once, when open has recovered: the snapshot found and the payloads of the records after it, in journal order. */
  recovered(snapshot: Snapshot | undefined, payloads: readonly Uint8Array[]): void;
  /**
   * After the sync that made them durable, before any reply leaves: the records (request and
   * sourced) as the journal holds them, each a frame's payload (log/journal/record.ts).
   */
  durable(payloads: readonly Uint8Array[]): void;
  /** Before the snapshot of every record so far is written (its body, covering up to lastId). */
  snapshotting(lastId: bigint, body: Uint8Array): void;
}
