/**
 * `Curve` on @noble/curves (pure JS): Node's when libsecp256k1's addon is missing, and a second
 * oracle in the tests of our own curve (signer/crypto/secp256k1/curve.ts), the device's: noble's
 * cannot run preloaded in flash (docs/device-memory.md "BigInts in flash").
 *
 * Byte-compatibility with libsecp256k1, checked against vectors in noble.test.ts:
 * - ECDSA nonces: noble's HMAC-DRBG seed is int2octets(d) ‖ bits2octets(h) ‖ extraEntropy,
 *   exactly libsecp256k1's nonce_function_rfc6979 key32 ‖ msg32 ‖ data32 (the message is
 *   reduced mod n in both). Passing no extra entropy equals libsecp256k1's `ndata = NULL`;
 *   32 zero bytes is a *different* nonce (bitcoin/signature.c relies on that).
 * - Low-S and the recovery id (bit 0 = R.y odd, bit 1 = R.x ≥ n, flipped with S) agree with
 *   secp256k1_ecdsa_sign / secp256k1_ecdsa_sign_recoverable.
 * - BIP 340 signing with explicit aux bytes equals secp256k1_schnorrsig_sign32 with that aux
 *   (CLN's NULL aux is the 32-zero-byte aux); see bip340.ts.
 *
 * The curve is built here, not taken from `@noble/curves/secp256k1.js`: that module builds its
 * instance at load and probes `crypto` for the blinding RNG then, before a device has
 * installed anything (docs/device-memory.md). `createNobleCurve` takes the platform's RNG and
 * the precompute window, and builds on first use.
 *
 * Speed and memory: G multiplications use a precomputed wNAF table of `Point.BASE` with
 * window W (noble's default 6: ~3,500 points with the blinded and the public table; 1: no
 * table, a small fixed window per multiplication). Secret scalars go through the
 * constant-time, blinded `multiply`; public ones through `multiplyUnsafe`.
 */
import { Field } from '@noble/curves/abstract/modular.js';
import { ecdsa, weierstrass, type WeierstrassPoint, type WeierstrassPointCons } from '@noble/curves/abstract/weierstrass.js';
import { hmacSha256, sha256 } from './hashes.js';
import { bip340 } from './bip340.js';
import type { Curve } from './curve.js';
import { checkedRandomBytes, webCryptoRandomBytes, type RandomBytes } from './random.js';
import { isCompressedPoint, P, yOf } from './secp256k1/field.js';
import { checkHash, fromScalar, isSecretKey, N, secretScalar, tweakScalar } from './secp256k1/scalars.js';

// SEC 2 §2.4.1 secp256k1, and its GLV endomorphism (β, and the lattice basis noble uses).
const SECP256K1 = {
  p: P,
  n: N,
  h: 1n,
  a: 0n,
  b: 7n,
  Gx: 0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798n,
  Gy: 0x483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8n,
};
const ENDOMORPHISM = {
  beta: 0x7ae96a2b657c07106e64479eac3434e99cf0497512f58995c1396c28719501een,
  basises: [
    [0x3086d221a7d46bcde86c90e49284eb15n, -0xe4437ed6010e88286f547fa90abfe4c3n],
    [0x114ca50f7a8e2f3f657c1108d9d44cfd8n, 0x3086d221a7d46bcde86c90e49284eb15n],
  ] as [[bigint, bigint], [bigint, bigint]],
};

/**
 * SHA-256 as noble's ecdsa wants it (a hasher's shape), through the hashes port: signing and
 * verifying take 32-byte hashes (prehash false), and the nonce's HMAC is given as `hmac`.
 */
const SHA256_FOR_NOBLE = Object.assign((data: Uint8Array) => sha256(data), {
  outputLen: 32,
  blockLen: 64,
  create: (): never => {
    throw new Error('incremental SHA-256 is not used');
  },
});

export interface NobleCurveOptions {
  /** The platform's true RNG: blinding only (signatures stay deterministic). */
  readonly randomBytes: RandomBytes;
  /** wNAF window of the generator's precomputed table; 1 = no table (least memory). Default 6. */
  readonly windowSize?: number;
}

function build(options: NobleCurveOptions) {
  const port = checkedRandomBytes(options.randomBytes);
  const randomBytes = (length = 32) => port(length) as Uint8Array<ArrayBuffer>;
  const Point: WeierstrassPointCons<bigint> = weierstrass(SECP256K1, { Fp: Field(P), endo: ENDOMORPHISM, randomBytes });
  Point.BASE.precompute(options.windowSize ?? 6);
  const hmac = (key: Uint8Array, message: Uint8Array) => hmacSha256(key, message) as Uint8Array<ArrayBuffer>;
  return { Point, ecdsa: ecdsa(Point, SHA256_FOR_NOBLE as unknown as Parameters<typeof ecdsa>[1], { randomBytes, hmac }), schnorr: bip340<WeierstrassPoint<bigint>>({
    n: N,
    mulG: (k) => Point.BASE.multiply(k),
    mulAddPublic(a, q, b) {
      const sum = Point.BASE.mulAddUnsafe(a, q, b);
      return sum.is0() ? undefined : sum;
    },
    affine: (point) => point.toAffine(),
    liftX(x) {
      const y = yOf(x, false);
      return y === undefined ? undefined : Point.fromAffine({ x, y });
    },
  }) };
}

/** The curve on the platform's RNG port; nothing is built (or probed) until the first call. */
export function createNobleCurve(options: NobleCurveOptions): Curve {
  let built: ReturnType<typeof build> | undefined;
  const lib = () => (built ??= build(options));
  const parsePoint = (p: Uint8Array) => lib().Point.fromBytes(p);
  const compressed = (p: ReturnType<typeof parsePoint>): Uint8Array => {
    if (p.is0()) throw new RangeError('result is the point at infinity');
    return p.toBytes(true);
  };
  return {
    publicKey(priv) {
      return compressed(lib().Point.BASE.multiply(secretScalar(priv)));
    },

    isPrivateKey: isSecretKey,

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
      const point = parsePoint(p);
      return compressed(t === 0n ? point : point.add(lib().Point.BASE.multiplyUnsafe(t)));
    },

    sign(hash, priv, extraEntropy) {
      checkHash(hash);
      if (extraEntropy !== undefined && extraEntropy.length !== 32)
        throw new RangeError('extra entropy must be 32 bytes');
      return lib().ecdsa.sign(hash, priv, {
        prehash: false,
        lowS: true,
        format: 'compact',
        ...(extraEntropy === undefined ? {} : { extraEntropy }),
      });
    },

    signRecoverable(hash, priv) {
      checkHash(hash);
      const rec = lib().ecdsa.sign(hash, priv, { prehash: false, lowS: true, format: 'recovered' });
      // noble's 'recovered' layout is recovery ‖ r ‖ s.
      return { signature: rec.slice(1), recovery: rec[0]! };
    },

    verify(signature, hash, pub) {
      try {
        checkHash(hash);
        return lib().ecdsa.verify(signature, hash, pub, { prehash: false, lowS: true, format: 'compact' });
      } catch {
        return false;
      }
    },

    signSchnorr(message, priv, aux) {
      if (message.length !== 32) throw new RangeError('BIP 340 message must be 32 bytes');
      if (aux.length !== 32) throw new RangeError('BIP 340 aux must be 32 bytes');
      return lib().schnorr.sign(message, priv, aux);
    },

    verifySchnorr(signature, message, xOnly) {
      try {
        return lib().schnorr.verify(signature, message, xOnly);
      } catch {
        return false;
      }
    },

    // secp256k1_ecdh with the default hash function: SHA256(0x02|0x03 ‖ x).
    ecdh(priv, point) {
      return sha256(compressed(parsePoint(point).multiply(secretScalar(priv))));
    },

    isCompressedPoint,
  };
}

/**
 * The curve for hosts with Web Crypto (Node: `crypto`), default window. The device builds its
 * own with its hardware RNG and no table (firmware/moddable/main.ts).
 */
export const nobleCurve: Curve = createNobleCurve({ randomBytes: webCryptoRandomBytes });
