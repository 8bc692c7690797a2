/**
 * `Curve` in our own TypeScript, for the device: every module of it can be preloaded into the
 * ESP32's flash and still run (noble's curve cannot: it writes module-level WeakMaps at run
 * time, and compares BigInts that XS 8.2.3 keeps in flash with `===`; docs/device-memory.md
 * "BigInts in flash"). No precomputed table: a 4-bit window per multiplication, memory before
 * speed. Byte for byte libsecp256k1's, which curve.test.ts checks it against (with noble as
 * a second oracle and the published vectors).
 *
 * Blinding, from the platform's RNG port (random.ts): a secret scalar k multiplies as
 * k + b·n for a fresh 64-bit b (the same point, another sequence of operations), with the
 * starting point's Jacobian coordinates rescaled by a fresh λ; the ECDSA nonce is inverted as
 * (k·c)⁻¹·c for a fresh c. Outputs never depend on the RNG.
 */
import { sha256 } from '../hashes.js';
import { bip340 } from '../bip340.js';
import type { Curve } from '../curve.js';
import { checkedRandomBytes, type RandomBytes } from '../random.js';
import { invert, isCompressedPoint, mod, P, yOf } from './field.js';
import { add, affine, compress, fromAffine, generator, isInfinity, multiply, parsePoint, type Point } from './point.js';
import { rfc6979Nonces } from './rfc6979.js';
import { bytesToBigInt, checkHash, fromScalar, HALF_N, isSecretKey, N, secretScalar, toScalar, tweakScalar } from './scalars.js';

export interface Secp256k1Options {
  /** The platform's true RNG: blinding only (signatures stay deterministic). */
  readonly randomBytes: RandomBytes;
}

/** 256-bit scalars take 64 windows; blinded ones, k + b·n < 2³²¹, take 81. */
const SCALAR_BITS = 256;
const BLINDED_BITS = 324;

export function createSecp256k1Curve(options: Secp256k1Options): Curve {
  let checked: RandomBytes | undefined;
  /** 32 fresh bytes; the port is probed at first use, not when the curve is made. */
  const fresh = (): Uint8Array => (checked ??= checkedRandomBytes(options.randomBytes))(32);

  /** k·p for a secret k in [1, n−1]: blinded scalar, randomized projective coordinates. */
  function secretMultiply(p: Point, k: bigint): Point {
    const noise = fresh();
    const b = bytesToBigInt(noise.subarray(0, 8));
    const lambda = mod(bytesToBigInt(noise.subarray(8)), P - 1n) + 1n;
    const l2 = (lambda * lambda) % P;
    const start = { x: (p.x * l2) % P, y: (((p.y * l2) % P) * lambda) % P, z: (p.z * lambda) % P };
    return multiply(start, k + b * N, BLINDED_BITS);
  }

  /** k⁻¹ mod n for a secret k, as (k·c)⁻¹·c with a fresh c in [1, n−1]. */
  function secretInvert(k: bigint): bigint {
    const c = mod(bytesToBigInt(fresh()), N - 1n) + 1n;
    return (invert((k * c) % N, N) * c) % N;
  }

  const publicMultiply = (p: Point, k: bigint): Point => multiply(p, k, SCALAR_BITS);

  function signWithRecovery(hash: Uint8Array, priv: Uint8Array, extra?: Uint8Array): { signature: Uint8Array; recovery: number } {
    checkHash(hash);
    if (extra !== undefined && extra.length !== 32) throw new RangeError('extra entropy must be 32 bytes');
    const d = secretScalar(priv);
    const e = toScalar(hash) % N;
    const nonces = rfc6979Nonces(priv, fromScalar(e), extra);
    for (;;) {
      const k = toScalar(nonces());
      if (k < 1n || k >= N) continue;
      const R = affine(secretMultiply(generator(), k));
      const r = R.x % N;
      if (r === 0n) continue;
      let s = (secretInvert(k) * ((e + r * d) % N)) % N;
      if (s === 0n) continue;
      let recovery = Number(R.y & 1n) | (R.x >= N ? 2 : 0);
      if (s > HALF_N) {
        s = N - s;
        recovery ^= 1;
      }
      const signature = new Uint8Array(64);
      signature.set(fromScalar(r), 0);
      signature.set(fromScalar(s), 32);
      return { signature, recovery };
    }
  }

  const schnorr = bip340<Point>({
    n: N,
    mulG: (k) => secretMultiply(generator(), k),
    mulAddPublic(a, q, b) {
      const sum = add(publicMultiply(generator(), a), publicMultiply(q, b));
      return isInfinity(sum) ? undefined : sum;
    },
    affine,
    liftX(x) {
      const y = yOf(x, false);
      return y === undefined ? undefined : fromAffine(x, y);
    },
  });

  return {
    publicKey: (priv) => compress(secretMultiply(generator(), secretScalar(priv))),

    isPrivateKey: isSecretKey,

    privateAdd(a, b) {
      const r = (secretScalar(a) + tweakScalar(b)) % N;
      if (r === 0n) throw new RangeError('private key sum is zero');
      return fromScalar(r);
    },

    privateMul: (a, b) => fromScalar((secretScalar(a) * secretScalar(b)) % N),

    pointAdd: (p, q) => compress(add(parsePoint(p), parsePoint(q))),

    pointMul: (p, scalar) => compress(secretMultiply(parsePoint(p), secretScalar(scalar))),

    pointAddTweak(p, tweak) {
      const t = tweakScalar(tweak);
      const point = parsePoint(p);
      return compress(t === 0n ? point : add(point, publicMultiply(generator(), t)));
    },

    sign: (hash, priv, extraEntropy) => signWithRecovery(hash, priv, extraEntropy).signature,

    signRecoverable: (hash, priv) => signWithRecovery(hash, priv),

    verify(signature, hash, pub) {
      if (signature.length !== 64 || hash.length !== 32) return false;
      const r = toScalar(signature.subarray(0, 32));
      const s = toScalar(signature.subarray(32));
      if (r < 1n || r >= N || s < 1n || s > HALF_N) return false;
      let q: Point;
      try {
        q = parsePoint(pub);
      } catch {
        return false;
      }
      const w = invert(s, N);
      const e = toScalar(hash) % N;
      const sum = add(publicMultiply(generator(), (e * w) % N), publicMultiply(q, (r * w) % N));
      return !isInfinity(sum) && affine(sum).x % N === r;
    },

    signSchnorr(message, priv, aux) {
      if (message.length !== 32) throw new RangeError('BIP 340 message must be 32 bytes');
      if (aux.length !== 32) throw new RangeError('BIP 340 aux must be 32 bytes');
      return schnorr.sign(message, priv, aux);
    },

    verifySchnorr: (signature, message, xOnly) => schnorr.verify(signature, message, xOnly),

    // secp256k1_ecdh with the default hash function: SHA256(0x02|0x03 ‖ x).
    ecdh: (priv, point) => sha256(compress(secretMultiply(parsePoint(point), secretScalar(priv)))),

    isCompressedPoint,
  };
}
