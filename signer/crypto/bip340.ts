/**
 * BIP 340 Schnorr signing and verification over a given secp256k1 `Point` class, following
 * the BIP's algorithms step by step. noble's own `schnorr` is bound to the curve instance its
 * module creates at load (with the RNG probed then); the device builds its curve with its
 * own RNG port, so it signs here (checked against libsecp256k1 in bip340.test.ts).
 */
import type { WeierstrassPoint, WeierstrassPointCons } from '@noble/curves/abstract/weierstrass.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { concat } from '../bytes.js';
import { taggedHash } from './signatures.js';

type Point = WeierstrassPoint<bigint>;

const int = (b: Uint8Array): bigint => bytesToNumberBE(b);
const bytes32 = (n: bigint): Uint8Array => numberToBytesBE(n, 32);

export interface Bip340 {
  sign(message: Uint8Array, priv: Uint8Array, aux: Uint8Array): Uint8Array;
  verify(signature: Uint8Array, message: Uint8Array, xOnly: Uint8Array): boolean;
}

export function bip340(P: WeierstrassPointCons<bigint>): Bip340 {
  const p = P.Fp.ORDER;
  const n = P.Fn.ORDER;
  const hasEvenY = (point: Point): boolean => (point.toAffine().y & 1n) === 0n;
  const xBytes = (point: Point): Uint8Array => bytes32(point.toAffine().x);

  /** lift_x: the point with x and an even y, or undefined (x ≥ p, or not on the curve). */
  function liftX(x: bigint): Point | undefined {
    if (x >= p) return undefined;
    const c = P.Fp.add(P.Fp.mul(P.Fp.sqr(x), x), 7n);
    let y: bigint;
    try {
      y = P.Fp.sqrt(c);
    } catch {
      return undefined;
    }
    if (P.Fp.sqr(y) !== c) return undefined;
    return P.fromAffine({ x, y: (y & 1n) === 0n ? y : p - y });
  }

  const challenge = (r: Uint8Array, px: Uint8Array, m: Uint8Array): bigint =>
    int(taggedHash('BIP0340/challenge', r, px, m)) % n;

  function verify(signature: Uint8Array, message: Uint8Array, xOnly: Uint8Array): boolean {
    if (signature.length !== 64 || xOnly.length !== 32) return false;
    const pub = liftX(int(xOnly));
    if (pub === undefined) return false;
    const r = int(signature.subarray(0, 32));
    const s = int(signature.subarray(32, 64));
    // s = 0 is refused as noble's verifier (the previous backend) refuses it.
    if (r >= p || s === 0n || s >= n) return false;
    const e = challenge(signature.subarray(0, 32), xOnly, message);
    const R = P.BASE.mulAddUnsafe(s, pub, (n - e) % n);
    return !R.is0() && hasEvenY(R) && R.toAffine().x === r;
  }

  function sign(message: Uint8Array, priv: Uint8Array, aux: Uint8Array): Uint8Array {
    const d0 = int(priv);
    if (priv.length !== 32 || d0 === 0n || d0 >= n) throw new RangeError('invalid private key');
    const pub = P.BASE.multiply(d0);
    const d = hasEvenY(pub) ? d0 : n - d0;
    const px = xBytes(pub);
    const t = bytes32(d ^ int(taggedHash('BIP0340/aux', aux)));
    const k0 = int(taggedHash('BIP0340/nonce', t, px, message)) % n;
    if (k0 === 0n) throw new Error('BIP 340 nonce is zero');
    const R = P.BASE.multiply(k0);
    const k = hasEvenY(R) ? k0 : n - k0;
    const rx = xBytes(R);
    const e = challenge(rx, px, message);
    const signature = concat(rx, bytes32((k + e * d) % n));
    if (!verify(signature, message, px)) throw new Error('BIP 340 signature does not verify');
    return signature;
  }

  return { sign, verify };
}
