/**
 * The public-key checks of libwally's derivation records (docs/hsmd-protocol.md
 * "PSBT records libwally refuses") against @noble/curves' own parsers, on both curve backends
 * the signer runs on (nobleCurve, the device's; the N-API one, Node's): random 33-byte strings
 * (about half are on the curve), real points in every encoding libsecp256k1 takes, hybrid keys
 * with the wrong parity, and random x-only keys against BIP 340's lift_x. What CLN does with
 * each record is fixed by its recorded replies (the differential lane's, docs/hsmd-protocol.md).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE } from '@noble/curves/utils.js';
import fc from 'fast-check';
import { loadNativeCurve } from '../../node/curve-native.js';
import type { Curve } from '../crypto/curve.js';
import { nobleCurve } from '../crypto/noble.js';
import { isPublicKey, isXOnlyKey } from './libwally-rules.js';

const native = loadNativeCurve();
assert.ok(native, 'secp256k1 N-API addon loads (dependency of this package)');
const backends: [string, Curve][] = [
  ['noble', nobleCurve],
  ['native', native],
];

const nobleParses = (key: Uint8Array): boolean => {
  try {
    secp256k1.Point.fromBytes(key);
    return true;
  } catch {
    return false;
  }
};

const liftsX = (x: Uint8Array): boolean => {
  try {
    schnorr.utils.lift_x(bytesToNumberBE(x));
    return true;
  } catch {
    return false;
  }
};

for (const [name, curve] of backends) {
  test(`${name}: a compressed key is a public key exactly when noble parses it`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom(0x02, 0x03), (x, prefix) => {
        const key = Uint8Array.of(prefix, ...x);
        assert.equal(isPublicKey(key, curve), nobleParses(key));
      }),
      { numRuns: 300, seed: 1 },
    );
  });

  test(`${name}: points in compressed, uncompressed and hybrid form; hybrid with the wrong parity is refused`, () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: secp256k1.Point.CURVE().n - 1n }), (k) => {
        const point = secp256k1.Point.BASE.multiply(k);
        const full = point.toBytes(false);
        assert.ok(isPublicKey(point.toBytes(true), curve));
        assert.ok(isPublicKey(full, curve));
        const odd = (full[64]! & 1) === 1;
        assert.ok(isPublicKey(Uint8Array.of(odd ? 0x07 : 0x06, ...full.subarray(1)), curve));
        assert.ok(!isPublicKey(Uint8Array.of(odd ? 0x06 : 0x07, ...full.subarray(1)), curve));
        assert.ok(!isPublicKey(full.subarray(1, 33), curve), '32 bytes are no public key here');
        assert.ok(isXOnlyKey(full.subarray(1, 33), curve), 'but they are an x-only key');
      }),
      { numRuns: 50, seed: 1 },
    );
  });

  test(`${name}: an x-only key is one exactly when BIP 340's lift_x takes it`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (x) => {
        assert.equal(isXOnlyKey(x, curve), liftsX(x));
      }),
      { numRuns: 300, seed: 2 },
    );
    assert.ok(!isXOnlyKey(new Uint8Array(33).fill(2), curve), '33 bytes are no x-only key');
  });

  test(`${name}: an x at or above p is no key`, () => {
    const p = Uint8Array.of(...new Uint8Array(27).fill(0xff), 0xfe, 0xff, 0xff, 0xfc, 0x2f);
    assert.ok(!isPublicKey(Uint8Array.of(0x02, ...new Uint8Array(32).fill(0xff)), curve));
    assert.ok(!isPublicKey(Uint8Array.of(0x05, ...new Uint8Array(32).fill(1)), curve));
    assert.ok(!isXOnlyKey(p, curve));
    assert.ok(!isXOnlyKey(Uint8Array.of(...p.subarray(0, 31), 0x30), curve), 'p + 1 (1 is on the curve: a check reducing x mod p would take it)');
    assert.ok(!isXOnlyKey(new Uint8Array(32).fill(0xff), curve));
  });
}
