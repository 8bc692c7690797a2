/**
 * `Curve` on @noble/curves (pure JS: runs on Node and under XS on the device).
 *
 * Byte-compatibility with libsecp256k1, checked against vectors in noble.test.ts:
 * - ECDSA nonces: noble's HMAC-DRBG seed is int2octets(d) ‖ bits2octets(h) ‖ extraEntropy,
 *   exactly libsecp256k1's nonce_function_rfc6979 key32 ‖ msg32 ‖ data32 (the message is
 *   reduced mod n in both). Passing no extra entropy equals libsecp256k1's `ndata = NULL`;
 *   32 zero bytes is a *different* nonce (bitcoin/signature.c relies on that).
 * - Low-S and the recovery id (bit 0 = R.y odd, bit 1 = R.x ≥ n, flipped with S) agree with
 *   secp256k1_ecdsa_sign / secp256k1_ecdsa_sign_recoverable.
 * - BIP 340 signing with explicit aux bytes equals secp256k1_schnorrsig_sign32 with that aux
 *   (CLN's NULL aux is the 32-zero-byte aux).
 *
 * Speed: G multiplications use noble's precomputed W=6 table of `Point.BASE`; secret scalars
 * go through the constant-time `multiply`, public ones through `multiplyUnsafe`.
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { Curve } from './curve.js';

const Point = secp256k1.Point;
type Pt = InstanceType<typeof Point>;
const N = Point.Fn.ORDER;

/** Big-endian 32 bytes → bigint (no range check). */
function toScalar(b: Uint8Array): bigint {
  if (b.length !== 32) throw new RangeError('expected a 32-byte scalar, got ' + b.length);
  return bytesToNumberBE(b);
}

const fromScalar = (n: bigint): Uint8Array => numberToBytesBE(n, 32);

/** A private key as a scalar in [1, n-1] (libsecp256k1 secp256k1_ec_seckey_verify). */
function secretScalar(priv: Uint8Array): bigint {
  const d = toScalar(priv);
  if (d === 0n || d >= N) throw new RangeError('invalid private key');
  return d;
}

/** A tweak in [0, n-1] (libsecp256k1 rejects tweaks ≥ n, accepts 0). */
function tweakScalar(tweak: Uint8Array): bigint {
  const t = toScalar(tweak);
  if (t >= N) throw new RangeError('tweak out of range');
  return t;
}

function compressed(p: Pt): Uint8Array {
  if (p.is0()) throw new RangeError('result is the point at infinity');
  return p.toBytes(true);
}

const parsePoint = (p: Uint8Array): Pt => Point.fromBytes(p);

/** secp256k1_ecdsa_sign/verify take exactly 32 bytes; noble would truncate or pad others. */
function checkHash(hash: Uint8Array): void {
  if (hash.length !== 32) throw new RangeError('ECDSA hash must be 32 bytes, got ' + hash.length);
}

export const nobleCurve: Curve = {
  publicKey(priv) {
    return compressed(Point.BASE.multiply(secretScalar(priv)));
  },

  isPrivateKey(priv) {
    if (priv.length !== 32) return false;
    const d = toScalar(priv);
    return d !== 0n && d < N;
  },

  // secp256k1_ec_seckey_tweak_add: a valid, b < n, result ≠ 0.
  privateAdd(a, b) {
    const r = (secretScalar(a) + tweakScalar(b)) % N;
    if (r === 0n) throw new RangeError('private key sum is zero');
    return fromScalar(r);
  },

  // secp256k1_ec_seckey_tweak_mul: both in [1, n-1].
  privateMul(a, b) {
    return fromScalar((secretScalar(a) * secretScalar(b)) % N);
  },

  // secp256k1_ec_pubkey_combine of two keys.
  pointAdd(p, q) {
    return compressed(parsePoint(p).add(parsePoint(q)));
  },

  // secp256k1_ec_pubkey_tweak_mul: scalar in [1, n-1]. Constant time (it may be a secret).
  pointMul(p, scalar) {
    return compressed(parsePoint(p).multiply(secretScalar(scalar)));
  },

  // secp256k1_ec_pubkey_tweak_add: tweak in [0, n-1]; tweaks here are public hashes.
  pointAddTweak(p, tweak) {
    const t = tweakScalar(tweak);
    const P = parsePoint(p);
    return compressed(t === 0n ? P : P.add(Point.BASE.multiplyUnsafe(t)));
  },

  sign(hash, priv, extraEntropy) {
    checkHash(hash);
    if (extraEntropy !== undefined && extraEntropy.length !== 32)
      throw new RangeError('extra entropy must be 32 bytes');
    return secp256k1.sign(hash, priv, {
      prehash: false,
      lowS: true,
      format: 'compact',
      ...(extraEntropy === undefined ? {} : { extraEntropy }),
    });
  },

  signRecoverable(hash, priv) {
    checkHash(hash);
    const rec = secp256k1.sign(hash, priv, { prehash: false, lowS: true, format: 'recovered' });
    // noble's 'recovered' layout is recovery ‖ r ‖ s.
    return { signature: rec.slice(1), recovery: rec[0]! };
  },

  verify(signature, hash, pub) {
    try {
      checkHash(hash);
      return secp256k1.verify(signature, hash, pub, { prehash: false, lowS: true, format: 'compact' });
    } catch {
      return false;
    }
  },

  signSchnorr(message, priv, aux) {
    if (message.length !== 32) throw new RangeError('BIP 340 message must be 32 bytes');
    if (aux.length !== 32) throw new RangeError('BIP 340 aux must be 32 bytes');
    return schnorr.sign(message, priv, aux);
  },

  verifySchnorr(signature, message, xOnly) {
    try {
      return schnorr.verify(signature, message, xOnly);
    } catch {
      return false;
    }
  },

  // secp256k1_ecdh with the default hash function: SHA256(0x02|0x03 ‖ x).
  ecdh(priv, point) {
    return sha256(compressed(parsePoint(point).multiply(secretScalar(priv))));
  },
};
