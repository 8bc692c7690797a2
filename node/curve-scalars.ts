/**
 * Scalar and encoding checks shared by the libsecp256k1 backends (curve-native.ts,
 * curve-wasm.ts): the places where the libraries' own checks differ from what `Curve`
 * promises (and nobleCurve does), done in JS before the call.
 */

/** secp256k1's group order n. */
export const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

const N_BYTES = fromScalar(N);

/** bigint → 32 bytes big-endian. */
export function fromScalar(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--, value >>= 8n) out[i] = Number(value & 0xffn);
  return out;
}

/** 32 bytes big-endian → bigint. */
export function toScalar(b: Uint8Array): bigint {
  if (b.length !== 32) throw new RangeError('expected a 32-byte scalar, got ' + b.length);
  let value = 0n;
  for (const byte of b) value = (value << 8n) | BigInt(byte);
  return value;
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

/** 33 bytes starting 02 or 03: what secp256k1_ec_pubkey_parse may take as a compressed key. */
export const isCompressedEncoding = (p: Uint8Array): boolean => p.length === 33 && (p[0] === 2 || p[0] === 3);

/**
 * The encodings nobleCurve parses: 33-byte compressed (02/03) or 65-byte uncompressed (04).
 * libsecp256k1's secp256k1_ec_pubkey_parse also takes hybrid 06/07 keys; we don't.
 */
export function checkPoint(p: Uint8Array): void {
  const ok = isCompressedEncoding(p) || (p.length === 65 && p[0] === 4);
  if (!ok) throw new RangeError('invalid point encoding');
}
