/**
 * secp256k1 scalars (numbers mod the group order n) as the `Curve` takes them: 32 bytes
 * big-endian, checked as libsecp256k1 checks them. Shared by every backend: our own curve
 * (./curve.ts), noble's (../noble.ts) and the libsecp256k1 ones on Node, where the libraries'
 * own checks differ from what `Curve` promises (node/curve-native.ts, node/curve-wasm.ts).
 *
 * Preload-safe (docs/device-memory.md "BigInts in flash"): constants are compared by order,
 * never by `===`.
 */

/** SEC 2 §2.4.1: secp256k1's group order n. */
export const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** ⌊n/2⌋: an ECDSA s above it is high (BIP 62 low-S). */
export const HALF_N = N >> 1n;

const N_BYTES = fromScalar(N);

/** bigint → 32 bytes big-endian. */
export function fromScalar(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--, value >>= 8n) out[i] = Number(value & 0xffn);
  return out;
}

/** Big-endian bytes → bigint (no length check). */
export function bytesToBigInt(b: Uint8Array): bigint {
  let value = 0n;
  for (const byte of b) value = (value << 8n) | BigInt(byte);
  return value;
}

/** 32 bytes big-endian → bigint. */
export function toScalar(b: Uint8Array): bigint {
  if (b.length !== 32) throw new RangeError('expected a 32-byte scalar, got ' + b.length);
  return bytesToBigInt(b);
}

/** True if the 32 bytes, read big-endian, are < n (byte compare: no bigint on the hot path). */
export function belowN(b: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) {
    if (b[i]! !== N_BYTES[i]!) return b[i]! < N_BYTES[i]!;
  }
  return false;
}

/** secp256k1_ec_seckey_verify: 32 bytes in [1, n-1]. */
export function isSecretKey(b: Uint8Array): boolean {
  return b.length === 32 && belowN(b) && b.some((byte) => byte !== 0);
}

/** A private key as a scalar in [1, n-1]; throws otherwise. */
export function secretScalar(priv: Uint8Array): bigint {
  if (!isSecretKey(priv)) throw new RangeError('invalid private key');
  return toScalar(priv);
}

/** A tweak in [0, n-1] (libsecp256k1 refuses tweaks ≥ n and takes 0). */
export function tweakScalar(tweak: Uint8Array): bigint {
  const t = toScalar(tweak);
  if (t >= N) throw new RangeError('tweak out of range');
  return t;
}

/** secp256k1_ecdsa_sign/verify take exactly 32 bytes (noble would truncate or pad others). */
export function checkHash(hash: Uint8Array): void {
  if (hash.length !== 32) throw new RangeError('ECDSA hash must be 32 bytes, got ' + hash.length);
}

/** 33 bytes starting 02 or 03: what secp256k1_ec_pubkey_parse may take as a compressed key. */
export const isCompressedEncoding = (p: Uint8Array): boolean => p.length === 33 && (p[0] === 2 || p[0] === 3);

/**
 * The encodings every `Curve` parses: 33-byte compressed (02/03) or 65-byte uncompressed (04).
 * libsecp256k1's secp256k1_ec_pubkey_parse also takes hybrid 06/07 keys; we don't.
 */
export function checkPoint(p: Uint8Array): void {
  const ok = isCompressedEncoding(p) || (p.length === 65 && p[0] === 4);
  if (!ok) throw new RangeError('invalid point encoding');
}
