/**
 * The differential lane (docs/hsmd-protocol.md#the-differential-lane), channel and on-chain
 * requests: per-channel clients for other peers and dbids, and the recorded session's
 * withdrawal, penalty sweep and commitment requests with fields changed, sent to CLN's
 * lightning_hsmd and to our bin/sphinx-hsmd in the same context (the recording replayed on
 * both up to that point). Without CLN's hsmd these tests do not apply and say so.
 */
import { readFileSync } from 'node:fs';
import test from 'node:test';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { CLN_HSMD, L1, NO_CLN_HSMD, compare, describeOutcome, pairAfter, upTo } from './cln-pair.js';
import { bytes, changed, dbid, point, recorded, sample, u64 } from './cln-variants.js';
import { fixturePath } from './fixtures.js';
import { decodeAs, encodeMessage } from '../signer/wire/messages.js';

const skip = CLN_HSMD ? false : NO_CLN_HSMD;
/** openingd's and channeld's permissions (docs/hsmd-protocol.md#client-sockets). */
const OPENINGD = 0x18n;
const CHANNELD = 0x1bfn;
/** Commitment numbers a shachain covers (below 2^48). */
const commitNum = fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }));

test('per-channel requests for other peers and dbids: basepoints, new_channel, setup_channel, commitment points, future secrets', { skip, timeout: 120_000 }, async (t) => {
  const { pair, conns } = await pairAfter(t, upTo(L1.exchanges, 1));
  const master = conns.get('master')!;
  const setup = recorded(L1.exchanges, 'hsmd_setup_channel');
  const channels = sample(fc.tuple(point, dbid), 6);
  await t.test('hsmd_new_channel and hsmd_get_channel_basepoints on the master', (st) =>
    compare(st, master, channels.flatMap(([peer, id]) => [
      encodeMessage('hsmd_new_channel', { id: peer, dbid: id }),
      encodeMessage('hsmd_get_channel_basepoints', { peerid: peer, dbid: id }),
    ])));
  for (const [i, [peer, id]] of channels.entries()) {
    const client = await pair.client(peer, id, i % 2 === 0 ? OPENINGD : CHANNELD);
    const variants = sample(fc.tuple(commitNum, bytes(32, 32), fc.bigInt({ min: 1000n, max: 1n << 40n }), u64, bytes(32, 32), fc.integer({ min: 0, max: 0xffff })), 6);
    await t.test(`channel ${i}: setup_channel with other values, commitment points, future secrets`, (st) =>
      compare(st, client, [
        ...variants.slice(0, 1).map(([, , value, push, txid, txout]) =>
          changed(setup, { is_outbound: i % 2 === 0, channel_value: value, push_value: push % (value * 1000n), funding_txid: txid, funding_txout: txout })),
        ...variants.flatMap(([n, secret]) => [
          encodeMessage('hsmd_get_per_commitment_point', { n }),
          encodeMessage('hsmd_check_future_secret', { n, commitment_secret: secret }),
        ]),
      ]));
  }
  // Past the shachain's 2^48 numbers both refuse (and close the client): one client each.
  for (const n of [1n << 48n, (1n << 64n) - 1n]) {
    const client = await pair.client(channels[0]![0], channels[0]![1], OPENINGD);
    await t.test(`hsmd_get_per_commitment_point ${n}: both close the client`, (st) =>
      compare(st, client, [encodeMessage('hsmd_get_per_commitment_point', { n })], 'closed'));
  }
});

test('on-chain requests from the session with fields changed: withdrawal, sweeps on other keys and channels', { skip, timeout: 120_000 }, async (t) => {
  // The session up to its last payment round (channel 1 open, its commitments signed).
  const { conns } = await pairAfter(t, upTo(L1.exchanges, 185));
  const master = conns.get('master')!;
  const withdrawal = recorded(L1.exchanges, 'hsmd_sign_withdrawal', 192);
  const utxo = withdrawal.inputs[0]!;
  await t.test('hsmd_sign_withdrawal with other utxo amounts and key indexes, and utxos the PSBT does not spend', (st) =>
    compare(st, master, [
      ...sample(u64, 4).map((amount) => changed(withdrawal, { inputs: [{ ...utxo, amount }] })),
      ...sample(fc.integer({ min: 0, max: 5000 }), 4).map((keyindex) => changed(withdrawal, { inputs: [{ ...utxo, keyindex }] })),
      changed(withdrawal, { inputs: [] }),
      ...sample(fc.tuple(bytes(32, 32), fc.integer({ min: 0, max: 3 })), 2).map(([txid, n]) => changed(withdrawal, { inputs: [{ ...utxo, outpoint: { txid, n } }] })),
    ]));
  const penalty = recorded(L1.exchanges, 'hsmd_sign_penalty_to_us', 104);
  const nonZero = bytes(32, 32).filter((s) => s.some((b) => b !== 0));
  await t.test('hsmd_sign_penalty_to_us with other revocation secrets (channeld)', (st) =>
    compare(st, conns.get('c4')!, sample(nonZero, 6).map((revocation_secret) => changed(penalty, { revocation_secret }))));
  // The sweeps lightningd asks on the master (sign_any_*), on the penalty's transaction and script:
  // for the session's channel and for others, with other secrets, points and commitment numbers.
  const channel1: [Uint8Array, bigint] = [Buffer.from(L1.exchanges.find((e) => e.seq === 104)!.peer!, 'hex'), 1n];
  const contexts = [channel1, ...sample(fc.tuple(point, dbid), 3)];
  const values = sample(fc.tuple(commitNum, nonZero, point, fc.boolean()), contexts.length);
  await t.test('the sign_any_* sweeps of the penalty transaction for this and other channels', (st) =>
    compare(st, master, contexts.flatMap(([peerid, channel_dbid], i) => {
      const [n, secret, remotePoint, anchors] = values[i]!;
      const common = { tx: penalty.tx, wscript: penalty.wscript, input: 0, peerid, channel_dbid };
      return [
        encodeMessage('hsmd_sign_any_penalty_to_us', { revocation_secret: secret, ...common }),
        encodeMessage('hsmd_sign_any_delayed_payment_to_us', { commit_num: n, ...common }),
        encodeMessage('hsmd_sign_any_remote_htlc_to_us', { remote_per_commitment_point: remotePoint, option_anchor_outputs: anchors, ...common }),
        // On the session's channel (setup_channel known) ours refuses this one by design: below.
        ...(i === 0 ? [] : [encodeMessage('hsmd_sign_any_local_htlc_tx', { commit_num: n, option_anchor_outputs: anchors, ...common })]),
      ];
    })));
  // docs/policies.md policy-htlc-tx-holder-output (on in local mode): the penalty transaction pays
  // our wallet, not the output BOLT 3 gives an HTLC transaction of our commitment. CLN signs; ours
  // refuses, and a refusal on the master stops it, so this comes last.
  await t.test('hsmd_sign_any_local_htlc_tx on the session\'s channel, its output not the HTLC transaction\'s: CLN signs, ours refuses', async (st) => {
    const [n, , , anchors] = values[0]!;
    const a = await master.ask(encodeMessage('hsmd_sign_any_local_htlc_tx', { commit_num: n, option_anchor_outputs: anchors, tx: penalty.tx, wscript: penalty.wscript, input: 0, peerid: channel1[0], channel_dbid: channel1[1] }));
    st.diagnostic(`CLN: ${describeOutcome(a.cln)}; ours: ${describeOutcome(a.ours)}`);
    assert.equal(a.cln.kind, 'reply');
    assert.equal(a.ours.kind, 'fatal', 'a bad request on the master stops our hsmd');
  });
});

test("channel requests for channels our signer has no history of (lightningd restarted on its database): the same signatures", { skip, timeout: 120_000 }, async (t) => {
  const { pair, conns } = await pairAfter(t, upTo(L1.exchanges, 185));
  const signRemote = recorded(L1.exchanges, 'hsmd_sign_remote_commitment_tx', 181);
  const validate = recorded(L1.exchanges, 'hsmd_validate_commitment_tx', 184);
  const htlc = recorded(L1.exchanges, 'hsmd_sign_remote_htlc_tx', 92);
  const close = recorded(L1.exchanges, 'hsmd_sign_mutual_close_tx', 196);
  const signOurs = recorded(L1.exchanges, 'hsmd_sign_commitment_tx', 197);
  for (const [i, [peer, id, n, secret]] of sample(fc.tuple(point, dbid, commitNum.map((n) => n + 1n), bytes(32, 32)), 3).entries()) {
    const channeld = await pair.client(peer, id, CHANNELD);
    await t.test(`channel ${i}: commitments, revocations, an HTLC tx, a mutual close`, (st) =>
      compare(st, channeld, [
        changed(signRemote, { commit_num: n }),
        changed(validate, { commit_num: n }),
        // As lightningd orders them: having our commitment n, revoke n - 1; having signed theirs, take their n - 1's secret.
        encodeMessage('hsmd_revoke_commitment_tx', { commit_num: n - 1n }),
        encodeMessage('hsmd_validate_revocation', { revoke_num: n - 1n, per_commitment_secret: secret }),
        changed(htlc, { remote_per_commit_point: signRemote.remote_per_commit }), // an HTLC of the commitment just signed
        changed(close, {}),
      ]));
    await t.test(`channel ${i}: sign_commitment_tx on the master`, (st) =>
      compare(st, conns.get('master')!, [changed(signOurs, { peer_id: peer, channel_dbid: id, commit_num: n })]));
  }
});

test("the chain run's unilateral close and its sweep (lightningd's requests) with other numbers, inputs and channels", { skip, timeout: 60_000 }, async (t) => {
  // test/fixtures/chain: requests a real lightningd sent (the replies there are ours, not CLN's).
  const chain = readFileSync(fixturePath('chain/session-l1.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; req: string });
  const request = (id: string): Uint8Array => Buffer.from(chain.find((r) => r.id === id)!.req, 'hex');
  const { conns } = await pairAfter(t, upTo(L1.exchanges, 1));
  const sweep = decodeAs('hsmd_sign_any_delayed_payment_to_us', request('184'));
  const close = decodeAs('hsmd_sign_commitment_tx', request('181'));
  await compare(t, conns.get('master')!, [
    request('181'),
    request('184'),
    request('186'),
    ...sample(fc.tuple(commitNum, point, dbid), 6).flatMap(([n, peerid, id]) => [
      encodeMessage('hsmd_sign_any_delayed_payment_to_us', { ...sweep, commit_num: n }),
      encodeMessage('hsmd_sign_any_delayed_payment_to_us', { ...sweep, peerid, channel_dbid: id }),
      encodeMessage('hsmd_sign_commitment_tx', { ...close, commit_num: n, peer_id: peerid, channel_dbid: id }),
    ]),
    // An input the transaction does not have: both stop.
    encodeMessage('hsmd_sign_any_delayed_payment_to_us', { ...sweep, input: 1 }),
  ], 'fatal');
});
