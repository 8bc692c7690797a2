/**
 * Snapshots in two alternating slot files (docs/design.md#logs-and-projections): each write goes to the slot not
 * holding the newest snapshot, so a crash mid-write leaves the other one good.
 *
 * Slot layout: "SPXS" ‖ u8 version (1) ‖ u64 generation ‖ u64 last record id ‖
 *              u64 journal offset ‖ u32 body length ‖ body ‖ u32 CRC-32C of all before it.
 * The body is opaque here (the device core stores the encoded SignerState and its recent
 * replies in it); `journalOffset` is the journal's length when the snapshot was taken:
 * every record before it is covered.
 */
import { type FilePort, readWhole, replaceWhole } from '../file-port.js';
import { crc32c } from './crc32c.js';

const MAGIC = [0x53, 0x50, 0x58, 0x53]; // "SPXS"
export const SNAPSHOT_SLOT_VERSION = 1;
const HEADER = 4 + 1 + 8 + 8 + 8 + 4;

export interface Snapshot {
  /** Increases with every snapshot written; the newest good slot wins. */
  readonly generation: bigint;
  readonly lastId: bigint;
  readonly journalOffset: number;
  readonly body: Uint8Array;
}

export function encodeSlot(s: Snapshot): Uint8Array {
  const out = new Uint8Array(HEADER + s.body.length + 4);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = SNAPSHOT_SLOT_VERSION;
  view.setBigUint64(5, s.generation);
  view.setBigUint64(13, s.lastId);
  view.setBigUint64(21, BigInt(s.journalOffset));
  view.setUint32(29, s.body.length);
  out.set(s.body, HEADER);
  view.setUint32(HEADER + s.body.length, crc32c(out.subarray(0, HEADER + s.body.length)));
  return out;
}

/** The slot's snapshot, or why it is unusable (empty, torn, flipped, unknown version). */
export function decodeSlot(bytes: Uint8Array): { snapshot: Snapshot } | { problem: string } {
  if (bytes.length === 0) return { problem: 'empty' };
  if (bytes.length < HEADER + 4) return { problem: `short (${bytes.length} bytes)` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bodyLength = view.getUint32(29);
  if (bytes.length !== HEADER + bodyLength + 4) return { problem: `length ${bytes.length} != ${HEADER + bodyLength + 4}` };
  if (crc32c(bytes.subarray(0, HEADER + bodyLength)) !== view.getUint32(HEADER + bodyLength)) return { problem: 'CRC-32C mismatch' };
  // Checked after the CRC: a good CRC over a wrong magic or version is a real format mismatch.
  if (MAGIC.some((m, i) => bytes[i] !== m)) throw new Error('snapshot slot: not a sphinx snapshot (bad magic)');
  if (bytes[4] !== SNAPSHOT_SLOT_VERSION) throw new Error(`snapshot slot: unknown version ${bytes[4]} (this build reads version ${SNAPSHOT_SLOT_VERSION})`);
  return {
    snapshot: {
      generation: view.getBigUint64(5),
      lastId: view.getBigUint64(13),
      journalOffset: Number(view.getBigUint64(21)),
      body: bytes.slice(HEADER, HEADER + bodyLength),
    },
  };
}

export interface SlotRead {
  /** The newest good snapshot, if any. */
  readonly newest: Snapshot | undefined;
  /** Slots that were not empty but unusable (torn or flipped), for the log. */
  readonly problems: readonly string[];
}

export class SnapshotSlots {
  constructor(private readonly slots: readonly [FilePort, FilePort]) {}

  read(): SlotRead {
    let newest: Snapshot | undefined;
    const problems: string[] = [];
    for (const slot of this.slots) {
      const result = decodeSlot(readWhole(slot));
      if ('problem' in result) {
        if (result.problem !== 'empty') problems.push(`snapshot slot ${slot.name}: ${result.problem}; ignored`);
      } else if (newest === undefined || result.snapshot.generation > newest.generation) {
        newest = result.snapshot;
      }
    }
    return { newest, problems };
  }

  /** Writes the next snapshot over the older (or unusable) slot and syncs it. */
  write(lastId: bigint, journalOffset: number, body: Uint8Array): Snapshot {
    const states = this.slots.map((slot) => decodeSlot(readWhole(slot)));
    const gens = states.map((s) => ('snapshot' in s ? s.snapshot.generation : -1n));
    const target = gens[0]! <= gens[1]! ? 0 : 1;
    const snapshot: Snapshot = { generation: (gens[0]! > gens[1]! ? gens[0]! : gens[1]!) + 1n, lastId, journalOffset, body };
    replaceWhole(this.slots[target]!, encodeSlot(snapshot));
    return snapshot;
  }
}
