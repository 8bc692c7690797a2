/**
 * node:crypto's hashes (OpenSSL) for the signer's hash port (signer/crypto/hashes.ts): the
 * same bytes as noble's, without interpreting pure-JS compression functions while the JIT is
 * cold, and several times faster on the long inputs (transactions, PSBTs) a session hashes.
 * Outputs are plain Uint8Arrays (not Buffers, whose slice() is a view) of their own memory.
 */
import { createHmac, hash } from 'node:crypto';
import { equal } from '../signer/bytes.js';
import { type Hashes, hashesInUse, nobleHashes, useHashes } from '../signer/crypto/hashes.js';

const own = (b: Buffer): Uint8Array => new Uint8Array(b);
const digest = (algorithm: string, data: Uint8Array): Uint8Array => own(hash(algorithm, data, 'buffer') as unknown as Buffer);

export const nativeHashes: Hashes = Object.freeze({
  sha256: (data: Uint8Array) => digest('sha256', data),
  sha512: (data: Uint8Array) => digest('sha512', data),
  ripemd160: (data: Uint8Array) => digest('ripemd160', data),
  hmacSha256: (key: Uint8Array, data: Uint8Array) => own(createHmac('sha256', key).update(data).digest()),
  hmacSha512: (key: Uint8Array, data: Uint8Array) => own(createHmac('sha512', key).update(data).digest()),
});

/**
 * Installs nativeHashes if they give noble's bytes here (an OpenSSL without RIPEMD-160, say,
 * keeps noble's); returns the implementation in use.
 */
export function useNativeHashes(): Hashes {
  if (hashesInUse() !== nativeHashes && agreesWithNoble()) useHashes(nativeHashes);
  return hashesInUse();
}

function agreesWithNoble(): boolean {
  const key = Uint8Array.from({ length: 40 }, (_, i) => i);
  const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
  try {
    return (['sha256', 'sha512', 'ripemd160'] as const).every((h) => equal(nativeHashes[h](data), nobleHashes[h](data))) &&
      (['hmacSha256', 'hmacSha512'] as const).every((h) => equal(nativeHashes[h](key, data), nobleHashes[h](key, data)));
  } catch {
    return false;
  }
}
