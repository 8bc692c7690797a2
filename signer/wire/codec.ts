/**
 * `Codec<T>`: an encoder and its decoder side by side, plus the combinators that hsmd's
 * wire types are built from (CLN's `tools/gen` field kinds: fixed arrays, `u8[len]`,
 * `T[count]`, `?T`, subtypes, TLV streams).
 *
 * Length and count fields are folded into the value they measure: `len:u16, msg:u8[len]`
 * is one field `msg: Uint8Array` (`bytes16`), `num:u16, xs:T[num]` is `xs: T[]` (`array16`).
 */
import type { WireReader } from './reader.js';
import type { WireWriter } from './writer.js';
import { WireError } from './errors.js';

export { wirestring } from './wirestring.js';
export { tlvStream } from './tlv.js';
export type { TlvRecordSpec, TlvSpec, TlvStream, TlvUnknown } from './tlv.js';

/** Writes and reads one wire value of type T. */
export interface Codec<T> {
  encode(w: WireWriter, v: T): void;
  decode(r: WireReader): T;
}

/** The value type a codec reads and writes. */
export type CodecValue<C> = C extends Codec<infer T> ? T : never;

/** Exactly n bytes (`u8[n]` with n fixed, e.g. a 33-byte pubkey). */
export function bytes(n: number): Codec<Uint8Array> {
  return {
    encode(w, v) {
      if (!(v instanceof Uint8Array) || v.length !== n) {
        throw new WireError(`expected ${n} bytes, got ${v instanceof Uint8Array ? v.length : typeof v}`);
      }
      w.bytes(v);
    },
    decode: (r) => r.bytes(n),
  };
}

export const u8: Codec<number> = { encode: (w, v) => w.u8(v), decode: (r) => r.u8() };
export const u16: Codec<number> = { encode: (w, v) => w.u16(v), decode: (r) => r.u16() };
export const u32: Codec<number> = { encode: (w, v) => w.u32(v), decode: (r) => r.u32() };
export const u64: Codec<bigint> = { encode: (w, v) => w.u64(v), decode: (r) => r.u64() };
/** `fromwire_bool`: 0 or 1, anything else fails. */
export const bool: Codec<boolean> = { encode: (w, v) => w.bool(v), decode: (r) => r.bool() };

/** `len:u16, x:u8[len]` as one field. */
export const bytes16: Codec<Uint8Array> = {
  encode(w, v) {
    if (!(v instanceof Uint8Array)) throw new WireError('Uint8Array expected');
    if (v.length > 0xffff) throw new WireError(`${v.length} bytes do not fit a u16 length`);
    w.u16(v.length);
    w.bytes(v);
  },
  decode: (r) => r.bytes(r.u16()),
};

/** `num:u16, xs:T[num]` as one field. */
export function array16<T>(item: Codec<T>): Codec<T[]> {
  return {
    encode(w, v) {
      if (!Array.isArray(v)) throw new WireError('array expected');
      if (v.length > 0xffff) throw new WireError(`${v.length} items do not fit a u16 count`);
      w.u16(v.length);
      let i = 0;
      try {
        for (; i < v.length; i++) item.encode(w, v[i]!);
      } catch (e) {
        throw inField(e, `[${i}]`);
      }
    },
    decode(r) {
      const n = r.u16();
      const out: T[] = [];
      for (let i = 0; i < n; i++) out.push(item.decode(r));
      return out;
    },
  };
}

/** CLN's `?T`: a presence bool, then T if present (`tools/gen/impl_template`). */
export function optional<T>(inner: Codec<T>): Codec<T | undefined> {
  return {
    encode(w, v) {
      if (v === undefined) {
        w.bool(false);
      } else {
        w.bool(true);
        inner.encode(w, v);
      }
    },
    decode: (r) => (r.bool() ? inner.decode(r) : undefined),
  };
}

/** Field codecs of a subtype, in wire order. */
export type StructSpec = Record<string, Codec<any>>;
/** The object a StructSpec reads and writes. */
export type StructValue<S extends StructSpec> = { [K in keyof S]: CodecValue<S[K]> };

/** A CLN subtype: its fields one after the other, as an object keyed by CLN's names. */
export function struct<S extends StructSpec>(spec: S): Codec<StructValue<S>> {
  const keys = Object.keys(spec);
  const codecs = keys.map((k) => spec[k]!);
  return {
    encode(w, v) {
      if (typeof v !== 'object' || v === null) throw new WireError('object expected');
      const rec = v as Record<string, unknown>;
      let i = 0;
      try {
        for (; i < keys.length; i++) codecs[i]!.encode(w, rec[keys[i]!]);
      } catch (e) {
        throw inField(e, keys[i]!);
      }
    },
    decode(r) {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < keys.length; i++) out[keys[i]!] = codecs[i]!.decode(r);
      return out as StructValue<S>;
    },
  };
}

/** An encoding error re-raised with the field it happened in (a WireError either way). */
function inField(e: unknown, field: string): WireError {
  const detail = e instanceof Error ? e.message : String(e);
  return new WireError(`${field}: ${detail}`);
}
