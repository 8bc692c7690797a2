/**
 * HKDF-SHA256 as ccan/crypto/hkdf_sha256 (RFC 5869), the KDF behind every CLN hsmd secret,
 * on the hash port's HMAC (signer/crypto/hashes.ts: node:crypto's on Node, noble's on the device).
 *
 * ccan passes NULL/0 for "no salt"; HMAC pads an empty key with zeros, so that equals the
 * RFC's default salt of 32 zero bytes (docs/hsmd-protocol.md#key-derivation).
 */
import { utf8 } from '../bytes.js';
import { hmacSha256 } from '../crypto/hashes.js';

const HASH_LEN = 32;

/**
 * HKDF-SHA256(salt, ikm, info) → `length` bytes (ccan asserts length < 255·32).
 * `info` given as a string is its UTF-8 bytes without a terminator, as CLN's strlen() calls.
 */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array | undefined,
  info: Uint8Array | string,
  length = 32,
): Uint8Array {
  if (length <= 0 || length >= 255 * HASH_LEN) throw new RangeError('HKDF length out of range');
  const infoBytes = typeof info === 'string' ? utf8(info) : info;
  // RFC 5869 §2.2 extract, §2.3 expand: T(i) = HMAC(PRK, T(i-1) ‖ info ‖ i).
  const prk = hmacSha256(salt ?? new Uint8Array(0), ikm);
  const okm = new Uint8Array(length);
  const block = new Uint8Array(HASH_LEN + infoBytes.length + 1);
  let previous = 0; // bytes of T(i-1) at the start of `block`
  for (let i = 1, done = 0; done < length; i++) {
    block.set(infoBytes, previous);
    block[previous + infoBytes.length] = i;
    const t = hmacSha256(prk, block.subarray(0, previous + infoBytes.length + 1));
    okm.set(t.subarray(0, Math.min(HASH_LEN, length - done)), done);
    done += HASH_LEN;
    block.set(t, 0);
    previous = HASH_LEN;
  }
  return okm;
}
