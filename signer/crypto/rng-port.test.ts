/**
 * The RNG port (signer/crypto/random.ts): the blinding of noble's curve and of ours (the
 * device's) asks the port, never a global, and the outputs do not depend on it — every signature stays RFC 6979 / BIP 340 deterministic and
 * equal to libsecp256k1's (the native backend as the independent oracle), whatever the RNG
 * gives and whatever the precompute window.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { sha256 } from '@noble/hashes/sha2.js';
import { loadNativeCurve } from '../../node/curve-native.js';
import { randomBytesFrom } from '../../firmware/app/hardware-random.js';
import { toHex } from '../bytes.js';
import type { Curve } from './curve.js';
import { createNobleCurve } from './noble.js';
import { createSecp256k1Curve } from './secp256k1/curve.js';
import { checkedRandomBytes, type RandomBytes } from './random.js';

const native = loadNativeCurve();
assert.ok(native, 'the secp256k1 N-API addon loads');

/** A port that counts what it is asked for; bytes from a seeded SHA-256 stream. */
function countingPort(seed: number): RandomBytes & { asked: number[] } {
  let counter = 0;
  const asked: number[] = [];
  const port = (length: number) => {
    asked.push(length);
    const out = new Uint8Array(length);
    for (let at = 0; at < length; at += 32) out.set(sha256(Uint8Array.of(seed, counter++ & 0xff, counter >> 8)).subarray(0, length - at), at);
    return out;
  };
  return Object.assign(port, { asked });
}

const key = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((k) => native.isPrivateKey(k));
const hash = fc.uint8Array({ minLength: 32, maxLength: 32 });

/** Both pure-JS curves, made on a given port. */
const CURVES: [string, (randomBytes: RandomBytes) => Curve][] = [
  ['noble', (randomBytes) => createNobleCurve({ randomBytes, windowSize: 1 })],
  ['ours', (randomBytes) => createSecp256k1Curve({ randomBytes })],
];

for (const [name, make] of CURVES) test(`${name}: blinding randomness is requested from the port for every secret multiplication and signature`, () => {
  const port = countingPort(1);
  const curve = make(port);
  assert.deepEqual(port.asked, [], 'nothing is built or probed before the first use');
  const priv = sha256(Uint8Array.of(1));
  const uses: [string, () => unknown][] = [
    ['publicKey', () => curve.publicKey(priv)],
    ['sign', () => curve.sign(sha256(Uint8Array.of(2)), priv)],
    ['signSchnorr', () => curve.signSchnorr(sha256(Uint8Array.of(3)), priv, new Uint8Array(32))],
    ['ecdh', () => curve.ecdh(priv, native.publicKey(sha256(Uint8Array.of(4))))],
  ];
  for (const [name, use] of uses) {
    const before = port.asked.length;
    use();
    assert.ok(port.asked.length > before, `${name} asked the port for blinding bytes`);
  }
});

test('signatures and keys are byte-identical to libsecp256k1 whatever the RNG and window', () => {
  const curves: [string, Curve][] = [
    ['window 1, RNG a', createNobleCurve({ randomBytes: countingPort(7), windowSize: 1 })],
    ['window 6, RNG b', createNobleCurve({ randomBytes: countingPort(8), windowSize: 6 })],
    ['ours, RNG c', createSecp256k1Curve({ randomBytes: countingPort(9) })],
  ];
  fc.assert(
    fc.property(key, hash, key, (priv, h, other) => {
      for (const [name, curve] of curves) {
        assert.equal(toHex(curve.publicKey(priv)), toHex(native.publicKey(priv)), name);
        assert.equal(toHex(curve.sign(h, priv)), toHex(native.sign(h, priv)), name);
        assert.equal(toHex(curve.sign(h, priv, other)), toHex(native.sign(h, priv, other)), name);
        const rec = curve.signRecoverable(h, priv);
        const nativeRec = native.signRecoverable(h, priv);
        assert.equal(toHex(rec.signature) + rec.recovery, toHex(nativeRec.signature) + nativeRec.recovery, name);
        assert.equal(toHex(curve.signSchnorr(h, priv, other)), toHex(native.signSchnorr(h, priv, other)), name);
        const peer = native.publicKey(other);
        assert.equal(toHex(curve.ecdh(priv, peer)), toHex(native.ecdh(priv, peer)), name);
        assert.equal(toHex(curve.pointMul(peer, priv)), toHex(native.pointMul(peer, priv)), name);
      }
    }),
    { numRuns: 25 },
  );
});

for (const [name, make] of CURVES) test(`${name}: a broken RNG port is an error at first use, not silently unblinded`, () => {
  assert.throws(() => make((n) => new Uint8Array(n)).publicKey(sha256(Uint8Array.of(1))), /32 equal bytes: not a working RNG/);
  assert.throws(() => make(() => new Uint8Array(3)).publicKey(sha256(Uint8Array.of(1))), /did not return 32 bytes/);
});

test('a port that throws is an error when checked', () => {
  assert.throws(() => checkedRandomBytes(() => { throw new Error('no entropy'); }), /no entropy/);
});

test('the hardware RNG adapter passes bytes through and refuses a short answer', () => {
  const port = randomBytesFrom((n) => Uint8Array.from({ length: n }, (_, i) => i + 1).buffer);
  assert.deepEqual([...port(4)], [1, 2, 3, 4]);
  assert.throws(() => randomBytesFrom(() => new ArrayBuffer(2))(4), /gave 2 bytes, 4 were asked for/);
  assert.throws(() => port(-1), /whole number/);
});
