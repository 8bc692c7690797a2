/**
 * The public-key checks of libwally's derivation records (docs/hsmd-protocol.md
 * "PSBT records libwally refuses") against @noble/curves' own parsers, on both curve backends
 * the signer runs on (nobleCurve, the device's; the N-API one, Node's): random 33-byte strings
 * (about half are on the curve), real points in every encoding libsecp256k1 takes, hybrid keys
 * with the wrong parity, and random x-only keys against BIP 340's lift_x; partial signatures'
 * DER against libsecp256k1's own DER parser (secp256k1_ecdsa_signature_parse_der, which
 * libwally calls, reached through the N-API addon's signatureImport). What CLN does with each
 * record is fixed by its replies (the differential lane's, docs/hsmd-protocol.md).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE } from '@noble/curves/utils.js';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { loadNativeCurve } from '../../node/curve-native.js';
import type { Curve } from '../crypto/curve.js';
import { nobleCurve } from '../crypto/noble.js';
import { isDerSignature, isPublicKey, isXOnlyKey } from './libwally-rules.js';

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

const libsecp = createRequire(import.meta.url)('secp256k1/bindings') as { signatureImport(der: Uint8Array): Uint8Array };
const libsecpParsesDer = (der: Uint8Array): boolean => {
  try {
    libsecp.signatureImport(der);
    return true;
  } catch {
    return false;
  }
};

/** DER bytes: real signatures (r, s of 1 to 33 bytes), long-form lengths, and changes to any of them. */
const derish = fc.oneof(
  fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 33 }), fc.uint8Array({ minLength: 1, maxLength: 33 })).map(([r, s]) => {
    const int = (v: Uint8Array): number[] => [0x02, v.length, ...v];
    const body = [...int(r), ...int(s)];
    return Uint8Array.of(0x30, body.length, ...body);
  }),
  fc.tuple(fc.integer({ min: 0, max: 3 }), fc.uint8Array({ minLength: 124, maxLength: 140 })).map(([form, body]) =>
    Uint8Array.of(0x30, ...[[0x81, body.length], [0x81, 0x7f], [0x82, 0x00, body.length], [0x80]][form]!, ...body)),
);
const changedDer = fc.tuple(derish, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 3 })).map(([der, at, byte, how]) => {
  const k = der.length === 0 ? 0 : at % der.length;
  if (how === 0) return der;
  if (how === 1) return Uint8Array.of(...der.subarray(0, k), byte, ...der.subarray(k + 1));
  if (how === 2) return der.subarray(0, k);
  return Uint8Array.of(...der, byte);
});

test('a partial signature is DER exactly when libsecp256k1 parses it (its parser, through the N-API addon)', () => {
  let accepted = 0;
  fc.assert(
    fc.property(changedDer, (der) => {
      const ours = isDerSignature(der);
      assert.equal(ours, libsecpParsesDer(der), Buffer.from(der).toString('hex'));
      if (ours) accepted++;
    }),
    { numRuns: 3000, seed: 3 },
  );
  assert.ok(accepted > 300, `only ${accepted} of 3000 were DER: the property would be vacuous`);
});

test('DER as libsecp256k1 reads it: negative and too-large integers parse, needless padding and long forms under 128 do not', () => {
  const cases: Array<[string, boolean]> = [
    ['3006020101020101', true],
    ['3006020181020101', true], // r negative: parsed (as an invalid signature)
    ['3026022100' + 'ff'.repeat(32) + '020101', true], // r above the order
    ['300702020001020101', false], // r padded with a needless 0x00
    ['30070202ff81020101', false], // r padded with a needless 0xff
    ['30810602010102010101', false], // a long-form length under 128
    ['3006020101020201', false], // s runs past the sequence
    ['300602010102010100', false], // a byte after the sequence
    ['30050201010200', false], // an empty s
    ['', false],
  ];
  for (const [hex, parses] of cases) {
    const der = Buffer.from(hex, 'hex');
    assert.equal(libsecpParsesDer(der), parses, `libsecp256k1 on ${hex}`);
    assert.equal(isDerSignature(der), parses, hex);
  }
});
