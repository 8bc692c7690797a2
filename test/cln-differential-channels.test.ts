/**
 * The differential lane (docs/hsmd-protocol.md#the-differential-lane), channel and on-chain
 * requests: per-channel clients for other peers and dbids, and the recorded session's
 * withdrawal, penalty sweep and commitment requests with fields changed, sent to CLN's
 * lightning_hsmd and to our bin/sphinx-hsmd in the same context (the recording replayed on
 * both up to that point). Without CLN's hsmd these tests do not apply and say so.
 */
import test from 'node:test';
import fc from 'fast-check';
import { CLN_HSMD, L1, NO_CLN_HSMD, compare, pairAfter, upTo } from './cln-pair.js';
import { bytes, changed, dbid, point, recorded, sample, u64 } from './cln-variants.js';
import { encodeMessage } from '../signer/wire/messages.js';

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
        encodeMessage('hsmd_sign_any_local_htlc_tx', { commit_num: n, option_anchor_outputs: anchors, ...common }),
      ];
    })));
});
