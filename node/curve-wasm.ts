/**
 * `Curve` on tiny-secp256k1 v2: libsecp256k1 compiled to WASM (Node only: it reads the
 * .wasm file with node:fs). The fast backend (curve-native.ts) takes its BIP 340 functions
 * from here, since the N-API package has no Schnorr; the bench also measures it whole.
 *
 * tiny-secp256k1 answers most failures with `null` instead of throwing, and takes no
 * ECDH or scalar product, so this module adds those on top, checked against nobleCurve in
 * curve-native.test.ts.
 */
import { createRequire } from 'node:module';
import { sha256 } from '@noble/hashes/sha2.js';
import type { Curve } from '../signer/crypto/curve.js';
import { checkPoint, fromScalar, isCompressedEncoding, N, secretScalar } from '../signer/crypto/secp256k1/scalars.js';

/** The part of tiny-secp256k1 v2's API used here (lib/index.d.ts). */
interface TinySecp256k1 {
  isPrivate(d: Uint8Array): boolean;
  isPointCompressed(p: Uint8Array): boolean;
  pointFromScalar(d: Uint8Array, compressed?: boolean): Uint8Array | null;
  privateAdd(d: Uint8Array, tweak: Uint8Array): Uint8Array | null;
  pointAdd(a: Uint8Array, b: Uint8Array, compressed?: boolean): Uint8Array | null;
  pointAddScalar(p: Uint8Array, tweak: Uint8Array, compressed?: boolean): Uint8Array | null;
  pointMultiply(p: Uint8Array, tweak: Uint8Array, compressed?: boolean): Uint8Array | null;
  pointCompress(p: Uint8Array, compressed?: boolean): Uint8Array;
  sign(h: Uint8Array, d: Uint8Array, e?: Uint8Array): Uint8Array;
  signRecoverable(h: Uint8Array, d: Uint8Array, e?: Uint8Array): { signature: Uint8Array; recoveryId: number };
  verify(h: Uint8Array, q: Uint8Array, signature: Uint8Array, strict?: boolean): boolean;
  signSchnorr(h: Uint8Array, d: Uint8Array, e?: Uint8Array): Uint8Array;
  verifySchnorr(h: Uint8Array, q: Uint8Array, signature: Uint8Array): boolean;
}

/** A libsecp256k1 failure that tiny-secp256k1 reports as null. */
function orThrow<T>(value: T | null, what: string): T {
  if (value === null) throw new RangeError(what);
  return value;
}

function wasmCurveOn(tiny: TinySecp256k1): Curve {
  return {
    publicKey: (priv) => orThrow(tiny.pointFromScalar(priv, true), 'invalid private key'),

    isPrivateKey: (priv) => priv.length === 32 && tiny.isPrivate(priv),

    // secp256k1_ec_seckey_tweak_add (tiny checks a and b < n; null when the sum is zero).
    privateAdd: (a, b) => orThrow(tiny.privateAdd(a, b), 'private key sum is zero'),

    // secp256k1_ec_seckey_tweak_mul is not exported by tiny-secp256k1: bigint mod n.
    privateMul: (a, b) => fromScalar((secretScalar(a) * secretScalar(b)) % N),

    // secp256k1_ec_pubkey_combine; null is the point at infinity.
    pointAdd(p, q) {
      checkPoint(p);
      checkPoint(q);
      return orThrow(tiny.pointAdd(p, q, true), 'result is the point at infinity');
    },

    // secp256k1_ec_pubkey_tweak_mul: tiny checks scalar < n, libsecp256k1 rejects zero.
    pointMul(p, scalar) {
      checkPoint(p);
      return orThrow(tiny.pointMultiply(p, scalar, true), 'invalid scalar');
    },

    // secp256k1_ec_pubkey_tweak_add: tweak in [0, n-1].
    pointAddTweak(p, tweak) {
      checkPoint(p);
      return orThrow(tiny.pointAddScalar(p, tweak, true), 'result is the point at infinity');
    },

    // tiny's `e` is libsecp256k1's ndata (absent = NULL).
    sign: (hash, priv, extraEntropy) => tiny.sign(hash, priv, extraEntropy),

    signRecoverable(hash, priv) {
      const { signature, recoveryId } = tiny.signRecoverable(hash, priv);
      return { signature, recovery: recoveryId };
    },

    // strict = true: high-S is refused, as in nobleCurve (Curve.verify).
    verify(signature, hash, pub) {
      try {
        return tiny.verify(hash, pub, signature, true);
      } catch {
        return false;
      }
    },

    signSchnorr: (message, priv, aux) => {
      if (aux.length !== 32) throw new RangeError('BIP 340 aux must be 32 bytes');
      return tiny.signSchnorr(message, priv, aux);
    },

    verifySchnorr(signature, message, xOnly) {
      try {
        return tiny.verifySchnorr(message, xOnly, signature);
      } catch {
        return false;
      }
    },

    // secp256k1_ecdh default hash: SHA256(compressed(priv * P)); priv is checked as a key.
    ecdh(priv, point) {
      checkPoint(point);
      secretScalar(priv);
      return sha256(orThrow(tiny.pointMultiply(point, priv, true), 'invalid scalar'));
    },

    // secp256k1_ec_pubkey_parse of the 33 bytes (tiny checks the length only, libsecp256k1 the prefix too).
    isCompressedPoint: (p) => isCompressedEncoding(p) && tiny.isPointCompressed(p),
  };
}

/** The WASM backend, or undefined when tiny-secp256k1 cannot be loaded here. */
export function loadWasmCurve(): Curve | undefined {
  try {
    const tiny = createRequire(import.meta.url)('tiny-secp256k1') as TinySecp256k1;
    return wasmCurveOn(tiny);
  } catch {
    return undefined;
  }
}
