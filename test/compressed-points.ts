/**
 * The inputs every `Curve.isCompressedPoint` is held to, each with @noble/curves' own parser as
 * the oracle (secp256k1.Point.fromBytes, counted only for 33 bytes starting 02/03, since it
 * also parses 65-byte keys): pseudo-random x under the prefixes 00..07 (about half of the x
 * are on the curve), x from p to p + 15 (p + 1 is on the curve: a parser that reduced x mod p
 * would take it), 0 and 2²⁵⁶ − 1, real points, the same bytes one short and one long, and views
 * at an offset into a larger buffer (the signer checks subarrays of a request).
 */
import assert from 'node:assert/strict';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, toHex, utf8 } from '../signer/bytes.js';

export interface PointCase {
  readonly bytes: Uint8Array;
  /** What @noble/curves says: a compressed encoding of a point. */
  readonly parses: boolean;
}

const { p: P, n: N } = secp256k1.Point.CURVE();

function nobleParsesCompressed(p: Uint8Array): boolean {
  if (p.length !== 33 || (p[0] !== 2 && p[0] !== 3)) return false;
  try {
    secp256k1.Point.fromBytes(p);
    return true;
  } catch {
    return false;
  }
}

const be32 = (n: bigint): Uint8Array => numberToBytesBE(n, 32);

/** `count` pseudo-random x coordinates and the edge ones, under every prefix, and the other shapes. */
export function compressedPointCases(seed: string, count = 300): PointCase[] {
  let counter = 0;
  const next = (): Uint8Array => sha256(concat(utf8(seed), Uint8Array.of(counter >>> 24, counter >>> 16, counter >>> 8, counter++)));
  const xs = [be32(0n), be32((1n << 256n) - 1n), ...Array.from({ length: 16 }, (_, k) => be32(P + BigInt(k)))];
  for (let i = 0; i < count; i++) xs.push(next());
  const encodings = xs.flatMap((x) => [0, 1, 2, 3, 4, 5, 6, 7].map((prefix) => concat(Uint8Array.of(prefix), x)));
  for (let i = 0; i < 20; i++) {
    const point = secp256k1.Point.BASE.multiply(1n + (bytesToNumberBE(next()) % (N - 1n)));
    encodings.push(point.toBytes(true), point.toBytes(false));
  }
  const shapes = encodings.slice(0, 40).flatMap((e) => [e.subarray(0, 32), concat(e, Uint8Array.of(0)), concat(Uint8Array.of(0xee), e).subarray(1)]);
  return [...encodings, ...shapes, new Uint8Array(0)].map((bytes) => ({ bytes, parses: nobleParsesCompressed(bytes) }));
}

/** `check` answers every case as @noble/curves does; the cases include hundreds of points. */
export function assertAgreesOnCompressedPoints(check: (p: Uint8Array) => boolean, seed: string): void {
  const cases = compressedPointCases(seed);
  for (const { bytes, parses } of cases) assert.equal(check(bytes), parses, toHex(bytes));
  assert.ok(cases.filter((c) => c.parses).length > 300, 'about half of the x coordinates are on the curve, with either prefix');
}
