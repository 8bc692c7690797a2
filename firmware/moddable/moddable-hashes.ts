/**
 * The hashes port (signer/crypto/hashes.ts) on the device: SHA-256 and SHA-512 from Moddable's
 * native `crypt` Digest, HMAC over them (RFC 2104), RIPEMD-160 in JS (signer/crypto/ripemd160.ts).
 * noble's SHA-2 and RIPEMD-160 keep their message schedules in module-level buffers, which
 * are read-only once the firmware's modules are preloaded (docs/device-memory.md "Built by mcconfig").
 */
import { Digest } from 'crypt';
import { toHex, utf8 } from '../../signer/bytes.js';
import type { Hashes } from '../../signer/crypto/hashes.js';
import { ripemd160 } from '../../signer/crypto/ripemd160.js';

type Kind = 'SHA256' | 'SHA512';

function digest(kind: Kind, ...parts: Uint8Array[]): Uint8Array {
  const d = new Digest(kind);
  // The native write reads any buffer or view (xsmcGetBufferReadable); the typings say ArrayBuffer.
  for (const part of parts) d.write(part as unknown as ArrayBuffer);
  return new Uint8Array(d.close());
}

function hmac(kind: Kind, blockLen: number, key: Uint8Array, data: Uint8Array): Uint8Array {
  const k = key.length > blockLen ? digest(kind, key) : key;
  const inner = new Uint8Array(blockLen);
  const outer = new Uint8Array(blockLen);
  inner.set(k);
  outer.set(k);
  for (let i = 0; i < blockLen; i++) {
    inner[i]! ^= 0x36;
    outer[i]! ^= 0x5c;
  }
  return digest(kind, outer, digest(kind, inner, data));
}

export const moddableHashes: Hashes = Object.freeze({
  sha256: (data: Uint8Array) => digest('SHA256', data),
  sha512: (data: Uint8Array) => digest('SHA512', data),
  ripemd160,
  hmacSha256: (key: Uint8Array, data: Uint8Array) => hmac('SHA256', 64, key, data),
  hmacSha512: (key: Uint8Array, data: Uint8Array) => hmac('SHA512', 128, key, data),
});

/** Throws unless `hashes` gives the published answers (FIPS 180-2 "abc"; RFC 4231 case 2; RIPEMD-160 "abc"). */
export function checkHashes(hashes: Hashes): void {
  const abc = utf8('abc');
  const key = utf8('Jefe');
  const text = utf8('what do ya want for nothing?');
  const got = [hashes.sha256(abc), hashes.sha512(abc), hashes.ripemd160(abc), hashes.hmacSha256(key, text), hashes.hmacSha512(key, text)].map(toHex);
  const want = [
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    '8eb208f7e05d987a9b044a8e98c6b087f15a0bfc',
    '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737',
  ];
  const wrong = want.flatMap((w, i) => (got[i] === w ? [] : [['sha256', 'sha512', 'ripemd160', 'hmacSha256', 'hmacSha512'][i]]));
  if (wrong.length) throw new Error(`the device's hashes give wrong answers: ${wrong.join(', ')}`);
}
