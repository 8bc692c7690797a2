/**
 * What travels over MQTT between broker and device: request envelopes (DESIGN §3's
 * Envelope) on `req`, reply envelopes on `res`. Versioned and length-checked; encoders and
 * decoders side by side. A reply carries the request's id (so duplicates and reorders are
 * harmless) and the Reply of event-codec.ts.
 *
 * request: u8 version ‖ u64 id ‖ peer(33) ‖ u64 dbid ‖ u64 permissions ‖ u64 at ‖ u32 len ‖ message
 * reply:   u8 version ‖ u64 id ‖ reply (event-codec writeReply)
 */
import type { Reply } from '../decision.js';
import type { Envelope } from '../envelope.js';
import { CodecError, decodeWith, readReply, readVarBytes, readVersion, writeReply, writeVarBytes } from '../event-codec.js';
import { WireWriter } from '../wire/writer.js';

export const ENVELOPE_VERSION = 1;

export interface ReplyEnvelope {
  readonly id: bigint;
  readonly reply: Reply;
}

export function encodeRequest(env: Envelope): Uint8Array {
  const w = new WireWriter(64 + env.message.length);
  w.u8(ENVELOPE_VERSION);
  w.u64(env.id);
  if (env.client.peer.length !== 33) throw new CodecError(`request ${env.id}: peer must be 33 bytes`);
  w.bytes(env.client.peer);
  w.u64(env.client.dbid);
  w.u64(env.client.permissions);
  w.u64(BigInt(env.at));
  writeVarBytes(w, env.message);
  return w.finish().slice();
}

export const decodeRequest = (bytes: Uint8Array): Envelope =>
  decodeWith('request envelope', bytes, (r) => {
    readVersion(r, 'request envelope', ENVELOPE_VERSION);
    const id = r.u64();
    const client = { peer: r.bytes(33), dbid: r.u64(), permissions: r.u64() };
    const at = Number(r.u64());
    return { id, client, at, message: readVarBytes(r) };
  });

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
