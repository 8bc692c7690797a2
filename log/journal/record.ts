/**
 * The journal record: one per handled request (DESIGN §2 write-ahead), the payload of one
 * frame (frame.ts).
 *
 * Layout: u8 version (1) ‖ u64 id ‖ 32-byte request digest (SHA-256 of the request frame)
 *         ‖ events (signer/event-codec, itself versioned) ‖ reply (event-codec, versioned)
 *
 * The first frame of a compacted journal is instead a start marker naming the snapshot
 * the journal continues (journal.ts): u8 0xF0 ‖ u64 snapshot generation ‖ u64 its last id.
 */
import type { Reply } from '../../signer/decision.js';
import { CodecError, decodeWith, readEvents, readReply, readVersion, writeEvents, writeReply } from '../../signer/event-codec.js';
import type { SignerEvent } from '../../signer/events.js';
import { WireWriter } from '../../signer/wire/writer.js';

export const JOURNAL_RECORD_VERSION = 1;
export const DIGEST_LENGTH = 32;

export interface JournalRecord {
  /** The request id the broker assigned (envelope id). */
  readonly id: bigint;
  /** SHA-256 of the request frame: a replayed id must carry the same request. */
  readonly requestDigest: Uint8Array;
  readonly events: readonly SignerEvent[];
  readonly reply: Reply;
}

export function encodeRecord(record: JournalRecord): Uint8Array {
  if (record.requestDigest.length !== DIGEST_LENGTH) throw new CodecError(`journal record: digest of ${record.requestDigest.length} bytes`);
  const w = new WireWriter(256);
  w.u8(JOURNAL_RECORD_VERSION);
  w.u64(record.id);
  w.bytes(record.requestDigest);
  writeEvents(w, record.events);
  writeReply(w, record.reply);
  return w.finish().slice();
}

export const JOURNAL_START_TAG = 0xf0;

/** The journal continues the snapshot of this generation (written by compaction). */
export interface JournalStart {
  readonly generation: bigint;
  readonly lastId: bigint;
}

export function encodeStart(start: JournalStart): Uint8Array {
  const w = new WireWriter(17);
  w.u8(JOURNAL_START_TAG);
  w.u64(start.generation);
  w.u64(start.lastId);
  return w.finish().slice();
}

export const isStart = (payload: Uint8Array): boolean => payload[0] === JOURNAL_START_TAG;

export const decodeStart = (payload: Uint8Array): JournalStart =>
  decodeWith('journal start', payload, (r) => {
    r.u8();
    return { generation: r.u64(), lastId: r.u64() };
  });

export const decodeRecord = (payload: Uint8Array): JournalRecord =>
  decodeWith('journal record', payload, (r) => {
    readVersion(r, 'journal record', JOURNAL_RECORD_VERSION);
    return { id: r.u64(), requestDigest: r.bytes(DIGEST_LENGTH), events: readEvents(r), reply: readReply(r) };
  });
