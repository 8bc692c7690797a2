/**
 * The differential lane (docs/hsmd-protocol.md#the-differential-lane): when SPHINX_CLN_HSMD names
 * CLN v25.12.1's lightning_hsmd, requests the recordings do not hold go to it and to our
 * bin/sphinx-hsmd (local mode, a fresh data directory, the same hsm_secret and flags), and both
 * must do the same: the same reply bytes, or both close the connection, or both stop with the
 * same status_fail reason. Where our signer refuses what CLN signs, the refusal must name a
 * rule of docs/policies.md. Without CLN's hsmd these tests do not apply and say so.
 */
import test from 'node:test';
import fc from 'fast-check';
import { CLN_HSMD, L1, NO_CLN_HSMD, compare, pairAfter, upTo } from './cln-pair.js';
import {
  bolt12Requests, bytes, changed, childPubkey, initKeys, invoiceRequests, notAPoint, point, recorded, sample, u64, walletIndex,
} from './cln-variants.js';
import { encodeMessage } from '../signer/wire/messages.js';

const skip = CLN_HSMD ? false : NO_CLN_HSMD;
test('node requests with other fields: ecdh, derive_secret, check_pubkey, sign_message, sign_invoice, BOLT 12, gossip, basepoints', { skip, timeout: 120_000 }, async (t) => {
  // Start-up as recorded (init, the key scan, connectd's and gossipd's clients), then variants.
  const { conns } = await pairAfter(t, upTo(L1.exchanges, 57));
  const master = conns.get('master')!;
  const keys = initKeys(L1.exchanges[0]!.rep!);

  await t.test('hsmd_ecdh_req with other points (connectd)', (st) =>
    compare(st, conns.get('c1')!, sample(point, 40).map((p) => encodeMessage('hsmd_ecdh_req', { point: p }))));
  await t.test('hsmd_derive_secret with other infos', (st) =>
    compare(st, master, sample(bytes(80), 30).map((info) => encodeMessage('hsmd_derive_secret', { info }))));
  await t.test('hsmd_check_pubkey at other indexes (the wallet key there)', (st) =>
    compare(st, master, sample(walletIndex, 30).map((index) => encodeMessage('hsmd_check_pubkey', { index, pubkey: childPubkey(keys.bip32, [index]) }))));
  await t.test('hsmd_sign_message with other messages', (st) =>
    compare(st, master, sample(bytes(300), 30).map((msg) => encodeMessage('hsmd_sign_message', { msg }))));
  await t.test('hsmd_sign_invoice with other data and hrps', (st) => compare(st, master, sample(invoiceRequests, 30)));
  await t.test('hsmd_sign_bolt12 and hsmd_sign_bolt12_2', (st) => compare(st, master, sample(bolt12Requests, 30)));
  await t.test('hsmd_bip137_sign_message at other key indexes', (st) =>
    compare(st, master, sample(fc.tuple(bytes(100), walletIndex), 15).map(([msg, keyidx]) => encodeMessage('hsmd_bip137_sign_message', { msg, keyidx }))));
  await t.test('hsmd_get_channel_basepoints and hsmd_get_output_scriptpubkey for other peers and dbids', (st) =>
    compare(st, master, sample(fc.tuple(point, u64, fc.option(point, { nil: undefined })), 20).flatMap(([peer, id, commitmentPoint]) => [
      encodeMessage('hsmd_get_channel_basepoints', { peerid: peer, dbid: id }),
      encodeMessage('hsmd_get_output_scriptpubkey', { channel_id: id, peer_id: peer, commitment_point: commitmentPoint }),
    ])));
  await t.test('hsmd_get_channel_basepoints for a node id that is no point (CLN does not check it)', (st) =>
    compare(st, master, sample(fc.tuple(notAPoint, u64), 5).map(([peer, id]) => encodeMessage('hsmd_get_channel_basepoints', { peerid: peer, dbid: id }))));
  const ca = recorded(L1.exchanges, 'hsmd_sign_any_cannouncement_req');
  const cu = recorded(L1.exchanges, 'hsmd_cupdate_sig_req');
  const na = recorded(L1.exchanges, 'hsmd_node_announcement_sig_req');
  const tail = (b: Uint8Array, at: number) => fc.uint8Array({ minLength: 0, maxLength: 60 }).map((x) => Uint8Array.of(...b.slice(0, at), ...x));
  await t.test('gossip signatures over other announcements and updates', (st) =>
    compare(st, master, [
      // A channel_update CLN can parse: 72 bytes of fields after the signature, maybe more after them.
      ...sample(fc.tuple(bytes(72, 72), bytes(20)), 10).map(([fields, more]) => changed(cu, { cu: Uint8Array.of(...cu.cu.slice(0, 66), ...fields, ...more) })),
      ...sample(tail(na.announcement, 66), 10).map((a) => changed(na, { announcement: a })),
      ...sample(fc.tuple(tail(ca.ca, 258), point, u64), 10).map(([c, peerid, id]) => changed(ca, { ca: c, peerid, channel_dbid: id })),
    ]));
  await t.test('preapprovals of other invoices and keysends', (st) =>
    compare(st, master, [
      ...sample(fc.tuple(fc.string({ maxLength: 300 }).filter((s) => !s.includes('\0')), fc.boolean()), 10)
        .map(([invstring, check_only]) => encodeMessage('hsmd_preapprove_invoice_check', { invstring, check_only })),
      ...sample(fc.tuple(point, bytes(32, 32), u64, fc.boolean()), 10)
        .map(([destination, payment_hash, amount_msat, check_only]) => encodeMessage('hsmd_preapprove_keysend_check', { destination, payment_hash, amount_msat, check_only })),
    ]));
});
