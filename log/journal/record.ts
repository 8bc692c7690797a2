/**
 * The journal's records, each the payload of one frame (frame.ts) (docs/journal.md):
 *
 * - a request record, one per handled hsmd request (write-ahead):
 *   u8 version (1) ‖ u64 id ‖ 32-byte request digest (SHA-256 of the request frame)
 *   ‖ events (signer/event-codec, itself versioned) ‖ reply (event-codec, versioned)
 * - a sourced record, events that no hsmd request caused (a control command, a chain
 *   update), numbered by their source, not by the broker's request ids:
 *   u8 0x02 ‖ string source ‖ u64 seq ‖ u64 at (unix ms, the device's clock) ‖ events
 *
 * The first frame of a compacted journal is instead a start marker naming the snapshot
 * the journal continues (journal.ts): u8 0xF0 ‖ u64 snapshot generation ‖ u64 its last id.
 */
import type { Reply } from '../../signer/decision.js';
import { readEvents, readReply, skipReply, writeEvents, writeReply } from '../../signer/event-codec.js';
import { CodecError, decodeWith, readString, readVersion, writeString } from '../../signer/record-fields.js';
import type { SignerEvent } from '../../signer/events.js';
import { WireReader } from '../../signer/wire/reader.js';
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

/** Events from a source other than hsmd requests (SignerCore.commit). */
export interface SourcedRecord {
  /** Who caused them: 'control', 'chain', ... (1 to 32 characters [a-z0-9-]). */
  readonly source: string;
  /** Strictly increasing per source, from 1; kept across snapshots. */
  readonly seq: bigint;
  /** Unix milliseconds on the device's clock when they were journaled. */
  readonly at: number;
  readonly events: readonly SignerEvent[];
}

/** Any record of the journal, request or sourced, in journal order. */
export type JournalEntry = JournalRecord | SourcedRecord;

/** A request record as the device's recovery folds it: its reply checked, not kept. */
export type RecordToFold = Omit<JournalRecord, 'reply'>;
export type EntryToFold = RecordToFold | SourcedRecord;

export const isSourced = (entry: EntryToFold): entry is SourcedRecord => 'source' in entry;

export const SOURCED_RECORD_TAG = 0x02;
/** 1 to 32 characters of a-z, 0-9 and -; the pattern inside the function: docs/device-memory.md "Regular expressions in flash". */
const isSourceName = (source: string): boolean => /^[a-z0-9-]{1,32}$/.test(source);

/** Throws unless `source` is a valid source name (it is part of the journal format). */
export function assertSourceName(source: string): void {
  if (!isSourceName(source)) throw new RangeError(`journal: source name ${JSON.stringify(source)} must be 1 to 32 characters of a-z, 0-9 and -`);
}

export function encodeSourced(record: SourcedRecord): Uint8Array {
  assertSourceName(record.source);
  if (!Number.isSafeInteger(record.at) || record.at < 0) throw new CodecError(`journal sourced record: time ${record.at} is not a unix time in ms`);
  const w = new WireWriter(128);
  w.u8(SOURCED_RECORD_TAG);
  writeString(w, record.source);
  w.u64(record.seq);
  w.u64(BigInt(record.at));
  writeEvents(w, record.events);
  return w.finish().slice();
}

export const decodeSourced = (payload: Uint8Array): SourcedRecord =>
  decodeWith('journal sourced record', payload, (r) => {
    readVersion(r, 'journal sourced record', SOURCED_RECORD_TAG);
    const source = readString(r);
    if (!isSourceName(source)) throw new CodecError(`journal sourced record: bad source name ${JSON.stringify(source)}`);
    const seq = r.u64();
    const at = r.u64();
    if (at > BigInt(Number.MAX_SAFE_INTEGER)) throw new CodecError(`journal sourced record: time ${at} is not a unix time in ms`);
    return { source, seq, at: Number(at), events: readEvents(r) };
  });

/** A request or sourced record by its first byte (a start marker is not an entry). */
export const decodeEntry = (payload: Uint8Array): JournalEntry =>
  payload[0] === SOURCED_RECORD_TAG ? decodeSourced(payload) : decodeRecord(payload);

export const encodeEntry = (entry: JournalEntry): Uint8Array => (isSourced(entry) ? encodeSourced(entry) : encodeRecord(entry));

function readRecord(r: WireReader): JournalRecord {
  readVersion(r, 'journal record', JOURNAL_RECORD_VERSION);
  return { id: r.u64(), requestDigest: r.bytes(DIGEST_LENGTH), events: readEvents(r), reply: readReply(r) };
}

export const decodeRecord = (payload: Uint8Array): JournalRecord => decodeWith('journal record', payload, readRecord);

/**
 * The id a request record names, read from its head alone (version, id): for a damaged frame,
 * whose rest cannot be trusted, so sphinx-audit can say which request it held. Undefined if the
 * bytes do not start as a request record.
 */
export function requestIdOf(payload: Uint8Array): bigint | undefined {
  if (payload.length < 9 || payload[0] !== JOURNAL_RECORD_VERSION) return undefined;
  return new WireReader(payload, 1, 9).u64();
}

function readRecordToFold(r: WireReader): RecordToFold {
  readVersion(r, 'journal record', JOURNAL_RECORD_VERSION);
  const record = { id: r.u64(), requestDigest: r.bytes(DIGEST_LENGTH), events: readEvents(r) };
  skipReply(r);
  return record;
}

/**
 * decodeEntry for the device's recovery: the same checks and refusals, a request record's reply
 * read past without copying its frame (the recovery never keeps one: core/recovery-fold.ts).
 */
export const decodeEntryToFold = (payload: Uint8Array): EntryToFold =>
  payload[0] === SOURCED_RECORD_TAG ? decodeSourced(payload) : decodeWith('journal record', payload, readRecordToFold);
