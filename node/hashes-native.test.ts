/**
 * node:crypto's hashes behind the signer's hash port: the published vectors (FIPS 180-2
 * "abc", RFC 4231 test case 2, RIPEMD-160's "abc"), and noble's bytes on inputs of every
 * length up to a few blocks; fastCurve() installs them. HKDF-SHA256 on them gives RFC 5869's
 * vectors (signer/keys/hkdf.test.ts checks it on noble's).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import test from 'node:test';
import { toHex, utf8 } from '../signer/bytes.js';
import { type Hashes, hashesInUse, nobleHashes, useHashes } from '../signer/crypto/hashes.js';
import { hkdfSha256 } from '../signer/keys/hkdf.js';
import { fastCurve } from './curve-native.js';
import { nativeHashes } from './hashes-native.js';

const both: [string, Hashes][] = [['native', nativeHashes], ['noble', nobleHashes]];

test('the published vectors', () => {
  for (const [name, h] of both) {
    assert.equal(toHex(h.sha256(utf8('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', name);
    assert.equal(toHex(h.sha512(utf8('abc'))),
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f', name);
    assert.equal(toHex(h.ripemd160(utf8('abc'))), '8eb208f7e05d987a9b044a8e98c6b087f15a0bfc', name);
    // RFC 4231 test case 2: key "Jefe".
    const data = utf8('what do ya want for nothing?');
    assert.equal(toHex(h.hmacSha256(utf8('Jefe'), data)), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843', name);
    assert.equal(toHex(h.hmacSha512(utf8('Jefe'), data)),
      '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737', name);
  }
});

test('noble\'s bytes for every length 0..300 and long keys; outputs are plain Uint8Arrays of their own', () => {
  for (let n = 0; n <= 300; n++) {
    const data = new Uint8Array(randomBytes(n));
    const key = new Uint8Array(randomBytes(n % 150)); // past a block (64/128 bytes): hashed first
    for (const f of ['sha256', 'sha512', 'ripemd160'] as const) assert.equal(toHex(nativeHashes[f](data)), toHex(nobleHashes[f](data)), `${f} ${n}`);
    for (const f of ['hmacSha256', 'hmacSha512'] as const) assert.equal(toHex(nativeHashes[f](key, data)), toHex(nobleHashes[f](key, data)), `${f} ${n}`);
  }
  const out = nativeHashes.sha256(new Uint8Array(1));
  assert.equal(Object.getPrototypeOf(out), Uint8Array.prototype);
  assert.equal(out.byteOffset, 0);
  assert.equal(out.buffer.byteLength, 32);
});

test('fastCurve() installs them', () => {
  fastCurve();
  assert.equal(hashesInUse(), nativeHashes);
});

test('HKDF-SHA256 on node:crypto\'s HMAC: RFC 5869 A.1 and A.3', () => {
  const before = hashesInUse();
  useHashes(nativeHashes);
  try {
    const ikm = new Uint8Array(22).fill(0x0b);
    const a1 = hkdfSha256(ikm, Uint8Array.from({ length: 13 }, (_, i) => i), Uint8Array.from({ length: 10 }, (_, i) => 0xf0 + i), 42);
    assert.equal(toHex(a1), '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
    assert.equal(toHex(hkdfSha256(ikm, undefined, '', 42)), '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8');
  } finally {
    useHashes(before);
  }
});
