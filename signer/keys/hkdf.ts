/**
 * HKDF-SHA256 as ccan/crypto/hkdf_sha256 (RFC 5869), the KDF behind every CLN hsmd secret.
 *
 * ccan passes NULL/0 for "no salt"; HMAC pads an empty key with zeros, so that equals the
 * RFC's default salt of 32 zero bytes (docs/hsmd-protocol.md#key-derivation).
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from '../bytes.js';

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
  if (length <= 0 || length >= 255 * 32) throw new RangeError('HKDF length out of range');
  return hkdf(sha256, ikm, salt ?? new Uint8Array(0), typeof info === 'string' ? utf8(info) : info, length);
}
