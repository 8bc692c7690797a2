/**
 * The field types of our own binary records: the journal's events and replies
 * (event-codec.ts), the state snapshot (projections/signer-state.ts), the device envelopes
 * (remote/envelope-codec.ts), chain updates and mirror entries. Each is a function pair for
 * hand-written layouts and a `Codec` (wire/codec.ts) for records declared as a `struct`,
 * so a record's field order is written down once and both directions follow it.
 *
 * Layout (big-endian, WireWriter/WireReader):
 *   bytes  = u32 length ‖ bytes;  string = bytes of its UTF-8;  bool = u8 0|1
 *   option = u8 0 (absent) | u8 1 ‖ value;  u64 = 8 bytes;  u16/u32 as named
 *   list   = u32 count ‖ item*
 */
import type { ChannelRef, ChannelSetUp } from './events.js';
import { struct, u32, u64, bool, type Codec } from './wire/codec.js';
import { WireError } from './wire/errors.js';
import { WireReader } from './wire/reader.js';
import type { WireWriter } from './wire/writer.js';

/** A decoding failure of one of our records (the event codec, or anything built on it). */
export class CodecError extends Error {
  override readonly name = 'CodecError';
}

export function writeVarBytes(w: WireWriter, b: Uint8Array): void {
  w.u32(b.length);
  w.bytes(b);
}
export const readVarBytes = (r: WireReader): Uint8Array => r.bytes(r.u32());

export const writeString = (w: WireWriter, s: string): void => writeVarBytes(w, new TextEncoder().encode(s));
export function readString(r: WireReader): string {
  const start = r.offset;
  const bytes = readVarBytes(r);
  try {
    // Made per call: XS provides TextDecoder only once the app runs, not while modules load.
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return r.fail('invalid UTF-8', start);
  }
}

export function writeOption<T>(w: WireWriter, v: T | undefined | null, write: (v: T) => void): void {
  if (v === undefined || v === null) return w.u8(0);
  w.u8(1);
  write(v);
}
export function readOption<T>(r: WireReader, read: () => T): T | undefined {
  const flag = r.u8();
  if (flag > 1) r.fail(`option flag must be 0 or 1, got ${flag}`, r.offset - 1);
  return flag === 1 ? read() : undefined;
}

export const varBytes: Codec<Uint8Array> = { encode: writeVarBytes, decode: readVarBytes };
export const string: Codec<string> = { encode: writeString, decode: readString };
export { bool, u32, u64 };

/** `option`: absent (undefined or null) or present. */
export function option<T>(inner: Codec<T>): Codec<T | undefined> {
  return {
    encode: (w, v) => writeOption(w, v, (x) => inner.encode(w, x)),
    decode: (r) => readOption(r, () => inner.decode(r)),
  };
}

/** `list`: a u32 count, then the items. */
export function list<T>(item: Codec<T>): Codec<T[]> {
  return {
    encode(w, items) {
      w.u32(items.length);
      for (const x of items) item.encode(w, x);
    },
    decode(r) {
      const items: T[] = [];
      for (let i = r.u32(); i > 0; i--) items.push(item.decode(r));
      return items;
    },
  };
}

/** A u64 on the wire that the record holds as a JS number (unix seconds). */
export const u64Number: Codec<number> = { encode: (w, v) => w.u64(BigInt(v)), decode: (r) => Number(r.u64()) };

/** One of `names`, written as its index (u8); an unknown index is a CodecError naming `what`. */
export function enumeration<const N extends string>(what: string, names: readonly N[]): Codec<N> {
  return {
    encode: (w, v) => w.u8(names.indexOf(v)),
    decode(r) {
      const code = r.u8();
      const name = names[code];
      if (name === undefined) throw new CodecError(`${what}: unknown code ${code} at offset ${r.offset - 1}`);
      return name;
    },
  };
}

export function writeChannelRef(w: WireWriter, c: ChannelRef): void {
  writeVarBytes(w, c.peer);
  w.u64(c.dbid);
}
/** The channel reference decoded last (see readChannelRef). */
let lastRef: ChannelRef | undefined;

/**
 * A channel reference. Consecutive events are mostly about one channel: when this one equals
 * the last decoded, that same (immutable) object is returned, so a rebuild neither copies the
 * peer id again nor computes the channel's map key again (state.ts channelKey keeps it per object).
 */
export function readChannelRef(r: WireReader): ChannelRef {
  const n = r.u32();
  const last = lastRef;
  let peer: Uint8Array;
  if (last !== undefined && last.peer.length === n && r.nextEquals(last.peer)) {
    r.skip(n);
    peer = last.peer;
  } else {
    peer = r.bytes(n);
  }
  const dbid = r.u64();
  if (last !== undefined && peer === last.peer && dbid === last.dbid) return last;
  return (lastRef = { peer, dbid });
}

/** In most events: spelled out rather than a `struct`, as the hottest field of a journal rebuild. */
export const channelRef: Codec<ChannelRef> = { encode: writeChannelRef, decode: readChannelRef };

/** ChannelSetUp's fields after its channel: what setup_channel fixed. */
export type ChannelSetup = Omit<ChannelSetUp, 'kind' | 'channel'>;

export const CHANNEL_SETUP_FIELDS = {
  isOutbound: bool,
  channelValueSat: u64,
  pushValueMsat: u64,
  fundingTxid: varBytes,
  fundingTxout: u32,
  localToSelfDelay: u32,
  localShutdownScript: varBytes,
  localShutdownWalletIndex: option(u32),
  remoteBasepoints: struct({ revocation: varBytes, payment: varBytes, htlc: varBytes, delayed_payment: varBytes }),
  remoteFundingPubkey: varBytes,
  remoteToSelfDelay: u32,
  remoteShutdownScript: varBytes,
  channelType: varBytes,
};
export const channelSetup: Codec<ChannelSetup> = struct(CHANNEL_SETUP_FIELDS);
export const writeChannelSetup = channelSetup.encode;
export const readChannelSetup = channelSetup.decode;

/** Reads a version byte and refuses any but `expected`, naming what it reads. */
export function readVersion(r: WireReader, what: string, expected: number): void {
  const v = r.u8();
  if (v !== expected) throw new CodecError(`${what}: unknown version ${v} (this build reads version ${expected})`);
}

/** Wraps a decoder: WireErrors (truncated, bad bool) become CodecErrors naming `what`. */
export function decodeWith<T>(what: string, bytes: Uint8Array, read: (r: WireReader) => T): T {
  const r = new WireReader(bytes);
  try {
    const value = read(r);
    if (!r.atEnd) throw new CodecError(`${what}: ${r.remaining} trailing bytes at offset ${r.offset}`);
    return value;
  } catch (e) {
    if (e instanceof WireError) throw new CodecError(`${what}: ${e.message}`);
    throw e;
  }
}
