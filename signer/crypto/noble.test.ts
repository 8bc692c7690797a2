/**
 * nobleCurve against published vectors, and its ECDSA nonce against an independent
 * transcription of libsecp256k1's nonce_function_rfc6979 (secp256k1.c, hash_impl.h).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { assertAgreesOnCompressedPoints } from '../../test/compressed-points.js';
import { readJsonFixture } from '../../test/fixtures.js';
import { concat, fromHex, toHex } from '../bytes.js';
import { nobleCurve as curve } from './noble.js';

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const hex = (s: string) => fromHex(s.toLowerCase());
const big = (b: Uint8Array) => BigInt('0x' + toHex(b));

test('ECDH = SHA256(compressed(priv·P)) (BOLT 8 ecdh_checkpoints)', () => {
  const v = readJsonFixture('vectors/bolt08-transport.json');
  assert.equal(v.ecdh_checkpoints.length, 3);
  for (const c of v.ecdh_checkpoints) {
    assert.equal(toHex(curve.ecdh(hex(c.privkey), hex(c.pubkey))), toHex(hex(c.shared_secret)), c.operation);
  }
});

test('publicKey of CLN node private keys gives their node ids (cln-hsmd-facts)', () => {
  const f = readJsonFixture('vectors/cln-hsmd-facts.json');
  const all = [...f.legacy_hsm_secret_node_ids, ...f.modern_mnemonic_hsm_secret_node_ids];
  let n = 0;
  for (const e of all) {
    if (!e.node_privkey_with_compressed_marker) continue;
    // README: node private keys carry a trailing 01 (compressed marker); use the first 32 bytes.
    const priv = hex(e.node_privkey_with_compressed_marker).slice(0, 32);
    assert.equal(toHex(curve.publicKey(priv)), e.node_id, e.node);
    n++;
  }
  assert.equal(n, 9);
});

test('isPrivateKey accepts exactly 1..n-1 (secp256k1_ec_seckey_verify)', () => {
  const nBytes = hex(N.toString(16));
  const nMinus1 = hex((N - 1n).toString(16));
  assert.equal(curve.isPrivateKey(new Uint8Array(32)), false);
  assert.equal(curve.isPrivateKey(nBytes), false);
  assert.equal(curve.isPrivateKey(nMinus1), true);
  assert.equal(curve.isPrivateKey(new Uint8Array(31).fill(1)), false);
  assert.throws(() => curve.publicKey(nBytes));
});

test("isCompressedPoint (the Jacobi symbol of x³ + 7) agrees with @noble/curves' parser on points, non-points, x ≥ p and other shapes", () => {
  assertAgreesOnCompressedPoints((p) => curve.isCompressedPoint(p), 'isCompressedPoint noble');
});

test('BIP 340 signature with aux = 0^32 (BOLT 12 signature-test.json invoice_request)', () => {
  const v = readJsonFixture('vectors/bolt12-signature-test.json').vectors[3];
  const msg = hex(v['H(signature_tag,merkle)']);
  const priv = new Uint8Array(32).fill(0x42);
  const sig = curve.signSchnorr(msg, priv, new Uint8Array(32));
  assert.equal(toHex(sig), v.signature);
  const xOnly = curve.publicKey(priv).slice(1);
  assert.equal(curve.verifySchnorr(sig, msg, xOnly), true);
  assert.equal(curve.verifySchnorr(sig, new Uint8Array(32), xOnly), false);
});

test('recoverable plain RFC 6979 reproduces every BOLT 11 example signature', () => {
  const v = readJsonFixture('vectors/bolt11-invoices.json');
  const priv = hex(v.signing_private_key);
  let n = 0;
  for (const inv of v.valid) {
    const b = inv.signature_breakdown;
    if (!b) continue;
    const hash = sha256(hex(b.data_for_signing_hex));
    assert.equal(toHex(hash), b.sha256_of_preimage_hex);
    const { signature, recovery } = curve.signRecoverable(hash, priv);
    // The vectors' notes: 'Public-key recovery with high-S signature' prints example 1's
    // signature with s replaced by n - s (same recovery id); a low-S signer gives n - s back.
    const printed = fromHex(b.signature_rs_hex);
    const s = big(printed.slice(32));
    const lowS = s > N / 2n ? N - s : s;
    const expected = toHex(printed.slice(0, 32)) + lowS.toString(16).padStart(64, '0');
    assert.equal(toHex(signature), expected, inv.description);
    assert.equal(recovery, b.recovery_id, inv.description);
    assert.equal(curve.verify(signature, hash, hex(v.payee_node_id_stated_in_first_example)), true);
    n++;
  }
  assert.equal(n, v.counts.valid_with_signature_breakdown);
});

/**
 * libsecp256k1 nonce_function_rfc6979: keydata = key32 ‖ msg32 (mod n) ‖ data32 (if given),
 * rfc6979_hmac_sha256_initialize(keydata), then generate 32 bytes (counter 0).
 */
function libsecpNonce(priv: Uint8Array, msg: Uint8Array, data?: Uint8Array): bigint {
  const m = big(msg) % N;
  const msg32 = hex(m.toString(16).padStart(64, '0'));
  const seed = data ? concat(priv, msg32, data) : concat(priv, msg32);
  let v = new Uint8Array(32).fill(1);
  let k = new Uint8Array(32);
  k = hmac(sha256, k, concat(v, Uint8Array.of(0), seed));
  v = hmac(sha256, k, v);
  k = hmac(sha256, k, concat(v, Uint8Array.of(1), seed));
  v = hmac(sha256, k, v);
  v = hmac(sha256, k, v);
  return big(v);
}

test('sign(hash, priv, extra) uses libsecp256k1 RFC 6979 nonces with ndata appended', () => {
  // r must equal x(k·G) mod n for libsecp256k1's k, with and without ndata.
  for (let i = 1; i <= 12; i++) {
    const priv = sha256(Uint8Array.of(i, 0xaa));
    const hash = sha256(Uint8Array.of(i, 0xbb));
    const extra = new Uint8Array(32);
    new DataView(extra.buffer).setUint32(0, i % 4, true);
    for (const data of [undefined, extra]) {
      const k = libsecpNonce(priv, hash, data);
      const kBytes = hex(k.toString(16).padStart(64, '0'));
      const R = curve.publicKey(kBytes);
      const sig = curve.sign(hash, priv, data);
      assert.equal(toHex(sig.slice(0, 32)), toHex(R.slice(1)), `try ${i} ${data ? 'ndata' : 'NULL'}`);
      assert.ok(big(sig.slice(32)) <= N / 2n, 'low S');
      assert.equal(curve.verify(sig, hash, curve.publicKey(priv)), true);
    }
  }
});

test('point and scalar operations agree with each other', () => {
  const a = sha256(Uint8Array.of(1));
  const b = sha256(Uint8Array.of(2));
  const A = curve.publicKey(a);
  const B = curve.publicKey(b);
  assert.equal(toHex(curve.pointAdd(A, B)), toHex(curve.publicKey(curve.privateAdd(a, b))));
  assert.equal(toHex(curve.pointAddTweak(A, b)), toHex(curve.publicKey(curve.privateAdd(a, b))));
  assert.equal(toHex(curve.pointMul(A, b)), toHex(curve.publicKey(curve.privateMul(a, b))));
  assert.equal(toHex(curve.pointAddTweak(A, new Uint8Array(32))), toHex(A), 'zero tweak allowed');
  const negA = hex((N - big(a)).toString(16).padStart(64, '0'));
  assert.throws(() => curve.privateAdd(a, negA), /zero/);
  assert.throws(() => curve.pointAdd(A, curve.publicKey(negA)));
  assert.equal(toHex(curve.ecdh(a, B)), toHex(curve.ecdh(b, A)));
});
