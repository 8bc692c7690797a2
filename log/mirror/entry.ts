/**
 * Journal mirror entries (docs/journal.md "Mirror"): what the device sends the broker for
 * every journal record it makes durable, and for every snapshot. Pure; shared by the device
 * (firmware/app/mirror.ts), the broker's store (broker/remote/mirror-store.ts), restore and
 * the audit.
 *
 * Entry: u8 version (1) ‖ u8 kind (1 record, 2 snapshot) ‖ u64 counter ‖ 32-byte previous MAC
 *        ‖ u32 length ‖ payload ‖ 32-byte MAC
 * MAC = HMAC-SHA256(mirror key, "sphinx-mirror/1" ‖ u8 kind ‖ u64 counter ‖ previous MAC ‖ payload)
 *
 * Counters go up by one per entry and each MAC covers the previous one: the broker, without
 * the key, can store entries but not forge, drop or reorder them unnoticed. A record's
 * payload is the journal entry's bytes (log/journal/record.ts: a request record or a sourced
 * record); a snapshot's is
 * u64 last id ‖ the snapshot body (projections/signer-state.ts). A chain starts with a
 * record at counter 1 after 32 zero bytes, and may be cut before any snapshot entry.
 */
import { equal, utf8 } from '../../signer/bytes.js';
import { hmacSha256 } from '../../signer/crypto/hashes.js';
import { CodecError, decodeWith, readVarBytes, writeVarBytes } from '../../signer/record-fields.js';
import { WireWriter } from '../../signer/wire/writer.js';
import type { WireReader } from '../../signer/wire/reader.js';

export const MIRROR_ENTRY_VERSION = 1;
export const MAC_LENGTH = 32;
export const ZERO_MAC = new Uint8Array(MAC_LENGTH);
const DOMAIN = utf8('sphinx-mirror/1');

export const ENTRY_KINDS = { record: 1, snapshot: 2 } as const;
export type EntryKind = keyof typeof ENTRY_KINDS;

export interface MirrorEntry {
  readonly kind: EntryKind;
  readonly counter: bigint;
  readonly prevMac: Uint8Array;
  readonly payload: Uint8Array;
  readonly mac: Uint8Array;
}

/** Where a chain stands: the last entry's counter and MAC (0 and zeros before the first). */
export interface ChainPosition {
  readonly counter: bigint;
  readonly mac: Uint8Array;
}

export const GENESIS: ChainPosition = { counter: 0n, mac: ZERO_MAC };

function macOf(key: Uint8Array, kind: EntryKind, counter: bigint, prevMac: Uint8Array, payload: Uint8Array): Uint8Array {
  const w = new WireWriter(DOMAIN.length + 41 + payload.length);
  w.bytes(DOMAIN);
  w.u8(ENTRY_KINDS[kind]);
  w.u64(counter);
  w.bytes(prevMac);
  w.bytes(payload);
  // The hashes port: node:crypto's HMAC where the host installed it (3× noble's on a record), noble's on the device.
  return hmacSha256(key, w.finish());
}

/** The next entry after `at`. */
export function makeEntry(key: Uint8Array, at: ChainPosition, kind: EntryKind, payload: Uint8Array): MirrorEntry {
  const counter = at.counter + 1n;
  return { kind, counter, prevMac: at.mac, payload, mac: macOf(key, kind, counter, at.mac, payload) };
}

export const macHolds = (key: Uint8Array, e: MirrorEntry): boolean => equal(macOf(key, e.kind, e.counter, e.prevMac, e.payload), e.mac);

export const positionAfter = (e: MirrorEntry): ChainPosition => ({ counter: e.counter, mac: e.mac });

export function writeMirrorEntry(w: WireWriter, e: MirrorEntry): void {
  w.u8(MIRROR_ENTRY_VERSION);
  w.u8(ENTRY_KINDS[e.kind]);
  w.u64(e.counter);
  w.bytes(e.prevMac);
  writeVarBytes(w, e.payload);
  w.bytes(e.mac);
}

export function readMirrorEntry(r: WireReader): MirrorEntry {
  const version = r.u8();
  if (version !== MIRROR_ENTRY_VERSION) throw new CodecError(`mirror entry: unknown version ${version}`);
  const tag = r.u8();
  const kind = (Object.keys(ENTRY_KINDS) as EntryKind[]).find((k) => ENTRY_KINDS[k] === tag);
  if (!kind) throw new CodecError(`mirror entry: unknown kind ${tag}`);
  return { kind, counter: r.u64(), prevMac: r.bytes(MAC_LENGTH), payload: readVarBytes(r), mac: r.bytes(MAC_LENGTH) };
}

export function encodeMirrorEntry(e: MirrorEntry): Uint8Array {
  const w = new WireWriter(e.payload.length + 90);
  writeMirrorEntry(w, e);
  return w.finish().slice();
}

export const decodeMirrorEntry = (bytes: Uint8Array): MirrorEntry => decodeWith('mirror entry', bytes, readMirrorEntry);

/** A snapshot entry's payload: u64 last id ‖ body. */
export function snapshotPayload(lastId: bigint, body: Uint8Array): Uint8Array {
  const w = new WireWriter(body.length + 8);
  w.u64(lastId);
  w.bytes(body);
  return w.finish().slice();
}

export const readSnapshotPayload = (payload: Uint8Array): { lastId: bigint; body: Uint8Array } =>
  decodeWith('mirror snapshot', payload, (r) => ({ lastId: r.u64(), body: r.bytes(r.remaining) }));
