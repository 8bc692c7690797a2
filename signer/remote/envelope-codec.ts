/**
 * What travels over MQTT between broker and device: request envelopes (docs/design.md#the-signer-core's
 * Envelope) on `req`, reply envelopes on `res`. Versioned and length-checked; encoders and
 * decoders side by side. A reply carries the request's id (so duplicates and reorders are
 * harmless) and the Reply of event-codec.ts.
 *
 * request: u8 version ‖ u64 id ‖ peer(33) ‖ u64 dbid ‖ u64 permissions ‖ u64 at ‖ u32 len ‖ message
 * reply:   u8 version ‖ u64 id ‖ reply (event-codec writeReply)
 *
 * Batches (version 2, docs/remote-protocol.md "Batches"): several requests in one `req`
 * message, answered by one `res` message with every reply, in the same order:
 * request batch: u8 2 ‖ u16 count ‖ count × (u64 id ‖ peer(33) ‖ u64 dbid ‖ u64 permissions ‖ u64 at ‖ u32 len ‖ message)
 * reply batch:   u8 2 ‖ u16 count ‖ count × (u64 id ‖ reply)
 * A request batch that must wait for earlier ones (several messages in flight) is version 3:
 * u8 3 ‖ u64 after ‖ u16 count ‖ entries as above, where `after` is an id the device's journal
 * must hold before it handles the batch (0, no condition, is sent as version 2); it is answered
 * with a version-2 reply batch.
 * count is 1..MAX_BATCH_REQUESTS and the ids in one batch are distinct; anything else is a
 * CodecError. A version-1 single envelope is still read (and answered with version 1).
 */
import type { Reply } from '../decision.js';
import type { Envelope } from '../envelope.js';
import { readReply, writeReply } from '../event-codec.js';
import { CodecError, decodeWith, readVarBytes, readVersion, writeVarBytes } from '../record-fields.js';
import type { WireReader } from '../wire/reader.js';
import { WireWriter } from '../wire/writer.js';

export const ENVELOPE_VERSION = 1;
export const BATCH_VERSION = 2;
export const ORDERED_BATCH_VERSION = 3;
/** At most this many requests in one batch. */
export const MAX_BATCH_REQUESTS = 64;
/** The broker closes a batch before its encoding passes this many bytes (a lone larger request still goes, alone). */
export const MAX_BATCH_BYTES = 256 * 1024;

export interface ReplyEnvelope {
  readonly id: bigint;
  readonly reply: Reply;
}

export function encodeRequest(env: Envelope): Uint8Array {
  const w = new WireWriter(64 + env.message.length);
  w.u8(ENVELOPE_VERSION);
  writeRequestBody(w, env);
  return w.finish().slice();
}

/** The bytes one request adds to a batch. */
export const batchedRequestSize = (env: Envelope): number => 8 + 33 + 8 + 8 + 8 + 4 + env.message.length;

function writeRequestBody(w: WireWriter, env: Envelope): void {
  w.u64(env.id);
  if (env.client.peer.length !== 33) throw new CodecError(`request ${env.id}: peer must be 33 bytes`);
  w.bytes(env.client.peer);
  w.u64(env.client.dbid);
  w.u64(env.client.permissions);
  w.u64(BigInt(env.at));
  writeVarBytes(w, env.message);
}

function readRequestBody(r: WireReader): Envelope {
  const id = r.u64();
  const client = { peer: r.bytes(33), dbid: r.u64(), permissions: r.u64() };
  const at = Number(r.u64());
  return { id, client, at, message: readVarBytes(r) };
}

export const decodeRequest = (bytes: Uint8Array): Envelope =>
  decodeWith('request envelope', bytes, (r) => {
    readVersion(r, 'request envelope', ENVELOPE_VERSION);
    return readRequestBody(r);
  });

function checkCount(what: string, n: number): void {
  if (n < 1 || n > MAX_BATCH_REQUESTS) throw new CodecError(`${what}: ${n} entries (a batch holds 1 to ${MAX_BATCH_REQUESTS})`);
}

function checkDistinct(what: string, entries: readonly { readonly id: bigint }[]): void {
  const seen = new Set<bigint>();
  for (const { id } of entries) {
    if (seen.has(id)) throw new CodecError(`${what}: id ${id} appears twice`);
    seen.add(id);
  }
}

/** A batch's entries, both kinds: u16 count (1..MAX_BATCH_REQUESTS) ‖ entries, their ids distinct. */
function writeEntries<T extends { readonly id: bigint }>(w: WireWriter, what: string, entries: readonly T[], write: (w: WireWriter, entry: T) => void): void {
  checkCount(what, entries.length);
  checkDistinct(what, entries);
  w.u16(entries.length);
  for (const entry of entries) write(w, entry);
}

function readEntries<T extends { readonly id: bigint }>(r: WireReader, what: string, read: (r: WireReader) => T): T[] {
  const n = r.u16();
  checkCount(what, n);
  const entries: T[] = [];
  for (let i = 0; i < n; i++) entries.push(read(r));
  checkDistinct(what, entries);
  return entries;
}

/** A request batch; with `after` (not 0) the device handles it only once its journal holds that id. */
export function encodeRequestBatch(envs: readonly Envelope[], after = 0n): Uint8Array {
  const w = new WireWriter(11 + envs.reduce((n, e) => n + batchedRequestSize(e), 0));
  w.u8(after === 0n ? BATCH_VERSION : ORDERED_BATCH_VERSION);
  if (after !== 0n) w.u64(after);
  writeEntries(w, 'request batch', envs, writeRequestBody);
  return w.finish().slice();
}

/** A request batch of version 2 or 3, with its `after` (0 for version 2). */
export const decodeOrderedBatch = (bytes: Uint8Array): { readonly after: bigint; readonly envelopes: Envelope[] } =>
  decodeWith('request batch', bytes, (r) => {
    const version = r.u8();
    if (version !== BATCH_VERSION && version !== ORDERED_BATCH_VERSION) {
      throw new CodecError(`request batch: unknown version ${version} (this build reads versions ${BATCH_VERSION} and ${ORDERED_BATCH_VERSION})`);
    }
    const after = version === ORDERED_BATCH_VERSION ? r.u64() : 0n;
    return { after, envelopes: readEntries(r, 'request batch', readRequestBody) };
  });

export const decodeRequestBatch = (bytes: Uint8Array): Envelope[] => decodeOrderedBatch(bytes).envelopes;

/** A `req` payload of any version: the device answers in the version it was asked in (a batch with a batch). */
export function decodeRequestPayload(bytes: Uint8Array): { readonly batch: boolean; readonly after: bigint; readonly envelopes: Envelope[] } {
  if (bytes.length > 0 && (bytes[0] === BATCH_VERSION || bytes[0] === ORDERED_BATCH_VERSION)) return { batch: true, ...decodeOrderedBatch(bytes) };
  if (bytes.length > 0 && bytes[0] !== ENVELOPE_VERSION) {
    throw new CodecError(`request: unknown version ${bytes[0]} (this build reads versions ${ENVELOPE_VERSION}, ${BATCH_VERSION} and ${ORDERED_BATCH_VERSION})`);
  }
  return { batch: false, after: 0n, envelopes: [decodeRequest(bytes)] };
}

export function encodeReplyEnvelope(env: ReplyEnvelope): Uint8Array {
  const w = new WireWriter();
  w.u8(ENVELOPE_VERSION);
  w.u64(env.id);
  writeReply(w, env.reply);
  return w.finish().slice();
}

export const decodeReplyEnvelope = (bytes: Uint8Array): ReplyEnvelope =>
  decodeWith('reply envelope', bytes, (r) => {
    readVersion(r, 'reply envelope', ENVELOPE_VERSION);
    return { id: r.u64(), reply: readReply(r) };
  });

export function encodeReplyBatch(envs: readonly ReplyEnvelope[]): Uint8Array {
  const w = new WireWriter();
  w.u8(BATCH_VERSION);
  writeEntries(w, 'reply batch', envs, (w, env) => {
    w.u64(env.id);
    writeReply(w, env.reply);
  });
  return w.finish().slice();
}

export const decodeReplyBatch = (bytes: Uint8Array): ReplyEnvelope[] =>
  decodeWith('reply batch', bytes, (r) => {
    readVersion(r, 'reply batch', BATCH_VERSION);
    return readEntries(r, 'reply batch', (r) => ({ id: r.u64(), reply: readReply(r) }));
  });

/** A `res` payload of either version. */
export function decodeReplyPayload(bytes: Uint8Array): ReplyEnvelope[] {
  if (bytes.length > 0 && bytes[0] === BATCH_VERSION) return decodeReplyBatch(bytes);
  if (bytes.length > 0 && bytes[0] !== ENVELOPE_VERSION) {
    throw new CodecError(`reply: unknown version ${bytes[0]} (this build reads versions ${ENVELOPE_VERSION} and ${BATCH_VERSION})`);
  }
  return [decodeReplyEnvelope(bytes)];
}
