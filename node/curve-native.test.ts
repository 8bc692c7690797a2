/**
 * The libsecp256k1 backends (curve-native.ts, curve-wasm.ts) and our own curve (the device's,
 * signer/crypto/secp256k1/curve.ts) against nobleCurve: every `Curve` method byte for byte on
 * deterministic pseudo-random inputs, the same failures on invalid inputs, the published
 * vectors noble.test.ts and signatures.test.ts use, and the recorded CLN sessions replayed
 * through the signer on fastCurve() and on ours.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, fromHex, toHex, utf8 } from '../signer/bytes.js';
import type { Curve } from '../signer/crypto/curve.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import { webCryptoRandomBytes } from '../signer/crypto/random.js';
import { createSecp256k1Curve } from '../signer/crypto/secp256k1/curve.js';
import { signLowR, signRecoverableRfc6979, signSchnorrBip340, taggedHash } from '../signer/crypto/signatures.js';
import { Signer } from '../signer/signer.js';
import { assertAgreesOnCompressedPoints } from '../test/compressed-points.js';
import { fixturePath, readJsonFixture } from '../test/fixtures.js';
import { sessionSignerOptions } from '../test/session-records.js';
import { clientOf, loadTranscript } from '../test/transcript.js';
import { fastCurve, loadNativeCurve } from './curve-native.js';
import { fromScalar, N, toScalar } from '../signer/crypto/secp256k1/scalars.js';
import { loadWasmCurve } from './curve-wasm.js';

const native = loadNativeCurve();
const wasm = loadWasmCurve();
assert.ok(native, 'secp256k1 N-API addon loads (dependency of this package)');
assert.ok(wasm, 'tiny-secp256k1 loads (dependency of this package)');
const ours = createSecp256k1Curve({ randomBytes: webCryptoRandomBytes });
const backends: [string, Curve][] = [
  ['native', native],
  ['wasm', wasm],
  ['ours', ours],
];

/** Deterministic byte stream: SHA256(seed ‖ counter). */
function prng(seed: string): () => Uint8Array {
  let counter = 0;
  return () => sha256(concat(utf8(seed), Uint8Array.of(counter >>> 24, counter >>> 16, counter >>> 8, counter++)));
}

/** The method's result, or 'threw' (both backends must fail, the message may differ). */
function outcome(f: () => unknown): string {
  try {
    const r = f();
    if (r instanceof Uint8Array) return toHex(r);
    if (typeof r === 'object' && r !== null) {
      const o = r as { signature: Uint8Array; recovery: number };
      return `${toHex(o.signature)}/${o.recovery}`;
    }
    return String(r);
  } catch {
    return 'threw';
  }
}

function same(curve: Curve, call: (c: Curve) => unknown, label: string): void {
  assert.equal(outcome(() => call(curve)), outcome(() => call(nobleCurve)), label);
}

const CASES = 60;

for (const [name, curve] of backends) {
  test(`${name}: every Curve method equals nobleCurve on ${CASES} pseudo-random cases`, () => {
    const next = prng(`curve-native.test ${name}`);
    for (let i = 0; i < CASES; i++) {
      const [a, b, hash, extra, aux] = [next(), next(), next(), next(), next()];
      assert.ok(nobleCurve.isPrivateKey(a) && nobleCurve.isPrivateKey(b));
      const A = nobleCurve.publicKey(a);
      const B = nobleCurve.publicKey(b);
      const at = `case ${i}`;
      same(curve, (c) => c.publicKey(a), `publicKey ${at}`);
      same(curve, (c) => c.isPrivateKey(a), `isPrivateKey ${at}`);
      same(curve, (c) => c.privateAdd(a, b), `privateAdd ${at}`);
      same(curve, (c) => c.privateMul(a, b), `privateMul ${at}`);
      same(curve, (c) => c.pointAdd(A, B), `pointAdd ${at}`);
      same(curve, (c) => c.pointMul(A, b), `pointMul ${at}`);
      same(curve, (c) => c.pointAddTweak(A, hash), `pointAddTweak ${at}`);
      same(curve, (c) => c.sign(hash, a), `sign ${at}`);
      same(curve, (c) => c.sign(hash, a, extra), `sign+extra ${at}`);
      same(curve, (c) => c.signRecoverable(hash, a), `signRecoverable ${at}`);
      same(curve, (c) => c.signSchnorr(hash, a, aux), `signSchnorr ${at}`);
      same(curve, (c) => c.ecdh(a, B), `ecdh ${at}`);
      const sig = nobleCurve.sign(hash, a);
      same(curve, (c) => c.verify(sig, hash, A), `verify ${at}`);
      same(curve, (c) => c.verify(sig, hash, B), `verify wrong key ${at}`);
      const schnorrSig = nobleCurve.signSchnorr(hash, a, aux);
      same(curve, (c) => c.verifySchnorr(schnorrSig, hash, A.slice(1)), `verifySchnorr ${at}`);
      same(curve, (c) => c.verifySchnorr(schnorrSig, extra, A.slice(1)), `verifySchnorr wrong msg ${at}`);
    }
    // Uncompressed input points are parsed by both and answered compressed.
    const P = fromHex('04' + '79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798' +
      '483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8');
    same(curve, (c) => c.pointMul(P, fromScalar(3n)), 'uncompressed pointMul');
    same(curve, (c) => c.pointAddTweak(P, fromScalar(3n)), 'uncompressed pointAddTweak');
  });

  test(`${name}: points checked by isCompressedPoint first (as the signer checks a request's) give the same results, also once their bytes change`, () => {
    const next = prng(`checked points ${name}`);
    for (let i = 0; i < 12; i++) {
      const [a, b, hash] = [next(), next(), next()];
      const A = nobleCurve.publicKey(a);
      const B = nobleCurve.publicKey(b);
      const sig = nobleCurve.sign(hash, a);
      const at = `case ${i}`;
      assert.ok(curve.isCompressedPoint(A) && curve.isCompressedPoint(B), at);
      same(curve, (c) => c.ecdh(b, A), `ecdh ${at}`);
      same(curve, (c) => c.pointMul(A, b), `pointMul ${at}`);
      same(curve, (c) => c.pointAddTweak(A, hash), `pointAddTweak ${at}`);
      same(curve, (c) => c.pointAdd(A, B), `pointAdd ${at}`);
      same(curve, (c) => c.verify(sig, hash, A), `verify ${at}`);
      same(curve, (c) => c.verify(sig, hash, B), `verify wrong key ${at}`);
      // The checked array now holds another point (a reused buffer): it is that point that counts.
      A.set(B);
      same(curve, (c) => c.ecdh(a, A), `ecdh after the bytes changed ${at}`);
      same(curve, (c) => c.verify(sig, hash, A), `verify after the bytes changed ${at}`);
      // The same with a Buffer, whose slice() is a view: what was checked must be a copy.
      const held = Buffer.from(nobleCurve.publicKey(b));
      assert.ok(curve.isCompressedPoint(held), at);
      held.set(nobleCurve.publicKey(hash));
      same(curve, (c) => c.ecdh(a, held), `ecdh after a Buffer's bytes changed ${at}`);
    }
  });

  test(`${name}: hashes ≥ n sign as current libsecp256k1 (nonce from msg32 mod n)`, () => {
    const next = prng(`high hash ${name}`);
    for (const h of [N, N + 1n, 2n ** 256n - 1n, N + 0x1234n]) {
      const hash = fromScalar(h);
      const [priv, extra] = [next(), next()];
      same(curve, (c) => c.sign(hash, priv), `sign ${h.toString(16)}`);
      same(curve, (c) => c.sign(hash, priv, extra), `sign+extra ${h.toString(16)}`);
      same(curve, (c) => c.signRecoverable(hash, priv), `signRecoverable ${h.toString(16)}`);
    }
  });

  test(`${name}: the same inputs fail (or not) as in nobleCurve`, () => {
    const next = prng(`errors ${name}`);
    const a = next();
    const A = nobleCurve.publicKey(a);
    const hash = next();
    const negA = fromScalar(N - toScalar(a));
    const zero = new Uint8Array(32);
    const badScalars = [zero, fromScalar(N), fromScalar(N + 1n), fromScalar(2n ** 256n - 1n), new Uint8Array(31).fill(1), new Uint8Array(33).fill(1)];
    const hybrid = concat(Uint8Array.of(6 | (A[0]! & 1)), nobleCurve.pointAddTweak(A, zero).slice(1), new Uint8Array(32));
    const badPoints = [
      concat(Uint8Array.of(2), zero), // x = 0 is not on the curve
      concat(Uint8Array.of(2), new Uint8Array(32).fill(0xff)), // x ≥ p
      concat(Uint8Array.of(5), A.slice(1)),
      A.slice(1),
      hybrid,
      new Uint8Array(0),
    ];
    for (const [i, s] of badScalars.entries()) {
      const at = `bad scalar ${i}`;
      same(curve, (c) => c.publicKey(s), `publicKey ${at}`);
      same(curve, (c) => c.isPrivateKey(s), `isPrivateKey ${at}`);
      same(curve, (c) => c.privateAdd(s, a), `privateAdd a ${at}`);
      same(curve, (c) => c.privateAdd(a, s), `privateAdd b ${at}`);
      same(curve, (c) => c.privateMul(s, a), `privateMul a ${at}`);
      same(curve, (c) => c.privateMul(a, s), `privateMul b ${at}`);
      same(curve, (c) => c.pointMul(A, s), `pointMul ${at}`);
      same(curve, (c) => c.pointAddTweak(A, s), `pointAddTweak ${at}`);
      same(curve, (c) => c.sign(hash, s), `sign ${at}`);
      same(curve, (c) => c.signRecoverable(hash, s), `signRecoverable ${at}`);
      same(curve, (c) => c.signSchnorr(hash, s, zero), `signSchnorr ${at}`);
      same(curve, (c) => c.ecdh(s, A), `ecdh ${at}`);
    }
    for (const [i, p] of badPoints.entries()) {
      const at = `bad point ${i}`;
      same(curve, (c) => c.pointAdd(p, A), `pointAdd ${at}`);
      same(curve, (c) => c.pointAdd(A, p), `pointAdd q ${at}`);
      same(curve, (c) => c.pointMul(p, a), `pointMul ${at}`);
      same(curve, (c) => c.pointAddTweak(p, a), `pointAddTweak ${at}`);
      same(curve, (c) => c.pointAddTweak(p, zero), `pointAddTweak 0 ${at}`);
      same(curve, (c) => c.ecdh(a, p), `ecdh ${at}`);
      same(curve, (c) => c.verify(nobleCurve.sign(hash, a), hash, p), `verify ${at}`);
    }
    // Results that are zero or the point at infinity.
    same(curve, (c) => c.privateAdd(a, negA), 'privateAdd to zero');
    same(curve, (c) => c.pointAdd(A, nobleCurve.publicKey(negA)), 'P + (-P)');
    same(curve, (c) => c.pointAddTweak(nobleCurve.publicKey(negA), a), '-P + a·G');
    same(curve, (c) => c.pointAddTweak(A, zero), 'zero tweak is allowed');
    same(curve, (c) => c.privateAdd(a, zero), 'privateAdd zero tweak');
    // Wrong lengths.
    for (const len of [0, 31, 33, 64]) {
      const h = new Uint8Array(len).fill(7);
      same(curve, (c) => c.sign(h, a), `sign ${len}-byte hash`);
      same(curve, (c) => c.signRecoverable(h, a), `signRecoverable ${len}-byte hash`);
      same(curve, (c) => c.verify(nobleCurve.sign(hash, a), h, A), `verify ${len}-byte hash`);
    }
    same(curve, (c) => c.sign(hash, a, new Uint8Array(31)), 'sign 31-byte extra');
    same(curve, (c) => c.sign(hash, a, new Uint8Array(33)), 'sign 33-byte extra');
    same(curve, (c) => c.signSchnorr(hash.slice(1), a, zero), 'schnorr 31-byte message');
    same(curve, (c) => c.signSchnorr(hash, a, new Uint8Array(31)), 'schnorr 31-byte aux');
    // Verification: high S (the other spelling of a valid signature), out-of-range r/s and
    // wrong lengths are false.
    const sig = nobleCurve.sign(hash, a);
    const highS = concat(sig.slice(0, 32), fromScalar(N - toScalar(sig.slice(32))));
    same(curve, (c) => c.verify(highS, hash, A), 'high-S refused');
    assert.equal(curve.verify(sig, hash, A), true);
    assert.equal(curve.verify(highS, hash, A), false);
    for (const [i, bad] of [
      concat(zero, sig.slice(32)),
      concat(sig.slice(0, 32), zero),
      concat(fromScalar(N), sig.slice(32)),
      concat(sig.slice(0, 32), fromScalar(N)),
      sig.slice(1),
      concat(sig, Uint8Array.of(1)),
    ].entries()) {
      same(curve, (c) => c.verify(bad, hash, A), `verify bad signature ${i}`);
    }
    const schnorrSig = nobleCurve.signSchnorr(hash, a, zero);
    for (const [i, xOnly] of [zero, new Uint8Array(32).fill(0xff), A, A.slice(2)].entries()) {
      same(curve, (c) => c.verifySchnorr(schnorrSig, hash, xOnly), `verifySchnorr bad key ${i}`);
    }
    same(curve, (c) => c.verifySchnorr(schnorrSig.slice(1), hash, A.slice(1)), 'verifySchnorr short sig');
  });

  test(`${name}: published vectors (those of noble.test.ts and signatures.test.ts)`, () => {
    const bolt8 = readJsonFixture('vectors/bolt08-transport.json');
    for (const c of bolt8.ecdh_checkpoints) {
      const secret = fromHex(c.shared_secret.toLowerCase().replace(/^0x/, ''));
      assert.equal(toHex(curve.ecdh(fromHex(c.privkey.toLowerCase()), fromHex(c.pubkey.toLowerCase()))), toHex(secret), c.operation);
    }
    const facts = readJsonFixture('vectors/cln-hsmd-facts.json');
    const privOf = new Map<string, Uint8Array>();
    for (const e of [...facts.legacy_hsm_secret_node_ids, ...facts.modern_mnemonic_hsm_secret_node_ids]) {
      if (!e.node_privkey_with_compressed_marker) continue;
      const priv = fromHex(e.node_privkey_with_compressed_marker).slice(0, 32); // trailing 01 marker
      assert.equal(toHex(curve.publicKey(priv)), e.node_id, e.node);
      privOf.set(e.node_id, priv);
    }
    const bolt12 = readJsonFixture('vectors/bolt12-signature-test.json').vectors[3];
    const msg = taggedHash(bolt12.signature_tag, fromHex(bolt12.merkle));
    const sig12 = signSchnorrBip340(curve, msg, new Uint8Array(32).fill(0x42));
    assert.equal(toHex(sig12), bolt12.signature);
    assert.equal(curve.verifySchnorr(sig12, msg, curve.publicKey(new Uint8Array(32).fill(0x42)).slice(1)), true);
    const bolt11 = readJsonFixture('vectors/bolt11-invoices.json');
    for (const inv of bolt11.valid) {
      const b = inv.signature_breakdown;
      if (!b || inv.description.includes('high-S')) continue; // decode-only example
      const r = signRecoverableRfc6979(curve, fromHex(b.sha256_of_preimage_hex), fromHex(bolt11.signing_private_key));
      assert.equal(toHex(r.signature), b.signature_rs_hex, inv.description);
      assert.equal(r.recovery, b.recovery_id, inv.description);
    }
    // CLN's gossip: low-R grind (messages 1, 2), plain RFC 6979 (message 0).
    const gossip = readJsonFixture('vectors/cln-gossip-signatures.json').messages;
    const sha256d = (m: Uint8Array) => sha256(sha256(m));
    for (const [index, grind] of [[0, false], [1, true]] as const) {
      const m = gossip[index];
      const hash = sha256d(fromHex(m.message_hex).subarray(2 + 256)); // BOLT 7
      for (const n of ['1', '2']) {
        const priv = privOf.get(m[`node_id_${n}`])!;
        const sig = grind ? signLowR(curve, hash, priv) : curve.sign(hash, priv);
        assert.equal(toHex(sig), m[`node_signature_${n}`]);
      }
      assert.equal(curve.verify(fromHex(m.bitcoin_signature_1), hash, fromHex(m.bitcoin_key_1)), true);
    }
    const update = gossip[2];
    const updateHash = sha256d(fromHex(update.message_hex).subarray(2 + 64));
    const updatePriv = privOf.get('0266e4598d1d3c415f572a8488830b60f7e744ed9235eb0b1ba93283b315c03518')!;
    assert.equal(toHex(signLowR(curve, updateHash, updatePriv)), update.signature);
  });
}

for (const [name, curve] of backends) {
  test(`${name}: isCompressedPoint agrees with @noble/curves' parser on points, non-points, x ≥ p and other shapes`, () => {
    assertAgreesOnCompressedPoints((p) => curve.isCompressedPoint(p), `isCompressedPoint ${name}`);
  });
}

test('fastCurve() is the native backend here', () => {
  assert.notEqual(fastCurve(), nobleCurve);
  assert.equal(fastCurve(), fastCurve());
});

const CLIENT_HSMFD = 9;
/** signer-transcripts.test.ts: node-level requests of the session recordings. */
const NODE_LEVEL = new Set([1, 2, 3, 4, 6, 8, 10, 11, 18, 22, 23, 24, 25, 26, 27, 28, 30, 31, 32, 33, 34, 37, 38, 39, 41, 45, 51, 52, 56, 99]);

const replays = [
  ['hsmd-basic-legacy.jsonl', false, 'fastCurve()', fastCurve()],
  ['hsmd-basic-mnemonic.jsonl', false, 'fastCurve()', fastCurve()],
  ['session-basic-l1.jsonl', true, 'fastCurve()', fastCurve()],
  ['session-basic-l1.jsonl', false, 'our curve', ours],
] as const;
for (const [name, onlyNodeLevel, curveName, curve] of replays) {
  test(`${name}: replies through the signer on ${curveName} equal CLN's`, () => {
    const { exchanges } = loadTranscript(fixturePath(`transcripts/${name}`));
    const signer = new Signer({ ...sessionSignerOptions(name), curve });
    let id = 0n;
    let compared = 0;
    for (const ex of exchanges) {
      const message = fromHex(ex.req);
      const type = (message[0]! << 8) | message[1]!;
      if (type === CLIENT_HSMFD || (onlyNodeLevel && !NODE_LEVEL.has(type))) continue;
      const { reply } = signer.handle({
        id: ++id,
        client: clientOf(ex),
        at: 0,
        message,
      });
      const got = reply.kind === 'frame' ? toHex(reply.frame) : reply.kind === 'none' ? null : reply.kind;
      assert.equal(got, ex.rep, `seq ${ex.seq} type ${type}`);
      compared++;
    }
    assert.ok(compared > 10);
  });
}
