/**
 * The fast `Curve` for Node: libsecp256k1 through the `secp256k1` v5 N-API addon (its
 * linux/darwin/win32 prebuilds ship inside the npm tarball, so no compiler and no GitHub
 * download), with BIP 340 from tiny-secp256k1's WASM build (the addon has no Schnorr).
 * Node only (N-API, node:module), hence in node/ and not signer/.
 *
 * The addon bundles an older libsecp256k1 than CLN's (still ec_privkey_tweak_*). Where it differs
 * from CLN's (and from nobleCurve, which curve-native.test.ts holds it to byte for byte),
 * the difference is closed here in JS:
 * - RFC 6979 nonces: current libsecp256k1 seeds the DRBG with msg32 reduced mod n
 *   (nonce_function_rfc6979 msgmod32); the bundled one with msg32 as given. A hash ≥ n is
 *   therefore reduced before the call; the signature itself is unchanged by that (ECDSA
 *   reduces the message to a scalar anyway).
 * - secp256k1_ec_privkey_tweak_add/_mul there do not check the secret key (≥ n is silently
 *   reduced, 0 accepted): keys are checked first.
 * - secp256k1_ec_pubkey_tweak_mul is variable time; `pointMul` promises constant time, so it
 *   goes through secp256k1_ecdh (ecmult_const) with a hash function that returns the point.
 * - secp256k1_ec_pubkey_parse takes hybrid (06/07) keys; nobleCurve does not, nor do we.
 *
 * `index.js` of the package silently falls back to elliptic (pure JS) when the addon does not
 * load; we require `secp256k1/bindings` so that a missing addon is a failure, not a slow path.
 */
import { createRequire } from 'node:module';
import type { Curve } from '../signer/crypto/curve.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import { belowN, checkPoint, fromScalar, isCompressedEncoding, isSecretKey, N, toScalar } from '../signer/crypto/secp256k1/scalars.js';
import { loadWasmCurve } from './curve-wasm.js';
import { useNativeHashes } from './hashes-native.js';

/** The part of secp256k1 v5's API used here (API.md); every failure throws. */
interface Secp256k1Addon {
  publicKeyCreate(seckey: Uint8Array, compressed?: boolean): Uint8Array;
  privateKeyTweakAdd(seckey: Uint8Array, tweak: Uint8Array): Uint8Array;
  privateKeyTweakMul(seckey: Uint8Array, tweak: Uint8Array): Uint8Array;
  publicKeyCombine(pubkeys: Uint8Array[], compressed?: boolean): Uint8Array;
  publicKeyTweakAdd(pubkey: Uint8Array, tweak: Uint8Array, compressed?: boolean): Uint8Array;
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array, options?: { data?: Uint8Array }): { signature: Uint8Array; recid: number };
  ecdsaVerify(signature: Uint8Array, msg32: Uint8Array, pubkey: Uint8Array): boolean;
  publicKeyConvert(pubkey: Uint8Array, compressed?: boolean): Uint8Array;
  ecdh(
    pubkey: Uint8Array,
    seckey: Uint8Array,
    options?: { hashfn?: (x: Uint8Array, y: Uint8Array) => Uint8Array; xbuf?: Uint8Array; ybuf?: Uint8Array },
    output?: Uint8Array,
  ): Uint8Array;
}

function checkSecret(priv: Uint8Array): void {
  if (!isSecretKey(priv)) throw new RangeError('invalid private key');
}

/** msg32 as current libsecp256k1's nonce function sees it: reduced mod n. */
const reducedMessage = (hash: Uint8Array): Uint8Array =>
  hash.length === 32 && !belowN(hash) ? fromScalar(toScalar(hash) - N) : hash;

/** How many checked points are kept uncompressed (a request has a few; one is used right after its check). */
const CHECKED_POINTS = 8;

/**
 * The points isCompressedPoint accepted last, kept uncompressed. The signer checks a request's
 * points before its handler uses them, and libsecp256k1 parses a compressed point with a square
 * root on every call (~8–10 µs of a ~90 µs ECDH here); handed the 65-byte form it only checks
 * the curve equation. A point not among them, or whose bytes changed since, is passed as it is.
 * Public data only: the lookup's timing tells nothing secret.
 */
class CheckedPoints {
  readonly #compressed: Uint8Array[] = [];
  readonly #uncompressed: Uint8Array[] = [];
  #next = 0;

  constructor(private readonly addon: Secp256k1Addon) {}

  /** secp256k1_ec_pubkey_parse of the 33 bytes `p` (prefix checked by the caller); remembers `p` if it is a point. */
  check(p: Uint8Array): boolean {
    let uncompressed: Uint8Array;
    try {
      uncompressed = this.addon.publicKeyConvert(p, false);
    } catch {
      return false;
    }
    this.#compressed[this.#next] = new Uint8Array(p); // a copy even of a Buffer, whose slice() is a view
    this.#uncompressed[this.#next] = uncompressed;
    this.#next = (this.#next + 1) % CHECKED_POINTS;
    return true;
  }

  /** What to hand libsecp256k1 for `p`: its uncompressed form if it was checked lately, else `p`. */
  parsed(p: Uint8Array): Uint8Array {
    if (p.length !== 33) return p;
    for (let i = 0; i < this.#compressed.length; i++) if (sameBytes(this.#compressed[i]!, p)) return this.#uncompressed[i]!;
    return p;
  }
}

/** Byte equality of two 33-byte points, stopping at the first difference (public data). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 33; i++) if (a[i] !== b[i]) return false;
  return true;
}

function nativeCurveOn(addon: Secp256k1Addon, bip340: Pick<Curve, 'signSchnorr' | 'verifySchnorr'>): Curve {
  const checked = new CheckedPoints(addon);
  const xbuf = new Uint8Array(32);
  const ybuf = new Uint8Array(32);
  // secp256k1_ecdh's hash function receives the affine point: return it compressed.
  const compressedPoint = (x: Uint8Array, y: Uint8Array): Uint8Array => {
    const out = new Uint8Array(33);
    out[0] = 2 | (y[31]! & 1);
    out.set(x, 1);
    return out;
  };

  return {
    publicKey: (priv) => addon.publicKeyCreate(priv, true),

    isPrivateKey: isSecretKey,

    // secp256k1_ec_seckey_tweak_add: a valid (checked here), b < n, sum ≠ 0. Works in place.
    privateAdd(a, b) {
      checkSecret(a);
      return addon.privateKeyTweakAdd(a.slice(), b);
    },

    // secp256k1_ec_seckey_tweak_mul: both in [1, n-1]. Works in place.
    privateMul(a, b) {
      checkSecret(a);
      checkSecret(b);
      return addon.privateKeyTweakMul(a.slice(), b);
    },

    // secp256k1_ec_pubkey_combine; throws on the point at infinity.
    pointAdd(p, q) {
      checkPoint(p);
      checkPoint(q);
      return addon.publicKeyCombine([checked.parsed(p), checked.parsed(q)], true);
    },

    // Constant time: secp256k1_ecdh (ecmult_const) rejects 0 and ≥ n as tweak_mul does.
    pointMul(p, scalar) {
      checkPoint(p);
      return addon.ecdh(checked.parsed(p), scalar, { hashfn: compressedPoint, xbuf, ybuf }, new Uint8Array(33));
    },

    // secp256k1_ec_pubkey_tweak_add: tweak in [0, n-1].
    pointAddTweak(p, tweak) {
      checkPoint(p);
      return addon.publicKeyTweakAdd(checked.parsed(p), tweak, true);
    },

    // secp256k1_ecdsa_sign with nonce_function_rfc6979 and ndata = extraEntropy (or NULL).
    sign(hash, priv, extraEntropy) {
      const options = extraEntropy === undefined ? {} : { data: extraEntropy };
      return addon.ecdsaSign(reducedMessage(hash), priv, options).signature;
    },

    signRecoverable(hash, priv) {
      const { signature, recid } = addon.ecdsaSign(reducedMessage(hash), priv);
      return { signature, recovery: recid };
    },

    verify(signature, hash, pub) {
      try {
        checkPoint(pub);
        return addon.ecdsaVerify(signature, hash, checked.parsed(pub)); // refuses high-S, as Curve.verify promises
      } catch {
        return false;
      }
    },

    signSchnorr: (message, priv, aux) => bip340.signSchnorr(message, priv, aux),
    verifySchnorr: (signature, message, xOnly) => bip340.verifySchnorr(signature, message, xOnly),

    // secp256k1_ecdh with its default hash: SHA256(compressed(priv * P)).
    ecdh(priv, point) {
      checkPoint(point);
      return addon.ecdh(checked.parsed(point), priv);
    },

    // secp256k1_ec_pubkey_parse (~6 µs): for 33 bytes it takes 02/03 ‖ x with x < p on the
    // curve, nothing else; the package's wrapper throws on lengths other than 33 and 65.
    isCompressedPoint: (p) => isCompressedEncoding(p) && checked.check(p),
  };
}

/** The addon, or undefined when it cannot be loaded here. */
function loadAddon(): Secp256k1Addon | undefined {
  try {
    return createRequire(import.meta.url)('secp256k1/bindings') as Secp256k1Addon;
  } catch {
    return undefined;
  }
}

/** The N-API backend, or undefined when the addon cannot be loaded here. */
export function loadNativeCurve(): Curve | undefined {
  const addon = loadAddon();
  return addon && nativeCurveOn(addon, loadWasmCurve() ?? nobleCurve);
}

let chosen: Curve | undefined;

/**
 * The fastest byte-identical `Curve` this process can load: the native backend, else
 * nobleCurve. The first call also installs node:crypto's hashes behind the signer's hash port
 * (node/hashes-native.ts), the same choice for the hashes: every Node process that signs
 * (broker, device on Node, audit) asks for its curve here. Logs nothing (the caller decides
 * what to say about it).
 */
export function fastCurve(): Curve {
  if (chosen === undefined) {
    useNativeHashes();
    chosen = loadNativeCurve() ?? nobleCurve;
  }
  return chosen;
}

