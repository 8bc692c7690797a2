/**
 * Commitment handlers against the recorded sessions: every commitment-level reply
 * byte-identical to CLN v25.12.1's, each named policy refusing one recorded request with
 * one field changed, warn-only demotion, and a signer whose state begins mid-channel.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { fromHex, toHex } from '../bytes.js';
import type { Decision } from '../decision.js';
import { decodeAs, encodeMessage, type MessageFields } from '../wire/messages.js';
import { sha256 } from '../crypto/signatures.js';
import { nobleCurve } from '../crypto/noble.js';
import { openKeyRing } from '../keys/node-keys.js';
import { fundingScript } from '../bolt3/scripts.js';
import { SIGHASH_ALL, witnessV0Sighash } from '../bolt3/sighash.js';
import { parseTx, serializeTx } from '../bolt3/tx.js';
import { fixturePath } from '../../test/fixtures.js';
import { loadTranscript } from '../../test/transcript.js';
import { DEFAULT_POLICY, type PolicyConfig, type PolicyName } from '../policy/policy.js';
import { COMMITMENT_TYPES, modified, Session, typeOf } from '../../test/commitment-session.js';

const L1 = 'session-basic-l1.jsonl';

/** Asserts a refusal that names `policy`. */
function assertRefused(d: Decision, policy: PolicyName): void {
  assert.equal(d.reply.kind, 'bad-request', `expected a refusal naming ${policy}`);
  assert.match((d.reply as { description: string }).description, new RegExp(`${policy}:`));
  assert.deepEqual(d.events, []);
}

/** A session of l1 replayed up to (not including) `seq`. */
function l1Before(seq: number, policy?: PolicyConfig): Session {
  const s = new Session(L1, policy);
  assert.deepEqual(s.replayUntil(seq).mismatches, []);
  return s;
}

for (const name of ['session-basic-l1.jsonl', 'session-basic-l2.jsonl']) {
  test(`${name}: every commitment-level reply byte-identical, nothing refused`, (t) => {
    const s = new Session(name);
    const { mismatches, matched } = s.replayUntil();
    assert.deepEqual(mismatches, []);
    const recorded = new Map<number, number>();
    for (const ex of s.exchanges) if (COMMITMENT_TYPES.has(typeOf(ex.req))) recorded.set(typeOf(ex.req), (recorded.get(typeOf(ex.req)) ?? 0) + 1);
    for (const [type, count] of recorded) assert.equal(matched.get(type), count, `type ${type}`);
    t.diagnostic(`byte-identical: ${[...recorded].map(([type, n]) => `${type}×${n}`).join(' ')}`);
  });
}

test('policy-feerate-range: a feerate below the minimum is refused', () => {
  const s = l1Before(91);
  assertRefused(s.send(s.at(91), modified(s.at(91), 'hsmd_sign_remote_commitment_tx', (m) => ({ ...m, feerate: 100 }))), 'policy-feerate-range');
});

test('policy-htlc-count: more HTLCs than configured are refused', () => {
  const s = l1Before(91, { ...DEFAULT_POLICY, maxHtlcs: 0 });
  assertRefused(s.send(s.at(91)), 'policy-htlc-count');
});

test('policy-htlc-value: an HTLC above the in-flight limit is refused', () => {
  const s = l1Before(91);
  const frame = modified(s.at(91), 'hsmd_sign_remote_commitment_tx', (m) => ({
    ...m,
    htlcs: m.htlcs.map((h) => ({ ...h, amount: (DEFAULT_POLICY.maxHtlcValueSat + 1n) * 1000n })),
  }));
  assertRefused(s.send(s.at(91), frame), 'policy-htlc-value');
});

test('policy-to-self-delay-range: setup_channel with a to_self_delay above the maximum', () => {
  const s = l1Before(73);
  s.send(s.at(73), modified(s.at(73), 'hsmd_setup_channel', (m) => ({ ...m, local_to_self_delay: 5000 })));
  assertRefused(s.send(s.at(74)), 'policy-to-self-delay-range');
});

test('policy-channel-value: setup_channel with a channel value above the maximum', () => {
  const s = l1Before(73);
  s.send(s.at(73), modified(s.at(73), 'hsmd_setup_channel', (m) => ({ ...m, channel_value: 3_000_000_000_000_000n })));
  assertRefused(s.send(s.at(74)), 'policy-channel-value');
});

test('policy-commitment-counterparty-order: skipping a number, or signing n before n-2 is revoked', () => {
  const skip = l1Before(98);
  assertRefused(skip.send(skip.at(101)), 'policy-commitment-counterparty-order'); // n=3 after n=1
  const early = l1Before(93); // signed 1, revocation of 0 not yet received
  assertRefused(early.send(early.at(98)), 'policy-commitment-counterparty-order'); // n=2
});

test('policy-retry-identical: identical retry gets the identical reply, a changed one is refused', () => {
  const s = l1Before(92);
  const retry = s.send(s.at(91));
  assert.equal(retry.reply.kind === 'frame' && toHex(retry.reply.frame), s.at(91).rep);
  assert.deepEqual(retry.events, []);
  assertRefused(s.send(s.at(91), modified(s.at(91), 'hsmd_sign_remote_commitment_tx', (m) => ({ ...m, feerate: 1256 }))), 'policy-retry-identical');
  const v = l1Before(95); // holder commitment 1 validated at 94
  assertRefused(v.send(v.at(94), modified(v.at(94), 'hsmd_validate_commitment_tx', (m) => ({ ...m, feerate: 1256 }))), 'policy-retry-identical');
});

test('policy-revocation-secret-matches-point: a secret that is not of the signed point', () => {
  const s = l1Before(93);
  const other = fromHex('11'.repeat(32));
  assertRefused(s.send(s.at(93), modified(s.at(93), 'hsmd_validate_revocation', (m) => ({ ...m, per_commitment_secret: other }))),
    'policy-revocation-secret-matches-point');
});

test('policy-revocation-shachain: a secret that does not derive the stored ones', () => {
  const s = l1Before(99); // secret 0 stored; 1 must derive it
  const bogus = modified(s.at(99), 'hsmd_validate_revocation', (m) => ({ ...m, per_commitment_secret: fromHex('22'.repeat(32)) }));
  assertRefused(s.send(s.at(99), bogus), 'policy-revocation-shachain');
});

test('policy-revocation-order: a revocation that skips one', () => {
  const s = l1Before(99); // last revoked 0
  assertRefused(s.send(s.at(103)), 'policy-revocation-order'); // revoke 2
});

test('policy-revocation-order and policy-revocation-secret-matches-point: a number no commitment has (2^48), a secret that is no key (0, the group order)', () => {
  const s = l1Before(99);
  const revocation = (change: (m: { revoke_num: bigint; per_commitment_secret: Uint8Array }) => object) =>
    modified(s.at(99), 'hsmd_validate_revocation', (m) => ({ ...m, ...change(m) }));
  assertRefused(s.send(s.at(99), revocation(() => ({ revoke_num: 1n << 48n }))), 'policy-revocation-order');
  assertRefused(s.send(s.at(99), revocation(() => ({ per_commitment_secret: new Uint8Array(32) }))), 'policy-revocation-secret-matches-point');
  const order = fromHex('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');
  assertRefused(s.send(s.at(99), revocation(() => ({ per_commitment_secret: order }))), 'policy-revocation-secret-matches-point');
});

test('policy-commitment-holder-order: validating a holder commitment out of order', () => {
  const s = l1Before(96); // validated 1, revoked 0
  assertRefused(s.send(s.at(105)), 'policy-commitment-holder-order'); // n=3
});

test('policy-revoke-holder-current: revoking the latest validated commitment', () => {
  const s = l1Before(95); // validated 1
  assertRefused(s.send(s.at(97)), 'policy-revoke-holder-current'); // revoke 1
});

test('policy-commitment-revoked-holder: sign_commitment_tx for a revoked commitment', () => {
  const s = l1Before(197); // holder commitments revoked through 15
  assertRefused(s.send(s.at(197), modified(s.at(197), 'hsmd_sign_commitment_tx', (m) => ({ ...m, commit_num: 15n }))),
    'policy-commitment-revoked-holder');
});

test('policy-htlc-tx-counterparty-point: an HTLC tx for a point we signed no commitment for', () => {
  const s = l1Before(92);
  const otherPoint = decodeAs('hsmd_sign_remote_commitment_tx', fromHex(s.at(98).req)).remote_per_commit; // of n=2
  const frame = modified(s.at(92), 'hsmd_sign_remote_htlc_tx', (m) => ({ ...m, remote_per_commit_point: otherPoint }));
  assertRefused(s.send(s.at(92), frame), 'policy-htlc-tx-counterparty-point');
});

test('policy-commitment-counterparty-signature: a peer signature not over our commitment', () => {
  const s = l1Before(94);
  const frame = modified(s.at(94), 'hsmd_validate_commitment_tx', (m) => ({
    ...m,
    sig: { ...m.sig, signature: m.sig.signature.map((b, i) => (i === 63 ? b ^ 1 : b)) },
  }));
  assertRefused(s.send(s.at(94), frame), 'policy-commitment-counterparty-signature');
});

test('warn-only: a demoted rule gives a PolicyWarned event and the normal reply', () => {
  const s = l1Before(91, { ...DEFAULT_POLICY, warnOnly: new Set<PolicyName>(['policy-feerate-range']) });
  const d = s.send(s.at(91), modified(s.at(91), 'hsmd_sign_remote_commitment_tx', (m) => ({ ...m, feerate: 100 })));
  // The feerate is not signed: the signature is the recorded one.
  assert.equal(d.reply.kind === 'frame' && toHex(d.reply.frame), s.at(91).rep);
  assert.equal(d.events[0]?.kind, 'PolicyWarned');
  assert.equal(d.events[0]?.kind === 'PolicyWarned' && d.events[0].policy, 'policy-feerate-range');
  assert.equal(d.events[1]?.kind, 'CounterpartyCommitmentSigned');
});

test('malformed transactions are bad requests, not exceptions', () => {
  const s = l1Before(91);
  const frame = modified(s.at(91), 'hsmd_sign_remote_commitment_tx', (m) => ({ ...m, tx: { ...m.tx, tx: m.tx.tx.subarray(0, 20) } }));
  const d = s.send(s.at(91), frame);
  assert.equal(d.reply.kind, 'bad-request');
  assert.match((d.reply as { description: string }).description, /malformed tx/);
  const psbt = modified(s.at(91), 'hsmd_sign_remote_commitment_tx', (m) => ({ ...m, tx: { ...m.tx, psbt: Uint8Array.of(1, 2, 3) } }));
  assert.match((s.send(s.at(91), psbt).reply as { description: string }).description, /malformed psbt/);
});

test('restart mid-channel (docs/hsmd-protocol.md#recorded-facts): no new_channel/setup_channel state, CLN replies, nothing refused', () => {
  const s = new Session(L1);
  // The state begins at seq 110: channel messages before it never reached this signer.
  const channelLevel = new Set([18, 22, 30, 31, 32, 37, ...COMMITMENT_TYPES]);
  assert.deepEqual(s.replayUntil(110, (ex) => !channelLevel.has(typeOf(ex.req))).mismatches, []);
  const { mismatches, matched } = s.replayUntil();
  assert.deepEqual(mismatches, []);
  assert.ok((matched.get(19) ?? 0) >= 8);
});

test('check_future_secret still confirms our own revealed secrets (data-loss recovery)', () => {
  const s = l1Before(96);
  const revoke = s.send(s.at(95)); // revoke 0: reply carries secret 0
  assert.equal(revoke.reply.kind, 'frame');
  const secret0 = (revoke.reply as { frame: Uint8Array }).frame.subarray(2, 34);
  const frame = Uint8Array.of(0, 22, ...new Uint8Array(8), ...secret0); // check_future_secret n=0
  const d = s.send(s.at(95), frame);
  assert.equal(d.reply.kind === 'frame' && toHex(d.reply.frame), '007a01');
});


/**
 * Signs a holder commitment of l1's channel as its peer would: the peer is session-basic-l2's
 * node (its hsm_secret is in that recording's header; its channel with l1 has dbid 1 there).
 */
function peerSigner(v: Session): (tx: Uint8Array, entropy?: Uint8Array) => Uint8Array {
  const l1Id = decodeAs('hsmd_init_reply_v4', fromHex(v.exchanges.find((e) => typeOf(e.req) === 11)!.rep!)).node_id;
  const secretOf = (name: string) => fromHex(loadTranscript(fixturePath(`transcripts/${name}`)).header.hsm_secret);
  const peer = openKeyRing(nobleCurve, secretOf('session-basic-l2.jsonl')).channel(l1Id, 1n);
  const ours = openKeyRing(nobleCurve, secretOf('session-basic-l1.jsonl')).channel(fromHex(v.at(94).peer!), 1n);
  const value = decodeAs('hsmd_setup_channel', fromHex(v.at(73).req)).channel_value;
  const script = fundingScript(ours.fundingPublicKey, peer.fundingPublicKey);
  return (tx, entropy) => nobleCurve.sign(witnessV0Sighash(parseTx(tx), 0, script, value, SIGHASH_ALL), peer.fundingPrivateKey, entropy);
}

test('policy-retry-identical: the same holder commitment with another valid peer signature is a retry', () => {
  const v = l1Before(95); // holder commitment 1 validated at 94
  const request = decodeAs('hsmd_validate_commitment_tx', fromHex(v.at(94).req));
  const resigned = peerSigner(v)(request.tx.tx, new Uint8Array(32).fill(7)); // another nonce
  assert.notEqual(toHex(resigned), toHex(request.sig.signature));
  const again = v.send(v.at(94), encodeMessage('hsmd_validate_commitment_tx', { ...request, sig: { signature: resigned, sighash: SIGHASH_ALL } }));
  assert.equal(again.reply.kind === 'frame' && toHex(again.reply.frame), v.at(94).rep);
  assert.deepEqual(again.events, []);
});

/** The recorded request with its funding input moved to another outpoint (a splice candidate). */
function onOtherFunding<N extends 'hsmd_sign_remote_commitment_tx' | 'hsmd_validate_commitment_tx'>(
  frame: Uint8Array,
  name: N,
  resign?: (tx: Uint8Array) => Uint8Array,
): Uint8Array {
  const m = decodeAs(name, frame) as MessageFields<'hsmd_validate_commitment_tx'> & MessageFields<N>;
  const tx = parseTx(m.tx.tx);
  const moved = serializeTx({ ...tx, inputs: [{ ...tx.inputs[0]!, prevTxid: sha256(tx.inputs[0]!.prevTxid) }] });
  const fields = { ...m, tx: { ...m.tx, tx: moved } };
  if (resign) Object.assign(fields, { sig: { signature: resign(moved), sighash: SIGHASH_ALL } });
  return encodeMessage(name, fields as MessageFields<N>);
}

test('policy-retry-identical: commitment n for another funding outpoint (a splice in flight) is not a conflicting retry', () => {
  const s = l1Before(92); // counterparty commitment 1 signed at 91
  const signed = s.send(s.at(91), onOtherFunding(fromHex(s.at(91).req), 'hsmd_sign_remote_commitment_tx'));
  assert.equal(signed.reply.kind, 'frame', JSON.stringify(signed.reply));
  assert.equal(signed.events[0]?.kind, 'CounterpartyCommitmentSigned');

  const v = l1Before(95); // holder commitment 1 validated at 94; the peer signs the splice candidate too
  const resign = peerSigner(v);
  const validated = v.send(v.at(94), onOtherFunding(fromHex(v.at(94).req), 'hsmd_validate_commitment_tx', resign));
  assert.equal(validated.reply.kind === 'frame' && toHex(validated.reply.frame), v.at(94).rep);
});
