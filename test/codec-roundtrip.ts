/**
 * Round-trip helpers for the wire codec tests (signer/wire/*.test.ts).
 */
import assert from 'node:assert/strict';
import { fromHex, toHex } from '../signer/bytes.js';
import type { Codec } from '../signer/wire/codec.js';
import { WireReader } from '../signer/wire/reader.js';
import { WireWriter } from '../signer/wire/writer.js';

export function enc<T>(c: Codec<T>, v: T): Uint8Array {
  const w = new WireWriter();
  c.encode(w, v);
  return w.finish();
}

/** Decodes all of `hex` with c, checks nothing is left and that re-encoding gives `hex`. */
export function roundTrip<T>(c: Codec<T>, hex: string): T {
  const r = new WireReader(fromHex(hex));
  const v = c.decode(r);
  assert.ok(r.atEnd, `bytes left after decoding ${hex}`);
  assert.equal(toHex(enc(c, v)), hex);
  return v;
}

export const decodeHex = <T>(c: Codec<T>, hex: string): T => c.decode(new WireReader(fromHex(hex)));
