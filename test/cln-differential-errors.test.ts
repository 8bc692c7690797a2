/**
 * The differential lane (docs/hsmd-protocol.md#the-differential-lane), requests CLN's hsmd
 * refuses: malformed frames on client connections (both must close just that client), fatal
 * requests on the master and the key checks that stop hsmd (both must stop with the same
 * status_fail reason; docs/hsmd-protocol.md#bad-requests), and the BIP 86 checks of a mnemonic
 * secret. Without CLN's hsmd these tests do not apply and say so.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import { CLN_HSMD, L1, MNEMONIC, NO_CLN_HSMD, compare, pairAfter, upTo } from './cln-pair.js';
import { bytes, changed, childPubkey, initKeys, notAPoint, point, recorded, sample, walletIndex } from './cln-variants.js';
import type { Transcript } from './transcript.js';
import { encodeMessage } from '../signer/wire/messages.js';

const skip = CLN_HSMD ? false : NO_CLN_HSMD;
const frame = (hex: string): Buffer => Buffer.from(hex, 'hex');
const lengthPrefix = (n: number): Buffer => Buffer.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
const OUR_ID = frame(L1.exchanges.find((e) => e.creates === 'c1')!.req.slice(4, 70));
const MASTER_PERMISSION = 0x400n;
/** Every permission bit (docs/hsmd-protocol.md#permissions). */
const ALL_PERMISSIONS = 0x7ffn;

/** Requests valid on a client with `perms`, each turned into the malformed frames of the table. */
const CLIENT_REQUESTS: Array<{ what: string; perms: bigint; req: Uint8Array }> = [
  { what: 'hsmd_ecdh_req', perms: 0x1n, req: encodeMessage('hsmd_ecdh_req', { point: sample(point, 1)[0]! }) },
  { what: 'hsmd_get_per_commitment_point', perms: 0x18n, req: encodeMessage('hsmd_get_per_commitment_point', { n: 7n }) },
  { what: 'hsmd_sign_message (a client with MASTER permission)', perms: MASTER_PERMISSION, req: encodeMessage('hsmd_sign_message', { msg: frame('68656c6c6f') }) },
  { what: 'hsmd_preapprove_invoice_check', perms: MASTER_PERMISSION, req: encodeMessage('hsmd_preapprove_invoice_check', { invstring: 'lnbcrt1', check_only: true }) },
];

function malformed(req: Uint8Array): Array<{ how: string; body: Uint8Array }> {
  const type = req.slice(0, 2);
  return [
    { how: 'as sent (the control)', body: req },
    { how: 'with 3 bytes more', body: Uint8Array.of(...req, 1, 2, 3) },
    { how: 'short of its last byte', body: req.slice(0, -1) },
    { how: 'its type only', body: type },
    { how: 'one byte', body: req.slice(0, 1) },
    { how: 'empty', body: new Uint8Array() },
    { how: 'as an unknown type (9999)', body: Uint8Array.of(0x27, 0x0f, ...req.slice(2)) },
    { how: "as its reply's type", body: Uint8Array.of(type[0]!, type[1]! + 100, ...req.slice(2)) },
  ];
}

test('malformed frames on client connections: both hsmds do the same (reply, or close that client only)', { skip, timeout: 120_000 }, async (t) => {
  const { pair } = await pairAfter(t, upTo(L1.exchanges, 1));
  let dbid = 100n;
  for (const { what, perms, req } of CLIENT_REQUESTS) {
    for (const { how, body } of malformed(req)) {
      const client = await pair.client(OUR_ID, dbid++, perms);
      await t.test(`${what} ${how}`, (st) => compare(st, client, [body]));
    }
  }
  // The length limit closes the connection before hsmd reads a message: nothing is said on the status socket.
  const tooLong = { raw: Uint8Array.of(...lengthPrefix(1 << 27), ...CLIENT_REQUESTS[0]!.req) };
  await t.test('a frame length of 2^27 (WIRE_LEN_LIMIT)', async (st) => compare(st, await pair.client(OUR_ID, dbid++, 0x1n), [tooLong], 'closed'));
  const badBool = encodeMessage('hsmd_preapprove_invoice_check', { invstring: 'lnbcrt1', check_only: false });
  badBool[badBool.length - 1] = 2;
  const noNul = frame('0033' + Buffer.from('lnbcrt1').toString('hex') + '01');
  const control = frame('0033' + Buffer.from('ln\tbc').toString('hex') + '0001');
  const cases: Array<[string, bigint, Uint8Array]> = [
    ['hsmd_ecdh_req of a point not on the curve', 0x1n, Uint8Array.of(0, 1, ...sample(notAPoint, 1)[0]!)],
    ['a bool field of 2', MASTER_PERMISSION, badBool],
    ['a wirestring without its NUL', MASTER_PERMISSION, noNul],
    ['a wirestring with a control character', MASTER_PERMISSION, control],
    ['a request the client may not send (sign_message on an ECDH client)', 0x1n, encodeMessage('hsmd_sign_message', { msg: frame('61') })],
  ];
  for (const [what, perms, body] of cases) {
    const client = await pair.client(OUR_ID, dbid++, perms);
    await t.test(what, (st) => compare(st, client, [body], 'closed'));
  }
  // Both still serve the master and the clients that sent nothing wrong.
  await t.test('the master still answers', (st) => compare(st, pair.master, [encodeMessage('hsmd_derive_secret', { info: frame('00') })], 'reply'));
});

/** Requests that stop CLN's hsmd, each on a fresh pair (of a transcript, replayed to `upToSeq`). */
const FATAL: Array<{ what: string; transcript: Transcript; upToSeq: number; req: (t: Transcript) => Uint8Array; client?: bigint }> = [
  { what: 'an unknown type on the master', transcript: L1, upToSeq: 1, req: () => frame('270f') },
  { what: 'a truncated hsmd_check_pubkey on the master', transcript: L1, upToSeq: 1, req: (t) => frame(t.exchanges.find((e) => e.req.startsWith('001c'))!.req.slice(0, -2)) },
  { what: 'a per-channel request on the master (the capability gate)', transcript: L1, upToSeq: 1, req: () => encodeMessage('hsmd_get_per_commitment_point', { n: 0n }) },
  { what: "hsmd_check_pubkey with another index's key", transcript: L1, upToSeq: 1, req: (t) => { const c = recorded(t.exchanges, 'hsmd_check_pubkey'); return encodeMessage('hsmd_check_pubkey', { index: c.index + 1, pubkey: c.pubkey }); } },
  { what: 'hsmd_check_pubkey at a hardened index', transcript: L1, upToSeq: 1, req: (t) => encodeMessage('hsmd_check_pubkey', { index: 0x80000000, pubkey: recorded(t.exchanges, 'hsmd_check_pubkey').pubkey }) },
  { what: 'hsmd_check_bip86_pubkey with a legacy secret', transcript: L1, upToSeq: 1, req: (t) => encodeMessage('hsmd_check_bip86_pubkey', { index: 0, pubkey: recorded(t.exchanges, 'hsmd_check_pubkey').pubkey }) },
  { what: "hsmd_check_bip86_pubkey with another index's key", transcript: MNEMONIC, upToSeq: 1, req: (t) => { const c = recorded(t.exchanges, 'hsmd_check_bip86_pubkey'); return encodeMessage('hsmd_check_bip86_pubkey', { index: c.index + 1, pubkey: c.pubkey }); } },
  { what: 'hsmd_check_pubkey at a hardened index on a client with MASTER permission', transcript: L1, upToSeq: 1, client: MASTER_PERMISSION, req: (t) => encodeMessage('hsmd_check_pubkey', { index: 0x80000000, pubkey: recorded(t.exchanges, 'hsmd_check_pubkey').pubkey }) },
];

for (const { what, transcript, upToSeq, req, client } of FATAL) {
  test(`fatal: ${what}`, { skip, timeout: 60_000 }, async (t) => {
    const { pair } = await pairAfter(t, upTo(transcript.exchanges, upToSeq), transcript.header);
    const conn = client === undefined ? pair.master : await pair.client(OUR_ID, 5n, client);
    await compare(t, conn, [req(transcript)], client === undefined ? 'fatal' : undefined);
    if (client !== undefined) return;
    const exits = await pair.exits();
    t.diagnostic(`exit codes: CLN ${exits.cln}, ours ${exits.ours}`);
    assert.equal(exits.ours, exits.cln, 'exit codes');
  });
}

test('a mnemonic secret: check_bip86_pubkey and check_pubkey at other indexes, bip137 and sign_message', { skip, timeout: 60_000 }, async (t) => {
  const { conns } = await pairAfter(t, upTo(MNEMONIC.exchanges, 11), MNEMONIC.header);
  const keys = initKeys(MNEMONIC.exchanges[0]!.rep!);
  await compare(t, conns.get('master')!, [
    ...sample(walletIndex, 20).map((index) => encodeMessage('hsmd_check_bip86_pubkey', { index, pubkey: childPubkey(keys.bip86!, [0, index]) })),
    ...sample(walletIndex, 10).map((index) => encodeMessage('hsmd_check_pubkey', { index, pubkey: childPubkey(keys.bip32, [index]) })),
    ...sample(fc.tuple(bytes(100), walletIndex), 10).map(([msg, keyidx]) => encodeMessage('hsmd_bip137_sign_message', { msg, keyidx })),
    ...sample(bytes(100), 5).map((msg) => encodeMessage('hsmd_sign_message', { msg })),
  ]);
});

test('a pubkey field that is no point on the curve, in every request that has one: both refuse alike', { skip, timeout: 120_000 }, async (t) => {
  // CLN's fromwire_pubkey parses the point, so such a request is one it cannot parse (docs/hsmd-protocol.md#bad-requests).
  const { pair } = await pairAfter(t, upTo(L1.exchanges, 1));
  const bad = sample(notAPoint, 1)[0]!;
  const peer = frame(L1.exchanges.find((e) => e.conn === 'c4')!.peer!);
  const penalty = recorded(L1.exchanges, 'hsmd_sign_penalty_to_us', 104);
  const setup = recorded(L1.exchanges, 'hsmd_setup_channel');
  const withdrawal = recorded(L1.exchanges, 'hsmd_sign_withdrawal', 192);
  const onchain = { tx: penalty.tx, wscript: penalty.wscript, input: 0, peerid: peer, channel_dbid: 1n };
  const requests: Array<[string, Uint8Array]> = [
    ['hsmd_get_output_scriptpubkey', encodeMessage('hsmd_get_output_scriptpubkey', { channel_id: 1n, peer_id: peer, commitment_point: bad })],
    ['hsmd_sign_option_will_fund_offer', encodeMessage('hsmd_sign_option_will_fund_offer', { funding_pubkey: bad, blockheight: 100, channel_fee_base_max_msat: 1000, channel_fee_proportional_basis_max: 10 })],
    ['hsmd_setup_channel (remote funding key)', changed(setup, { remote_funding_pubkey: bad })],
    ['hsmd_setup_channel (a remote basepoint)', changed(setup, { remote_basepoints: { ...setup.remote_basepoints, htlc: bad } })],
    ['hsmd_sign_remote_commitment_tx (remote funding key)', changed(recorded(L1.exchanges, 'hsmd_sign_remote_commitment_tx', 181), { remote_funding_key: bad })],
    ['hsmd_sign_remote_commitment_tx (remote point)', changed(recorded(L1.exchanges, 'hsmd_sign_remote_commitment_tx', 181), { remote_per_commit: bad })],
    ['hsmd_sign_remote_htlc_tx', changed(recorded(L1.exchanges, 'hsmd_sign_remote_htlc_tx', 92), { remote_per_commit_point: bad })],
    ['hsmd_sign_mutual_close_tx', changed(recorded(L1.exchanges, 'hsmd_sign_mutual_close_tx', 196), { remote_funding_key: bad })],
    ['hsmd_sign_commitment_tx', changed(recorded(L1.exchanges, 'hsmd_sign_commitment_tx', 197), { remote_funding_key: bad })],
    ['hsmd_sign_remote_htlc_to_us', encodeMessage('hsmd_sign_remote_htlc_to_us', { remote_per_commitment_point: bad, tx: penalty.tx, wscript: penalty.wscript, option_anchor_outputs: true })],
    ['hsmd_sign_any_remote_htlc_to_us', encodeMessage('hsmd_sign_any_remote_htlc_to_us', { remote_per_commitment_point: bad, option_anchor_outputs: true, ...onchain })],
    ['hsmd_sign_withdrawal (a close_info commitment point)', changed(withdrawal, { inputs: [{ ...withdrawal.inputs[0]!, close_info: { channel_id: 1n, peer_id: peer, commitment_point: bad, option_anchors: false, csv: 1 } }] })],
  ];
  let dbid = 500n;
  for (const [what, req] of requests) {
    const client = await pair.client(peer, dbid++, ALL_PERMISSIONS);
    await t.test(what, (st) => compare(st, client, [req], 'closed'));
  }
  await t.test('the master still answers', (st) => compare(st, pair.master, [encodeMessage('hsmd_derive_secret', { info: frame('00') })], 'reply'));
});

// The wallet-key checks on the master, where lightningd sends them: CLN cannot parse the request (status_fail MASTER_IO).
for (const [transcript, name] of [[L1, 'hsmd_check_pubkey'], [MNEMONIC, 'hsmd_check_bip86_pubkey']] as const) {
  test(`${name} of a pubkey that is no point on the curve, on the master: both stop alike`, { skip, timeout: 60_000 }, async (t) => {
    const { pair } = await pairAfter(t, upTo(transcript.exchanges, 1), transcript.header);
    await compare(t, pair.master, [encodeMessage(name, { index: 0, pubkey: sample(notAPoint, 1)[0]! })], 'fatal');
  });
}

test("signature fields CLN's parser refuses or takes: scalars at the group order, zero, other sighash types (validate_commitment_tx)", { skip, timeout: 60_000 }, async (t) => {
  const { pair } = await pairAfter(t, upTo(L1.exchanges, 1));
  const validate = recorded(L1.exchanges, 'hsmd_validate_commitment_tx', 184);
  // Encoded with a marker signature, which is then overwritten with bytes the encoder would refuse.
  const marker = Uint8Array.from({ length: 64 }, (_, i) => i + 1);
  const base = changed(validate, { sig: { signature: marker, sighash: 1 } });
  const at = Buffer.from(base).indexOf(Buffer.from(marker));
  const ORDER = 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141';
  const withSig = (r: string, s: string, sighash: number): Uint8Array => {
    const req = Uint8Array.from(base);
    req.set(frame(r + s), at);
    req[at + 64] = sighash;
    return req;
  };
  const one = '00'.repeat(31) + '01';
  const cases: Array<[string, Uint8Array]> = [
    ['r at the group order', withSig(ORDER, one, 1)],
    ['s at the group order', withSig(one, ORDER, 1)],
    ['r zero', withSig('00'.repeat(32), one, 1)],
    ...[0x00, 0x02, 0x03, 0x81, 0x82, 0x83, 0x84].map((h): [string, Uint8Array] => [`sighash type 0x${h.toString(16)}`, withSig(one, one, h)]),
  ];
  const peer = frame(L1.exchanges.find((e) => e.conn === 'c4')!.peer!);
  let dbid = 700n;
  for (const [what, req] of cases) {
    const client = await pair.client(peer, dbid++, 0x1bfn);
    await t.test(what, (st) => compare(st, client, [req]));
  }
});
