/**
 * RFC 6979 §3.2's HMAC-SHA256 DRBG as libsecp256k1's nonce_function_rfc6979 runs it: seeded
 * with key32 ‖ msg32 (the message reduced mod n) ‖ the optional 32 bytes of extra data, each
 * later output after the RFC's reseed (K = HMAC(K, V ‖ 00), V = HMAC(K, V)), so the i-th
 * nonce equals libsecp256k1's with counter i.
 */
import { concat } from '../../bytes.js';
import { hmacSha256 } from '../hashes.js';

export function rfc6979Nonces(key32: Uint8Array, msg32: Uint8Array, extra?: Uint8Array): () => Uint8Array {
  const seed = extra === undefined ? concat(key32, msg32) : concat(key32, msg32, extra);
  let k: Uint8Array = new Uint8Array(32);
  let v: Uint8Array = new Uint8Array(32).fill(1);
  k = hmacSha256(k, concat(v, Uint8Array.of(0), seed));
  v = hmacSha256(k, v);
  k = hmacSha256(k, concat(v, Uint8Array.of(1), seed));
  v = hmacSha256(k, v);
  let first = true;
  return () => {
    if (!first) {
      k = hmacSha256(k, concat(v, Uint8Array.of(0)));
      v = hmacSha256(k, v);
    }
    first = false;
    v = hmacSha256(k, v);
    return v;
  };
}
