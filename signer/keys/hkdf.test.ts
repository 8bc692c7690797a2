/**
 * HKDF-SHA256 (on the hash port, noble's here) against RFC 5869 Appendix A (test cases 1 and 3:
 * explicit and empty salt) and noble's own hkdf; node/hashes-native.test.ts runs it on node:crypto's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { fromHex, toHex } from '../bytes.js';
import { hkdfSha256 } from './hkdf.js';

const ikm = new Uint8Array(22).fill(0x0b);

test('RFC 5869 A.1: basic test case with SHA-256', () => {
  const okm = hkdfSha256(ikm, fromHex('000102030405060708090a0b0c'), fromHex('f0f1f2f3f4f5f6f7f8f9'), 42);
  assert.equal(toHex(okm), '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
});

test('RFC 5869 A.3: zero-length salt and info (CLN passes NULL, 0)', () => {
  const expected = '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8';
  assert.equal(toHex(hkdfSha256(ikm, undefined, new Uint8Array(0), 42)), expected);
  assert.equal(toHex(hkdfSha256(ikm, new Uint8Array(0), '', 42)), expected);
  assert.equal(toHex(hkdfSha256(ikm, new Uint8Array(32), '', 42)), expected, 'same as 32 zero bytes');
});

test('noble\'s hkdf (an independent implementation) for output lengths across block edges, salts and infos of several sizes', () => {
  for (const length of [1, 31, 32, 33, 64, 65, 192, 255 * 32 - 1]) {
    for (const saltLength of [0, 13, 32, 64, 100]) {
      const seedBytes = Uint8Array.from({ length: 40 }, (_, i) => (i * 31 + length + saltLength) & 0xff);
      const salt = seedBytes.slice(0, Math.min(saltLength, 40));
      const info = Uint8Array.from({ length: saltLength % 50 }, (_, i) => (i * 7 + 3) & 0xff);
      assert.equal(toHex(hkdfSha256(seedBytes, salt, info, length)), toHex(hkdf(sha256, seedBytes, salt, info, length)), `length ${length}, salt ${saltLength}`);
    }
  }
});
