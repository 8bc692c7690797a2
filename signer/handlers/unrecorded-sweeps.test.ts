/**
 * The single-input spends no recording contains (docs/hsmd-protocol.md#recorded-facts): sign_delayed_payment_to_us
 * (12/142), sign_remote_htlc_to_us (13/143), sign_local_htlc_tx (16/146), sign_any_penalty_to_us
 * (144), sign_splice_tx (29). Each is driven from a real CLN v25.12.1 session
 * (session-basic-l1/l2, replayed through the Signer first):
 *
 * - 144 sent with the recorded 14's fields, input 0 and that channeld's (peer, dbid) must give
 *   the recorded 14 reply byte for byte (libhsmd.c: both go through do_sign_penalty_to_us);
 *   29 with the recorded 21's tx, funding key and input 0 must give the recorded 21 reply
 *   (both are sign_tx_input over the 2-of-2 with the funding key, SIGHASH_ALL).
 * - 12/142, 13/143, 16/146 reuse the recorded sweep tx (one input, amount in its PSBT; for
 *   16/146 its output made the HTLC transaction's, policy-htlc-tx-holder-output, carrying the
 *   whole amount spent as on this zero-fee anchors channel, policy-htlc-tx-fee-range); their
 *   signature must verify over the BIP 143 sighash under the key BOLT 3 gives from the
 *   basepoints CLN itself sent (recorded get_channel_basepoints reply) and the per-commitment
 *   point CLN sent (recorded get_per_commitment_point reply), with CLN's sighash byte and low R;
 *   the plain form on the channel's own connection equals the sign_any_ form.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import * as bitcoin from 'bitcoinjs-lib';
import { editedTx } from '../../test/forged-tx.js';
import { fixturePath } from '../../test/fixtures.js';
import { clientOf, loadTranscript, type Exchange } from '../../test/transcript.js';
import { concat, fromHex, toHex } from '../bytes.js';
import { nobleCurve as curve } from '../crypto/noble.js';
import type { Decision } from '../decision.js';
import { parseTx } from '../bolt3/tx.js';
import { SIGHASH_ALL, witnessV0Sighash } from '../bolt3/sighash.js';
import { parsePsbt } from '../psbt/psbt.js';
import { spentOutput } from '../psbt/sign.js';
import {
  HSM_PERM_COMMITMENT_POINT,
  HSM_PERM_SIGN_ONCHAIN_TX,
  HSM_PERM_SIGN_SPLICE_TX,
  MASTER_PERMISSIONS,
} from '../permissions.js';
import { LOCAL_POLICY } from '../policy/policy.js';
import { Signer } from '../signer.js';
import { decodeAs, encodeMessage } from '../wire/messages.js';
import type { BitcoinTx } from '../wire/tx-fields.js';

const MASTER_PEER = new Uint8Array(33);
const FOREIGN = Uint8Array.of(0x00, 0x14, ...new Array<number>(20).fill(0x77));
const typeOf = (hex: string): number => parseInt(hex.slice(0, 4), 16);

/** A recorded session replayed through a fresh Signer (its channels not forgotten), and a way to send more requests. */
function replayed(name: string): { exchanges: Exchange[]; send: (peer: Uint8Array, dbid: bigint, perms: bigint, frame: Uint8Array) => Decision } {
  const { header, exchanges } = loadTranscript(fixturePath(`transcripts/${name}`));
  const signer = new Signer({ curve, developer: header.hsmd_args.includes('--developer'), readHsmSecret: () => fromHex(header.hsm_secret), policy: LOCAL_POLICY });
  let id = 0n;
  const send = (peer: Uint8Array, dbid: bigint, permissions: bigint, message: Uint8Array): Decision =>
    signer.handle({ id: ++id, client: { peer, dbid, permissions }, at: 0, message });
  for (const ex of exchanges) {
    // Not hsmd_client_hsmfd (the broker's), nor forget_channel: onchaind signs while lightningd
    // still has the channel (it forgets it 100 blocks after the close), setup_channel known.
    if (typeOf(ex.req) === 9 || typeOf(ex.req) === 34) continue;
    const c = clientOf(ex);
    send(c.peer, c.dbid, c.permissions, fromHex(ex.req));
  }
  return { exchanges, send };
}

const frameOf = (d: Decision): Uint8Array => {
  assert.equal(d.reply.kind, 'frame', JSON.stringify(d.reply));
  return (d.reply as { frame: Uint8Array }).frame;
};

/** The hsmd_sign_tx_reply signature, checked against `pub` over input 0's BIP 143 sighash. */
function assertSweepSignature(d: Decision, tx: BitcoinTx, wscript: Uint8Array, pub: Uint8Array, sighash: number): void {
  const { sig } = decodeAs('hsmd_sign_tx_reply', frameOf(d));
  assert.equal(sig.sighash, sighash, 'sighash byte');
  assert.ok(sig.signature[0]! < 0x80, 'CLN sign_hash grinds for low R');
  const parsed = parseTx(tx.tx);
  const amount = spentOutput(parsePsbt(tx.psbt, curve), 0)!.amountSat;
  const hash = witnessV0Sighash(parsed, 0, wscript, amount, sighash);
  assert.ok(curve.verify(sig.signature, hash, pub), 'signature verifies under the BOLT 3 key');
}

/** BOLT 3 derive_simple_key: basepoint + SHA256(per_commitment_point ‖ basepoint)·G. */
const simpleKey = (basepoint: Uint8Array, point: Uint8Array): Uint8Array => curve.pointAddTweak(basepoint, sha256(concat(point, basepoint)));

/** BOLT 3 revocationpubkey from the revocation basepoint and the per-commitment point. */
const revocationKey = (base: Uint8Array, point: Uint8Array): Uint8Array =>
  curve.pointAdd(curve.pointMul(base, sha256(concat(base, point))), curve.pointMul(point, sha256(concat(point, base))));

for (const name of ['session-basic-l1.jsonl', 'session-basic-l2.jsonl']) {
  const session = replayed(name);
  const penalties = session.exchanges.filter((ex) => typeOf(ex.req) === 14);
  const first = penalties[0]!;
  const peer = fromHex(first.peer!);
  const dbid = BigInt(first.dbid);
  // CLN's own basepoints for this channel (master's get_channel_basepoints reply).
  const basepointsEx = session.exchanges.find((ex) => {
    if (typeOf(ex.req) !== 10) return false;
    const m = decodeAs('hsmd_get_channel_basepoints', fromHex(ex.req));
    return toHex(m.peerid) === first.peer && m.dbid === dbid;
  })!;
  const { basepoints } = decodeAs('hsmd_get_channel_basepoints_reply', fromHex(basepointsEx.rep!));
  // CLN's own per-commitment point n for this channel (a get_per_commitment_point reply).
  const pointEx = session.exchanges.find((ex) => typeOf(ex.req) === 18 && ex.peer === first.peer && ex.dbid === first.dbid)!;
  const n = decodeAs('hsmd_get_per_commitment_point', fromHex(pointEx.req)).n;
  const ourPoint = decodeAs('hsmd_get_per_commitment_point_reply', fromHex(pointEx.rep!)).per_commitment_point;
  // Their per-commitment point, as channeld sent it in a sign_remote_commitment_tx.
  const theirPoint = decodeAs('hsmd_sign_remote_commitment_tx', fromHex(session.exchanges.find((ex) => typeOf(ex.req) === 19 && ex.peer === first.peer)!.req)).remote_per_commit;
  const onchaind = HSM_PERM_SIGN_ONCHAIN_TX | HSM_PERM_COMMITMENT_POINT;

  test(`${name}: sign_any_penalty_to_us (144) equals every recorded sign_penalty_to_us (14) reply`, () => {
    assert.ok(penalties.length > 0);
    for (const ex of penalties) {
      const m = decodeAs('hsmd_sign_penalty_to_us', fromHex(ex.req));
      const any = encodeMessage('hsmd_sign_any_penalty_to_us', { ...m, input: 0, peerid: fromHex(ex.peer!), channel_dbid: BigInt(ex.dbid) });
      const d = session.send(MASTER_PEER, 0n, MASTER_PERMISSIONS, any);
      assert.equal(toHex(frameOf(d)), ex.rep, `seq ${ex.seq}`);
      // And semantically: the revocation key of that secret's point (BOLT 3).
      const pub = revocationKey(basepoints.revocation, curve.publicKey(m.revocation_secret));
      assertSweepSignature(d, m.tx, m.wscript, pub, SIGHASH_ALL);
    }
  });

  test(`${name}: sign_any_penalty_to_us input out of range / wrong channel are refused or differ`, () => {
    const m = decodeAs('hsmd_sign_penalty_to_us', fromHex(first.req));
    const bad = session.send(MASTER_PEER, 0n, MASTER_PERMISSIONS, encodeMessage('hsmd_sign_any_penalty_to_us', { ...m, input: 1, peerid: peer, channel_dbid: dbid }));
    // handle_sign_to_us_tx: "bad input %u of %zu".
    assert.deepEqual(bad.reply, { kind: 'bad-request', description: 'bad input 1 of 1' });
    const other = session.send(MASTER_PEER, 0n, MASTER_PERMISSIONS, encodeMessage('hsmd_sign_any_penalty_to_us', { ...m, input: 0, peerid: peer, channel_dbid: dbid + 1n }));
    assert.notEqual(toHex(frameOf(other)), first.rep, 'the key comes from (peerid, channel_dbid) in the message');
  });

  // A sweep transaction CLN accepted (one input, its amount in the PSBT, paying our wallet).
  const template = decodeAs('hsmd_sign_penalty_to_us', fromHex(first.req));
  const wscript = template.wscript;

  // BOLT 3: an HTLC transaction of our commitment n pays P2WSH of the to_local script
  // (OP_IF <revocationpubkey> OP_ELSE <to_self_delay> OP_CSV OP_DROP <local_delayedpubkey>
  // OP_ENDIF OP_CHECKSIG), the revocation key from the peer's revocation basepoint (recorded
  // setup_channel) and our point n, the delay the peer chose (setup_channel's
  // remote_to_self_delay), our delayed key for point n; compiled by bitcoinjs-lib.
  const setup = decodeAs('hsmd_setup_channel', fromHex(session.exchanges.find((ex) => typeOf(ex.req) === 31 && ex.peer === first.peer && ex.dbid === first.dbid)!.req));
  const toLocal = bitcoin.script.compile([
    bitcoin.opcodes.OP_IF!, Buffer.from(revocationKey(setup.remote_basepoints.revocation, ourPoint)),
    bitcoin.opcodes.OP_ELSE!, bitcoin.script.number.encode(setup.remote_to_self_delay), bitcoin.opcodes.OP_CHECKSEQUENCEVERIFY!, bitcoin.opcodes.OP_DROP!,
    Buffer.from(simpleKey(basepoints.delayed_payment, ourPoint)), bitcoin.opcodes.OP_ENDIF!, bitcoin.opcodes.OP_CHECKSIG!,
  ]);
  const htlcOutput = new Uint8Array(bitcoin.payments.p2wsh({ redeem: { output: toLocal } }).output!);
  // The sweep template with its one output paying that script and the whole amount it spends:
  // an HTLC transaction's shape on this channel, whose channel_type (bits 12 static_remotekey
  // and 22 option_anchors_zero_fee_htlc_tx, BOLT 9) makes BOLT 3's HTLC transaction fee 0.
  assert.equal(toHex(setup.channel_type), '401000');
  const spentSat = spentOutput(parsePsbt(template.tx.psbt, curve), 0)!.amountSat;
  const htlcTx = editedTx(template.tx, (t) => void (t.outputs[0] = { amountSat: spentSat, scriptPubKey: htlcOutput }));

  test(`${name}: sign_any_delayed_payment_to_us (142) and plain (12): delayed key of our point n, SIGHASH_ALL`, () => {
    const fields = { commit_num: n, tx: template.tx, wscript };
    const any = session.send(MASTER_PEER, 0n, MASTER_PERMISSIONS, encodeMessage('hsmd_sign_any_delayed_payment_to_us', { ...fields, input: 0, peerid: peer, channel_dbid: dbid }));
    assertSweepSignature(any, template.tx, wscript, simpleKey(basepoints.delayed_payment, ourPoint), SIGHASH_ALL);
    const plain = session.send(peer, dbid, onchaind, encodeMessage('hsmd_sign_delayed_payment_to_us', fields));
    assert.deepEqual(frameOf(plain), frameOf(any));
    // per_commit_point fails for n >= 2^48: bad request naming the number.
    const big = session.send(peer, dbid, onchaind, encodeMessage('hsmd_sign_delayed_payment_to_us', { ...fields, commit_num: 1n << 48n }));
    assert.deepEqual(big.reply, { kind: 'bad-request', description: `bad per_commitment_point ${1n << 48n}` });
  });

  for (const anchors of [false, true]) {
    const sighash = anchors ? 0x83 : SIGHASH_ALL;
    test(`${name}: sign_any_remote_htlc_to_us (143) and plain (13), anchors=${anchors}: htlc key of their point, sighash ${sighash}`, () => {
      const fields = { remote_per_commitment_point: theirPoint, tx: template.tx, wscript, option_anchor_outputs: anchors };
      const any = session.send(MASTER_PEER, 0n, MASTER_PERMISSIONS, encodeMessage('hsmd_sign_any_remote_htlc_to_us', { ...fields, input: 0, peerid: peer, channel_dbid: dbid }));
      assertSweepSignature(any, template.tx, wscript, simpleKey(basepoints.htlc, theirPoint), sighash);
      const plain = session.send(peer, dbid, onchaind, encodeMessage('hsmd_sign_remote_htlc_to_us', fields));
      assert.deepEqual(frameOf(plain), frameOf(any));
    });

    test(`${name}: sign_any_local_htlc_tx (146) and plain (16), anchors=${anchors}: htlc key of our point n, sighash ${sighash}`, () => {
      const fields = { commit_num: n, tx: htlcTx, wscript, option_anchor_outputs: anchors };
      const any = session.send(MASTER_PEER, 0n, MASTER_PERMISSIONS, encodeMessage('hsmd_sign_any_local_htlc_tx', { ...fields, input: 0, peerid: peer, channel_dbid: dbid }));
      assertSweepSignature(any, htlcTx, wscript, simpleKey(basepoints.htlc, ourPoint), sighash);
      const plain = session.send(peer, dbid, onchaind, encodeMessage('hsmd_sign_local_htlc_tx', fields));
      assert.deepEqual(frameOf(plain), frameOf(any));
      // do_sign_local_htlc_tx checks input_num against the inputs first.
      const bad = session.send(MASTER_PEER, 0n, MASTER_PERMISSIONS, encodeMessage('hsmd_sign_any_local_htlc_tx', { ...fields, input: 1, peerid: peer, channel_dbid: dbid }));
      assert.deepEqual(bad.reply, { kind: 'bad-request', description: 'bad input 1 of 1' });
    });

    test(`${name}: policy-htlc-tx-holder-output, anchors=${anchors}: an HTLC tx of our commitment whose output pays another script is refused`, () => {
      // The sweep template as it is pays our wallet: not the HTLC transaction's output.
      for (const tx of [template.tx, editedTx(htlcTx, (t) => void (t.outputs[0]!.scriptPubKey = FOREIGN))]) {
        const fields = { commit_num: n, tx, wscript, option_anchor_outputs: anchors };
        const d = session.send(MASTER_PEER, 0n, MASTER_PERMISSIONS, encodeMessage('hsmd_sign_any_local_htlc_tx', { ...fields, input: 0, peerid: peer, channel_dbid: dbid }));
        assert.equal(d.reply.kind, 'bad-request');
        assert.match((d.reply as { description: string }).description, new RegExp(`^policy-htlc-tx-holder-output: output 0 pays [0-9a-f]+: an HTLC transaction of our commitment pays ${toHex(htlcOutput)} `));
        assert.equal(session.send(peer, dbid, onchaind, encodeMessage('hsmd_sign_local_htlc_tx', fields)).reply.kind, 'bad-request');
      }
      // Our point of another commitment gives other keys: the output of commitment n is not that of n + 1.
      const other = session.send(peer, dbid, onchaind, encodeMessage('hsmd_sign_local_htlc_tx', { commit_num: n + 1n, tx: htlcTx, wscript, option_anchor_outputs: anchors }));
      assert.match(JSON.stringify(other.reply), /"bad-request".*policy-htlc-tx-holder-output: output 0 pays /);
      // A second output: signed by SIGHASH_ALL (refused), not by SINGLE|ANYONECANPAY (anchors: signed).
      const twoOutputs = editedTx(htlcTx, (t) => void t.outputs.push({ amountSat: 1000n, scriptPubKey: FOREIGN }));
      const d = session.send(peer, dbid, onchaind, encodeMessage('hsmd_sign_local_htlc_tx', { commit_num: n, tx: twoOutputs, wscript, option_anchor_outputs: anchors }));
      assert.equal(d.reply.kind, anchors ? 'frame' : 'bad-request', JSON.stringify(d.reply));
      // A channel without setup_channel (the peer's basepoint and delay unknown): skipped, signed as CLN's hsmd does.
      const unknown = session.send(MASTER_PEER, 0n, MASTER_PERMISSIONS, encodeMessage('hsmd_sign_any_local_htlc_tx', { commit_num: n, tx: template.tx, wscript, option_anchor_outputs: anchors, input: 0, peerid: peer, channel_dbid: dbid + 1n }));
      assert.equal(unknown.reply.kind, 'frame');
    });

    test(`${name}: policy-htlc-tx-fee-range, anchors=${anchors}: our HTLC tx paying 1 sat less than the HTLC (a fee on a zero-fee channel) is refused`, () => {
      const short = editedTx(htlcTx, (t) => void (t.outputs[0]!.amountSat = spentSat - 1n));
      const fields = { commit_num: n, tx: short, wscript, option_anchor_outputs: anchors };
      const any = session.send(MASTER_PEER, 0n, MASTER_PERMISSIONS, encodeMessage('hsmd_sign_any_local_htlc_tx', { ...fields, input: 0, peerid: peer, channel_dbid: dbid }));
      assert.equal(any.reply.kind, 'bad-request');
      assert.match((any.reply as { description: string }).description,
        new RegExp(`^policy-htlc-tx-fee-range: .* takes 1 sat of fee from the ${spentSat} sat HTLC .*: an option_anchors HTLC transaction pays no fee$`));
      assert.deepEqual(session.send(peer, dbid, onchaind, encodeMessage('hsmd_sign_local_htlc_tx', fields)).reply, any.reply);
      // Without setup_channel the channel_type is unknown: skipped, signed as CLN's hsmd does.
      const unknown = session.send(MASTER_PEER, 0n, MASTER_PERMISSIONS, encodeMessage('hsmd_sign_any_local_htlc_tx', { ...fields, input: 0, peerid: peer, channel_dbid: dbid + 1n }));
      assert.equal(unknown.reply.kind, 'frame');
    });
  }

  test(`${name}: sign_splice_tx (29) over the recorded mutual close tx equals the recorded 21 reply`, () => {
    const close = session.exchanges.find((ex) => typeOf(ex.req) === 21)!;
    const m = decodeAs('hsmd_sign_mutual_close_tx', fromHex(close.req));
    const splice = encodeMessage('hsmd_sign_splice_tx', { tx: m.tx, remote_funding_key: m.remote_funding_key, input_index: 0 });
    const d = session.send(fromHex(close.peer!), BigInt(close.dbid), HSM_PERM_SIGN_SPLICE_TX, splice);
    assert.equal(toHex(frameOf(d)), close.rep);
  });
}
