/**
 * BIP 340 Schnorr signing and verification over any secp256k1 implementation's group
 * operations, following the BIP's algorithms step by step. Our own curve
 * (signer/crypto/secp256k1/curve.ts) and noble's (noble.ts; noble's own `schnorr` is bound to
 * the instance its module creates at load, with the RNG probed then) both sign here, checked
 * against libsecp256k1 in node/curve-native.test.ts.
 */
import { concat } from '../bytes.js';
import { P } from './secp256k1/field.js';
import { bytesToBigInt, fromScalar } from './secp256k1/scalars.js';
import { taggedHash } from './signatures.js';

/** The group operations BIP 340 needs, from whichever curve implementation signs. */
export interface Bip340Group<Point> {
  /** The group order n. */
  readonly n: bigint;
  /** k·G for a secret k in [1, n−1] (constant time, blinded where the backend blinds). */
  mulG(k: bigint): Point;
  /** a·G + b·Q for public a, b in [0, n−1]; undefined for the point at infinity. */
  mulAddPublic(a: bigint, q: Point, b: bigint): Point | undefined;
  affine(point: Point): { x: bigint; y: bigint };
  /** lift_x: the point with abscissa x and an even y, or undefined (x ≥ p, or not on the curve). */
  liftX(x: bigint): Point | undefined;
}

const int = bytesToBigInt;
const bytes32 = fromScalar;

export interface Bip340 {
  sign(message: Uint8Array, priv: Uint8Array, aux: Uint8Array): Uint8Array;
  verify(signature: Uint8Array, message: Uint8Array, xOnly: Uint8Array): boolean;
}

export function bip340<Point>(group: Bip340Group<Point>): Bip340 {
  const { n } = group;
  const hasEvenY = (point: Point): boolean => (group.affine(point).y & 1n) === 0n;
  const xBytes = (point: Point): Uint8Array => bytes32(group.affine(point).x);

  const challenge = (r: Uint8Array, px: Uint8Array, m: Uint8Array): bigint =>
    int(taggedHash('BIP0340/challenge', r, px, m)) % n;

  function verify(signature: Uint8Array, message: Uint8Array, xOnly: Uint8Array): boolean {
    if (signature.length !== 64 || xOnly.length !== 32) return false;
    const pub = group.liftX(int(xOnly));
    if (pub === undefined) return false;
    const r = int(signature.subarray(0, 32));
    const s = int(signature.subarray(32, 64));
    // s = 0 is refused as noble's verifier (the previous backend) refuses it.
    if (r >= P || s === 0n || s >= n) return false;
    const e = challenge(signature.subarray(0, 32), xOnly, message);
    const R = group.mulAddPublic(s, pub, (n - e) % n);
    return R !== undefined && hasEvenY(R) && group.affine(R).x === r;
  }

  function sign(message: Uint8Array, priv: Uint8Array, aux: Uint8Array): Uint8Array {
    const d0 = int(priv);
    if (priv.length !== 32 || d0 === 0n || d0 >= n) throw new RangeError('invalid private key');
    const pub = group.mulG(d0);
    const d = hasEvenY(pub) ? d0 : n - d0;
    const px = xBytes(pub);
    const t = bytes32(d ^ int(taggedHash('BIP0340/aux', aux)));
    const k0 = int(taggedHash('BIP0340/nonce', t, px, message)) % n;
    if (k0 === 0n) throw new Error('BIP 340 nonce is zero');
    const R = group.mulG(k0);
    const k = hasEvenY(R) ? k0 : n - k0;
    const rx = xBytes(R);
    const e = challenge(rx, px, message);
    const signature = concat(rx, bytes32((k + e * d) % n));
    if (!verify(signature, message, px)) throw new Error('BIP 340 signature does not verify');
    return signature;
  }

  return { sign, verify };
}
