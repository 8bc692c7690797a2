/**
 * CLN's signing rules against CLN's own canned gossip, BOLT 11 and BOLT 12 vectors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readJsonFixture } from '../../test/fixtures.js';
import { fromHex, toHex, utf8 } from '../bytes.js';
import { nobleCurve as curve } from './noble.js';
import {
  hasLowR,
  sha256,
  sha256d,
  signLowR,
  signLowRLibwally,
  signRecoverableRfc6979,
  signSchnorrBip340,
  taggedHash,
} from './signatures.js';

const facts = readJsonFixture('vectors/cln-hsmd-facts.json');
const gossip = readJsonFixture('vectors/cln-gossip-signatures.json');

/** Legacy node private keys by node id (README: drop the trailing 01 marker). */
const legacyPriv = new Map<string, Uint8Array>(
  facts.legacy_hsm_secret_node_ids
    .filter((e: any) => e.node_privkey_with_compressed_marker)
    .map((e: any) => [e.node_id, fromHex(e.node_privkey_with_compressed_marker).slice(0, 32)]),
);

test('signing_nonce_facts: sign_hash starts from 32 zero bytes, not NULL', () => {
  const f = facts.signing_nonce_facts[0];
  assert.match(f.fact, /extra_entropy = 32 zero bytes on the FIRST try/);
  // Hence the first try differs from plain RFC 6979 whenever it is accepted.
  const priv = legacyPriv.get('0266e4598d1d3c415f572a8488830b60f7e744ed9235eb0b1ba93283b315c03518')!;
  const hash = sha256(utf8('first try'));
  assert.notEqual(toHex(curve.sign(hash, priv)), toHex(curve.sign(hash, priv, new Uint8Array(32))));
});

test('channel_announcement from autogenerate-rpc-examples reproduces only with the low-R grind', () => {
  const m = gossip.messages[1];
  const msg = fromHex(m.message_hex);
  // BOLT 7: double-SHA256 of the message from offset 256 of the payload (2-byte type first).
  const hash = sha256d(msg.subarray(2 + 256));
  for (const [sigField, idField] of [['node_signature_1', 'node_id_1'], ['node_signature_2', 'node_id_2']]) {
    const priv = legacyPriv.get(m[idField!])!;
    assert.ok(priv, idField);
    assert.equal(toHex(signLowR(curve, hash, priv)), m[sigField!], sigField);
    assert.notEqual(toHex(curve.sign(hash, priv)), m[sigField!], 'plain RFC 6979 differs');
  }
  assert.equal(curve.verify(fromHex(m.bitcoin_signature_1), hash, fromHex(m.bitcoin_key_1)), true);
  assert.equal(curve.verify(fromHex(m.bitcoin_signature_2), hash, fromHex(m.bitcoin_key_2)), true);
});

test('channel_update from autogenerate-rpc-examples needs grind counter 1', () => {
  const m = gossip.messages[2];
  const msg = fromHex(m.message_hex);
  const hash = sha256d(msg.subarray(2 + 64)); // BOLT 7: everything after the signature
  const priv = legacyPriv.get('0266e4598d1d3c415f572a8488830b60f7e744ed9235eb0b1ba93283b315c03518')!;
  const sig = signLowR(curve, hash, priv);
  assert.equal(toHex(sig), m.signature);
  assert.equal(hasLowR(curve.sign(hash, priv, new Uint8Array(32))), false, 'counter 0 is high-R');
  assert.notEqual(toHex(curve.sign(hash, priv)), m.signature, 'plain RFC 6979 differs');
});

test('older test_gossip.py channel_announcement was plain RFC 6979 (transcriber note)', () => {
  const m = gossip.messages[0];
  const hash = sha256d(fromHex(m.message_hex).subarray(2 + 256));
  for (const [sigField, idField] of [['node_signature_1', 'node_id_1'], ['node_signature_2', 'node_id_2']]) {
    const priv = legacyPriv.get(m[idField!])!;
    assert.equal(toHex(curve.sign(hash, priv)), m[sigField!]);
  }
});

test('libwally grind: first try is plain RFC 6979, later tries counter 1, 2, …', () => {
  const m = gossip.messages[2];
  const hash = sha256d(fromHex(m.message_hex).subarray(2 + 64));
  const priv = legacyPriv.get('0266e4598d1d3c415f572a8488830b60f7e744ed9235eb0b1ba93283b315c03518')!;
  const plain = curve.sign(hash, priv);
  const wally = signLowRLibwally(curve, hash, priv);
  assert.ok(hasLowR(wally));
  if (hasLowR(plain)) assert.equal(toHex(wally), toHex(plain));
  else assert.equal(toHex(wally), toHex(signLowR(curve, hash, priv)), 'both reach counter 1 here');
});

test('signRecoverableRfc6979 reproduces BOLT 11 signatures', () => {
  const v = readJsonFixture('vectors/bolt11-invoices.json');
  const priv = fromHex(v.signing_private_key);
  for (const inv of v.valid) {
    const b = inv.signature_breakdown;
    // The high-S example is decode-only (vectors' notes); noble.test.ts covers its low-S form.
    if (!b || inv.description.includes('high-S')) continue;
    const r = signRecoverableRfc6979(curve, fromHex(b.sha256_of_preimage_hex), priv);
    assert.equal(toHex(r.signature), b.signature_rs_hex);
    assert.equal(r.recovery, b.recovery_id);
  }
});

test('taggedHash + signSchnorrBip340 reproduce the BOLT 12 invoice_request signature', () => {
  const v = readJsonFixture('vectors/bolt12-signature-test.json').vectors[3];
  const msg = taggedHash(v.signature_tag, fromHex(v.merkle));
  assert.equal(toHex(msg), v['H(signature_tag,merkle)']);
  assert.equal(toHex(taggedHash(utf8(v.signature_tag), fromHex(v.merkle))), toHex(msg), 'byte tags too');
  assert.equal(toHex(signSchnorrBip340(curve, msg, new Uint8Array(32).fill(0x42))), v.signature);
});

test('taggedHash reproduces BOLT 12 merkle leaves (LnLeaf, LnBranch)', () => {
  const v = readJsonFixture('vectors/bolt12-signature-test.json').vectors[0];
  const leaf = v.leaves[0];
  assert.equal(toHex(taggedHash('LnLeaf', fromHex('010203e8'))), leaf['H(`LnLeaf`,010203e8)']);
  // BOLT 12: LnNonce's tag is "LnNonce" ‖ first-tlv.
  const nonceTag = new Uint8Array([...utf8('LnNonce'), ...fromHex(v['first-tlv'])]);
  const nonce = sha256(new Uint8Array([...sha256(nonceTag), ...sha256(nonceTag), 1]));
  assert.equal(toHex(nonce), leaf['H(`LnNonce`|first-tlv,tlv1-type)']);
});
