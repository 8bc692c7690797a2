/**
 * The public-key check of libwally's derivation records (docs/hsmd-protocol.md
 * "PSBT records libwally refuses") against @noble/curves' own point parser: random 33-byte strings (about
 * half are on the curve), real points in every encoding libsecp256k1 takes, and hybrid keys with
 * the wrong parity. What CLN does with each record is fixed by its recorded replies (the
 * differential lane's, docs/hsmd-protocol.md).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import fc from 'fast-check';
import { isPublicKey } from './libwally-rules.js';

const nobleParses = (key: Uint8Array): boolean => {
  try {
    secp256k1.Point.fromBytes(key);
    return true;
  } catch {
    return false;
  }
};

test('a compressed key is a public key exactly when noble parses it', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom(0x02, 0x03), (x, prefix) => {
      const key = Uint8Array.of(prefix, ...x);
      assert.equal(isPublicKey(key), nobleParses(key));
    }),
    { numRuns: 300, seed: 1 },
  );
});

test('points in compressed, uncompressed and hybrid form; hybrid with the wrong parity is refused', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 1n, max: secp256k1.Point.CURVE().n - 1n }), (k) => {
      const point = secp256k1.Point.BASE.multiply(k);
      const full = point.toBytes(false);
      assert.ok(isPublicKey(point.toBytes(true)));
      assert.ok(isPublicKey(full));
      const odd = (full[64]! & 1) === 1;
      assert.ok(isPublicKey(Uint8Array.of(odd ? 0x07 : 0x06, ...full.subarray(1))));
      assert.ok(!isPublicKey(Uint8Array.of(odd ? 0x06 : 0x07, ...full.subarray(1))));
      assert.ok(!isPublicKey(full.subarray(1, 33)), '32 bytes are no public key here');
    }),
    { numRuns: 50, seed: 1 },
  );
});

test('an x at or above p is no key', () => {
  assert.ok(!isPublicKey(Uint8Array.of(0x02, ...new Uint8Array(32).fill(0xff))));
  assert.ok(!isPublicKey(Uint8Array.of(0x05, ...new Uint8Array(32).fill(1))));
});
