/**
 * secp256k1 points in Jacobian coordinates (x = X/Z², y = Y/Z³; Z = 0 is the point at
 * infinity) and scalar multiplication, written for the device: no precomputed table and no
 * module state, so the whole module can be preloaded into flash (docs/device-memory.md
 * "BigInts in flash"). Formulas for a = 0 from the Explicit-Formulas Database
 * (dbl-2009-l, add-1998-cmo-2); checked against libsecp256k1 and noble in curve.test.ts.
 */
import { curveY2, invert, mod, P, yOf } from './field.js';
import { bytesToBigInt, fromScalar } from './scalars.js';

export interface Point {
  readonly x: bigint;
  readonly y: bigint;
  readonly z: bigint;
}

/** SEC 2 §2.4.1: the generator's affine coordinates. */
const GX = 0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798n;
const GY = 0x483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8n;

/**
 * The generator, made at each call: a point kept in a preloaded module would hold BigInts in
 * flash, and `===` between one of those and an equal BigInt made at run time is false under
 * XS 8.2.3 (docs/device-memory.md "BigInts in flash").
 */
export const generator = (): Point => ({ x: GX, y: GY, z: 1n });

export const infinity = (): Point => ({ x: 0n, y: 1n, z: 0n });

export const isInfinity = (p: Point): boolean => p.z === 0n;

export function double(p: Point): Point {
  if (p.z === 0n || p.y === 0n) return infinity();
  const a = (p.x * p.x) % P;
  const b = (p.y * p.y) % P;
  const c = (b * b) % P;
  const xb = p.x + b;
  const d = mod(2n * ((xb * xb) % P - a - c), P);
  const e = 3n * a;
  const f = (e * e) % P;
  const x = mod(f - 2n * d, P);
  return { x, y: mod(e * (d - x) - 8n * c, P), z: (2n * p.y * p.z) % P };
}

export function add(p: Point, q: Point): Point {
  if (p.z === 0n) return q;
  if (q.z === 0n) return p;
  const pz2 = (p.z * p.z) % P;
  const qz2 = (q.z * q.z) % P;
  const u1 = (p.x * qz2) % P;
  const u2 = (q.x * pz2) % P;
  const s1 = (((p.y * qz2) % P) * q.z) % P;
  const s2 = (((q.y * pz2) % P) * p.z) % P;
  const h = mod(u2 - u1, P);
  const r = mod(s2 - s1, P);
  if (h === 0n) return r === 0n ? double(p) : infinity();
  const h2 = (h * h) % P;
  const h3 = (h2 * h) % P;
  const u1h2 = (u1 * h2) % P;
  const x = mod(r * r - h3 - 2n * u1h2, P);
  return { x, y: mod(r * (u1h2 - x) - s1 * h3, P), z: (((p.z * q.z) % P) * h) % P };
}

export const negate = (p: Point): Point => ({ x: p.x, y: mod(-p.y, P), z: p.z });

/** Affine coordinates; throws at infinity. */
export function affine(p: Point): { x: bigint; y: bigint } {
  if (p.z === 0n) throw new RangeError('result is the point at infinity');
  const zInv = invert(p.z, P);
  const zInv2 = (zInv * zInv) % P;
  return { x: (p.x * zInv2) % P, y: (((p.y * zInv2) % P) * zInv) % P };
}

/** A point from its affine coordinates (not checked: callers have them from the curve). */
export const fromAffine = (x: bigint, y: bigint): Point => ({ x, y, z: 1n });

/** secp256k1_ec_pubkey_parse of 02/03 ‖ x or 04 ‖ x ‖ y (hybrid 06/07 refused, as noble refuses them). */
export function parsePoint(bytes: Uint8Array): Point {
  if (bytes.length === 33 && (bytes[0] === 2 || bytes[0] === 3)) {
    const x = bytesToBigInt(bytes.subarray(1));
    const y = yOf(x, bytes[0] === 3);
    if (y === undefined) throw new RangeError('not a point of the curve');
    return fromAffine(x, y);
  }
  if (bytes.length === 65 && bytes[0] === 4) {
    const x = bytesToBigInt(bytes.subarray(1, 33));
    const y = bytesToBigInt(bytes.subarray(33));
    if (x >= P || y >= P || (y * y) % P !== curveY2(x)) throw new RangeError('not a point of the curve');
    return fromAffine(x, y);
  }
  throw new RangeError('invalid point encoding');
}

/** 02/03 ‖ x; throws at infinity. */
export function compress(p: Point): Uint8Array {
  const { x, y } = affine(p);
  const out = new Uint8Array(33);
  out[0] = (y & 1n) === 1n ? 3 : 2;
  out.set(fromScalar(x), 1);
  return out;
}

const WINDOW = 4;
const WINDOW_MASK = 15n;

/**
 * k·p for 0 ≤ k < 2^bits (bits a multiple of 4), with a fixed 4-bit window: 15 multiples of p,
 * then per window four doublings and one addition, of a table entry or, for a zero digit, of
 * the first entry into a discarded sum, so the sequence of operations does not depend on k.
 * BigInt arithmetic is not constant time; callers blind secret scalars (curve.ts).
 */
export function multiply(p: Point, k: bigint, bits: number): Point {
  const table: Point[] = [p];
  for (let i = 1; i < 15; i++) table.push(add(table[i - 1]!, p));
  let acc = infinity();
  let discarded = infinity();
  for (let shift = bits - WINDOW; shift >= 0; shift -= WINDOW) {
    for (let i = 0; i < WINDOW; i++) acc = double(acc);
    const digit = Number((k >> BigInt(shift)) & WINDOW_MASK);
    if (digit === 0) discarded = add(discarded, table[0]!);
    else acc = add(acc, table[digit - 1]!);
  }
  return acc;
}
