/**
 * The hash functions the signer uses (SHA-256, SHA-512, RIPEMD-160, HMAC), behind one small
 * port, as the curve is behind `Curve`.
 *
 * `nobleHashes` (pure JS, runs under XS on the device) is the default everywhere. A host may
 * install a faster implementation once, before signing (Node: node:crypto's, through
 * node/hashes-native.ts), as long as every output is byte-identical; the device never does.
 * The hashes are called from pure functions deep inside the signer (sighash, scripts,
 * shachain, BIP 32), which hold no port of their own, hence one process-wide choice rather
 * than a parameter threaded through them all.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { ripemd160 as nobleRipemd160 } from '@noble/hashes/legacy.js';
import { sha256 as nobleSha256, sha512 as nobleSha512 } from '@noble/hashes/sha2.js';

export interface Hashes {
  sha256(data: Uint8Array): Uint8Array;
  sha512(data: Uint8Array): Uint8Array;
  ripemd160(data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  hmacSha512(key: Uint8Array, data: Uint8Array): Uint8Array;
}

export const nobleHashes: Hashes = Object.freeze({
  sha256: (data: Uint8Array) => nobleSha256(data),
  sha512: (data: Uint8Array) => nobleSha512(data),
  ripemd160: (data: Uint8Array) => nobleRipemd160(data),
  hmacSha256: (key: Uint8Array, data: Uint8Array) => hmac(nobleSha256, key, data),
  hmacSha512: (key: Uint8Array, data: Uint8Array) => hmac(nobleSha512, key, data),
});

let active: Hashes = nobleHashes;

/** Installs `hashes` for every later call (a host's start-up, before signing). */
export function useHashes(hashes: Hashes): void {
  active = hashes;
}

/** The implementation in use. */
export const hashesInUse = (): Hashes => active;

export const sha256 = (data: Uint8Array): Uint8Array => active.sha256(data);
export const sha512 = (data: Uint8Array): Uint8Array => active.sha512(data);
export const ripemd160 = (data: Uint8Array): Uint8Array => active.ripemd160(data);
export const hmacSha256 = (key: Uint8Array, data: Uint8Array): Uint8Array => active.hmacSha256(key, data);
export const hmacSha512 = (key: Uint8Array, data: Uint8Array): Uint8Array => active.hmacSha512(key, data);
