/**
 * Node- and channel-level requests no recording contains (docs/hsmd-protocol.md#recorded-facts): cannouncement_sig_req
 * (2), check_future_secret (22), get_output_scriptpubkey (24), sign_bolt12 (25),
 * sign_option_will_fund_offer (26), sign_bolt12_2 (41), bip137_sign_message (45) and the
 * preapprove forms (38, 39, 52). Expected keys and values come from CLN itself (its recorded
 * replies: init's node id and bolt12 key, get_channel_basepoints, revoke_commitment_tx's old
 * secret, derive_secret, lightningd's check_pubkey / check_bip86_pubkey keys) or from the
 * BOLT 12 signature vector; each reply is verified against them, never against our own code.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { fixturePath, readJsonFixture } from '../../test/fixtures.js';
import { clientOf, loadTranscript, type Exchange } from '../../test/transcript.js';
import { concat, fromHex, toHex, utf8 } from '../bytes.js';
import { nobleCurve as curve } from '../crypto/noble.js';
import type { Decision } from '../decision.js';
import { HSM_PERM_COMMITMENT_POINT, HSM_PERM_SIGN_GOSSIP, HSM_PERM_SIGN_WILL_FUND_OFFER, MASTER_PERMISSIONS } from '../permissions.js';
import { LOCAL_POLICY } from '../policy/policy.js';
import { Signer } from '../signer.js';
import { decodeAs, encodeMessage } from '../wire/messages.js';

const MASTER_PEER: Uint8Array = new Uint8Array(33);
const typeOf = (hex: string): number => parseInt(hex.slice(0, 4), 16);
const sha256d = (b: Uint8Array): Uint8Array => sha256(sha256(b));

interface Replayed {
  exchanges: Exchange[];
  send: (frame: Uint8Array, peer?: Uint8Array, dbid?: bigint, perms?: bigint) => Decision;
  nodeId: Uint8Array;
  bolt12: Uint8Array;
}

/** A recorded session replayed through a fresh Signer; `send` defaults to the master. */
function replayed(name: string): Replayed {
  const { header, exchanges } = loadTranscript(fixturePath(`transcripts/${name}`));
  const signer = new Signer({ curve, developer: header.hsmd_args.includes('--developer'), readHsmSecret: () => fromHex(header.hsm_secret), policy: LOCAL_POLICY });
  let id = 0n;
  const send = (message: Uint8Array, peer = MASTER_PEER, dbid = 0n, permissions = MASTER_PERMISSIONS): Decision =>
    signer.handle({ id: ++id, client: { peer, dbid, permissions }, at: 0, message });
  for (const ex of exchanges) {
    if (typeOf(ex.req) === 9) continue;
    const c = clientOf(ex);
    send(fromHex(ex.req), c.peer, c.dbid, c.permissions);
  }
  const init = decodeAs('hsmd_init_reply_v4', fromHex(exchanges.find((ex) => typeOf(ex.req) === 11)!.rep!));
  return { exchanges, send, nodeId: init.node_id, bolt12: init.bolt12 };
}

const frameOf = (d: Decision): Uint8Array => {
  assert.equal(d.reply.kind, 'frame', JSON.stringify(d.reply));
  return (d.reply as { frame: Uint8Array }).frame;
};

const legacy = replayed('hsmd-basic-legacy.jsonl');
const mnemonic = replayed('hsmd-basic-mnemonic.jsonl');
const session = replayed('session-basic-l1.jsonl');

test('cannouncement_sig_req (2) gives the recorded sign_any_cannouncement (4) signatures as reply 102', () => {
  const recorded = session.exchanges.filter((ex) => typeOf(ex.req) === 4);
  assert.ok(recorded.length > 0);
  for (const ex of recorded) {
    const m = decodeAs('hsmd_sign_any_cannouncement_req', fromHex(ex.req));
    // handle_cannouncement_sig: the channel is the connection's (c->id, c->dbid).
    const d = session.send(encodeMessage('hsmd_cannouncement_sig_req', { ca: m.ca }), m.peerid, m.channel_dbid, HSM_PERM_SIGN_GOSSIP);
    const any = decodeAs('hsmd_sign_any_cannouncement_reply', fromHex(ex.rep!));
    assert.equal(toHex(frameOf(d)), toHex(encodeMessage('hsmd_cannouncement_sig_reply', any)));
  }
  // handle_sign_cannouncement: too short is a bad request naming the length.
  const short = session.send(encodeMessage('hsmd_cannouncement_sig_req', { ca: new Uint8Array(10) }), MASTER_PEER, 1n, HSM_PERM_SIGN_GOSSIP);
  assert.deepEqual(short.reply, { kind: 'bad-request', description: 'bad cannounce length 10' });
});

test('check_future_secret (22): true for the secret CLN revealed in revoke_commitment_tx, false otherwise', () => {
  const revokes = session.exchanges.filter((ex) => typeOf(ex.req) === 40);
  assert.ok(revokes.length > 0);
  for (const ex of revokes.slice(0, 4)) {
    const n = decodeAs('hsmd_revoke_commitment_tx', fromHex(ex.req)).commit_num;
    const secret = decodeAs('hsmd_revoke_commitment_tx_reply', fromHex(ex.rep!)).old_commitment_secret;
    const peer = fromHex(ex.peer!);
    const ask = (s: Uint8Array, k = n) =>
      session.send(encodeMessage('hsmd_check_future_secret', { n: k, commitment_secret: s }), peer, BigInt(ex.dbid), HSM_PERM_COMMITMENT_POINT);
    assert.deepEqual(decodeAs('hsmd_check_future_secret_reply', frameOf(ask(secret))), { correct: true });
    const wrong = secret.slice();
    wrong[31]! ^= 1;
    assert.deepEqual(decodeAs('hsmd_check_future_secret_reply', frameOf(ask(wrong))), { correct: false });
    assert.deepEqual(decodeAs('hsmd_check_future_secret_reply', frameOf(ask(secret, n + 1n))), { correct: false });
  }
  const big = session.send(encodeMessage('hsmd_check_future_secret', { n: 1n << 48n, commitment_secret: new Uint8Array(32) }), fromHex(revokes[0]!.peer!), 1n, HSM_PERM_COMMITMENT_POINT);
  assert.deepEqual(big.reply, { kind: 'bad-request', description: `bad commit secret #${1n << 48n}` });
});

test('get_output_scriptpubkey (24): P2WPKH of the payment basepoint CLN sent, tweaked by the point if given', () => {
  const ex = session.exchanges.find((e) => typeOf(e.req) === 10)!;
  const { peerid, dbid } = decodeAs('hsmd_get_channel_basepoints', fromHex(ex.req));
  const payment = decodeAs('hsmd_get_channel_basepoints_reply', fromHex(ex.rep!)).basepoints.payment;
  const p2wpkh = (pub: Uint8Array) => toHex(concat(Uint8Array.of(0, 20), hash160(pub)));
  const ask = (commitment_point: Uint8Array | undefined) =>
    decodeAs('hsmd_get_output_scriptpubkey_reply', frameOf(session.send(encodeMessage('hsmd_get_output_scriptpubkey', { channel_id: dbid, peer_id: peerid, commitment_point })))).script;
  assert.equal(toHex(ask(undefined)), p2wpkh(payment));
  const point = curve.publicKey(new Uint8Array(32).fill(7));
  assert.equal(toHex(ask(point)), p2wpkh(curve.pointAddTweak(payment, sha256(concat(point, payment)))));
});

const vector = readJsonFixture('vectors/bolt12-signature-test.json').vectors[3] as Record<string, string>;

test('sign_bolt12 (25): BIP 340 over the BOLT 12 vector sighash, node id without tweak, payer key with', () => {
  const merkleroot = fromHex(vector.merkle!);
  const message = fromHex(vector['H(signature_tag,merkle)']!);
  assert.equal(vector.signature_tag, 'lightning' + 'invoice_request' + 'signature');
  const sign = (publictweak: Uint8Array) =>
    decodeAs('hsmd_sign_bolt12_reply', frameOf(legacy.send(encodeMessage('hsmd_sign_bolt12', { messagename: 'invoice_request', fieldname: 'signature', merkleroot, publictweak })))).sig;
  assert.ok(curve.verifySchnorr(sign(new Uint8Array(0)), message, legacy.nodeId.subarray(1)));
  // payer_key_tweak: bolt12 base + SHA256(bolt12 base pubkey ‖ publictweak), the base from init.
  const tweak = utf8('payer-tweak');
  const payer = curve.pointAddTweak(legacy.bolt12, sha256(concat(legacy.bolt12, tweak)));
  assert.ok(curve.verifySchnorr(sign(tweak), message, payer.subarray(1)));
});

test('sign_bolt12_2 (41): node id without tweak; with one, node id + SHA256(derive_secret(info) ‖ tweak)', () => {
  const merkleroot = fromHex(vector.merkle!);
  const message = fromHex(vector['H(signature_tag,merkle)']!);
  const info = utf8('bolt12-alias-info');
  const sign = (publictweak: Uint8Array) =>
    decodeAs('hsmd_sign_bolt12_2_reply', frameOf(legacy.send(encodeMessage('hsmd_sign_bolt12_2', { messagename: 'invoice_request', fieldname: 'signature', merkleroot, info, publictweak })))).sig;
  assert.ok(curve.verifySchnorr(sign(new Uint8Array(0)), message, legacy.nodeId.subarray(1)));
  // handle_sign_bolt12_2 takes HKDF of derived_secret with `info`: what handle_derive_secret answers.
  const base = decodeAs('hsmd_derive_secret_reply', frameOf(legacy.send(encodeMessage('hsmd_derive_secret', { info })))).secret;
  const tweak = utf8('alias-tweak');
  const alias = curve.pointAddTweak(legacy.nodeId, sha256(concat(base, tweak)));
  assert.ok(curve.verifySchnorr(sign(tweak), message, alias.subarray(1)));
});

test('sign_option_will_fund_offer (26): ECDSA under the node id over lease_rates_get_commitment', () => {
  const funding_pubkey = curve.publicKey(new Uint8Array(32).fill(9));
  const fields = { funding_pubkey, blockheight: 800_123, channel_fee_base_max_msat: 5000, channel_fee_proportional_basis_max: 100 };
  const d = session.send(encodeMessage('hsmd_sign_option_will_fund_offer', fields), MASTER_PEER, 0n, HSM_PERM_SIGN_WILL_FUND_OFFER);
  const { rsig } = decodeAs('hsmd_sign_option_will_fund_offer_reply', frameOf(d));
  // SHA256("option_will_fund" ‖ funding_pubkey ‖ be32 blockheight ‖ be32 fee base ‖ be16 ppt).
  const tail = new Uint8Array(10);
  new DataView(tail.buffer).setUint32(0, 800_123);
  new DataView(tail.buffer).setUint32(4, 5000);
  new DataView(tail.buffer).setUint16(8, 100);
  const hash = sha256(concat(utf8('option_will_fund'), funding_pubkey, tail));
  assert.ok(curve.verify(rsig, hash, session.nodeId));
  assert.ok(secp256k1.Signature.fromBytes(rsig, 'compact').hasHighS() === false, 'libsecp256k1 signs low-S');
});

/** BIP 137 message hash: SHA256d("\x18Bitcoin Signed Message:\n" ‖ varint(len) ‖ msg). */
const bip137Hash = (msg: Uint8Array): Uint8Array => sha256d(concat(utf8('\x18Bitcoin Signed Message:\n'), Uint8Array.of(msg.length), msg));

for (const [label, r, type] of [['legacy (BIP 32 m/0/0/i)', legacy, 28], ['mnemonic (BIP 86)', mnemonic, 56]] as const) {
  test(`bip137_sign_message (45), ${label}: recovers to lightningd's wallet key at keyidx`, () => {
    // lightningd's own key for an index (check_pubkey / check_bip86_pubkey request).
    const ex = r.exchanges.find((e) => typeOf(e.req) === type)!;
    const { index, pubkey } = type === 28 ? decodeAs('hsmd_check_pubkey', fromHex(ex.req)) : decodeAs('hsmd_check_bip86_pubkey', fromHex(ex.req));
    const msg = utf8('sphinx-key bip137 test');
    const { sig } = decodeAs('hsmd_bip137_sign_message_reply', frameOf(r.send(encodeMessage('hsmd_bip137_sign_message', { msg, keyidx: index }))));
    const recovered = secp256k1.recoverPublicKey(concat(Uint8Array.of(sig.recovery), sig.signature), bip137Hash(msg), { prehash: false });
    assert.equal(toHex(recovered), toHex(pubkey));
    // bitcoin_key / bip86_key: an index >= 2^31 is STATUS_FAIL_MASTER_IO.
    const big = r.send(encodeMessage('hsmd_bip137_sign_message', { msg, keyidx: 0x8000_0000 }));
    assert.equal(big.reply.kind, 'fatal');
  });
}

test("check_pubkey (28) with another node's wallet key: hsmd's fatal text, then what to do about another node's seed", () => {
  // lightningd's own check_pubkey of the legacy node (secret 0x01×32), sent to the mnemonic one.
  const ex = legacy.exchanges.find((e) => typeOf(e.req) === 28)!;
  const { index, pubkey } = decodeAs('hsmd_check_pubkey', fromHex(ex.req));
  const d = mnemonic.send(fromHex(ex.req));
  assert.equal(d.reply.kind, 'fatal');
  const { failure, description } = d.reply as { failure: string; description: string };
  assert.equal(failure, 'internal');
  assert.match(description, new RegExp(`^BIP32 derivation index ${index} differed: they got ${toHex(pubkey)}, we got [0-9a-f]{66}: `));
  assert.ok(description.endsWith(": the signer's hsm_secret is not this node's (a device set up with another node's seed?): " +
    "give the signer this node's hsm_secret, or run lightningd on the node that seed belongs to"), description);
  // The node whose key it is agrees.
  assert.equal(legacy.send(fromHex(ex.req)).reply.kind, 'frame');
});

test('preapprove_invoice (38), preapprove_keysend (39) and keysend_check (52) approve with replies 138/139', () => {
  const dest = legacy.nodeId;
  const hash = new Uint8Array(32).fill(5);
  const inv = frameOf(legacy.send(encodeMessage('hsmd_preapprove_invoice', { invstring: 'lnbcrt1test' })));
  assert.equal(toHex(inv), toHex(encodeMessage('hsmd_preapprove_invoice_reply', { approved: true })));
  for (const frame of [
    encodeMessage('hsmd_preapprove_keysend', { destination: dest, payment_hash: hash, amount_msat: 1000n }),
    encodeMessage('hsmd_preapprove_keysend_check', { destination: dest, payment_hash: hash, amount_msat: 1000n, check_only: true }),
  ]) {
    assert.equal(toHex(frameOf(legacy.send(frame))), toHex(encodeMessage('hsmd_preapprove_keysend_reply', { approved: true })));
  }
});

/** RIPEMD160(SHA256(x)). */
function hash160(b: Uint8Array): Uint8Array {
  return ripemd160(sha256(b));
}
