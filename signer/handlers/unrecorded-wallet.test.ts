/**
 * Wallet-PSBT requests no recording contains (docs/hsmd-protocol.md#recorded-facts): sign_htlc_tx_mingle (149),
 * sign_anchorspend (147), and sign_withdrawal (7) for a mnemonic secret (BIP 86 keys).
 *
 * - 149 and 147 (no anchor input) run sign_our_inputs exactly as 7 does (libhsmd.c
 *   handle_sign_htlc_tx_mingle / handle_sign_anchorspend), so the recorded withdrawals' inputs
 *   and PSBTs sent as 149/147 must give the recorded 107 PSBT byte for byte.
 * - 7 with a mnemonic secret: a PSBT we build spending a P2TR and a P2WPKH output of
 *   lightningd's own BIP 86 key (the check_bip86_pubkey request of hsmd-basic-mnemonic);
 *   the taproot key-path signature must verify under that key's BIP 341 output key, the ECDSA
 *   one under the key itself over the BIP 143 sighash, SIGHASH_ALL, low R (EC_FLAG_GRIND_R);
 *   both sighashes computed by bitcoinjs-lib, not by the code under test.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { Transaction } from 'bitcoinjs-lib';
import { fixturePath } from '../../test/fixtures.js';
import { clientOf, loadTranscript, type Exchange } from '../../test/transcript.js';
import { concat, fromHex, toHex, utf8 } from '../bytes.js';
import { nobleCurve as curve } from '../crypto/noble.js';
import type { Decision } from '../decision.js';
import { derToCompact } from '../bolt3/der.js';
import { serializeTxNoWitness, type Tx } from '../bolt3/tx.js';
import {
  PSBT_GLOBAL_UNSIGNED_TX,
  PSBT_IN_PARTIAL_SIG,
  PSBT_IN_TAP_KEY_SIG,
  PSBT_IN_WITNESS_UTXO,
  findRecord,
  parsePsbt,
  record,
  serializePsbt,
} from '../psbt/psbt.js';
import { encodeTxOut } from '../psbt/sign.js';
import { MASTER_PERMISSIONS } from '../permissions.js';
import { LOCAL_POLICY } from '../policy/policy.js';
import { Signer } from '../signer.js';
import { decodeAs, encodeMessage } from '../wire/messages.js';
import type { HsmUtxo } from '../wire/tx-fields.js';

const MASTER_PEER: Uint8Array = new Uint8Array(33);
const typeOf = (hex: string): number => parseInt(hex.slice(0, 4), 16);

function replayed(name: string): { exchanges: Exchange[]; send: (frame: Uint8Array) => Decision } {
  const { header, exchanges } = loadTranscript(fixturePath(`transcripts/${name}`));
  const signer = new Signer({ curve, developer: header.hsmd_args.includes('--developer'), readHsmSecret: () => fromHex(header.hsm_secret), policy: LOCAL_POLICY });
  let id = 0n;
  const handle = (peer: Uint8Array, dbid: bigint, permissions: bigint, message: Uint8Array): Decision =>
    signer.handle({ id: ++id, client: { peer, dbid, permissions }, at: 0, message });
  for (const ex of exchanges) {
    if (typeOf(ex.req) === 9) continue;
    const c = clientOf(ex);
    handle(c.peer, c.dbid, c.permissions, fromHex(ex.req));
  }
  return { exchanges, send: (frame) => handle(MASTER_PEER, 0n, MASTER_PERMISSIONS, frame) };
}

const frameOf = (d: Decision): Uint8Array => {
  assert.equal(d.reply.kind, 'frame', JSON.stringify(d.reply));
  return (d.reply as { frame: Uint8Array }).frame;
};

for (const name of ['session-basic-l1.jsonl', 'session-basic-l2.jsonl']) {
  test(`${name}: recorded withdrawals as sign_htlc_tx_mingle (149) and sign_anchorspend (147) give the recorded PSBT`, () => {
    const session = replayed(name);
    const withdrawals = session.exchanges.filter((ex) => typeOf(ex.req) === 7);
    const channel = session.exchanges.find((ex) => typeOf(ex.req) === 14)!;
    assert.ok(withdrawals.length > 0);
    for (const ex of withdrawals) {
      const { inputs, psbt } = decodeAs('hsmd_sign_withdrawal', fromHex(ex.req));
      const expected = decodeAs('hsmd_sign_withdrawal_reply', fromHex(ex.rep!)).psbt!;
      const fields = { peerid: fromHex(channel.peer!), channel_dbid: BigInt(channel.dbid), inputs, psbt };
      const mingle = decodeAs('hsmd_sign_htlc_tx_mingle_reply', frameOf(session.send(encodeMessage('hsmd_sign_htlc_tx_mingle', fields))));
      assert.equal(toHex(mingle.psbt!), toHex(expected), `149 from seq ${ex.seq}`);
      // No input names the channel's funding key: wally_psbt_sign with it signs nothing more.
      const anchor = decodeAs('hsmd_sign_anchorspend_reply', frameOf(session.send(encodeMessage('hsmd_sign_anchorspend', fields))));
      assert.equal(toHex(anchor.psbt!), toHex(expected), `147 from seq ${ex.seq}`);
      // sign_our_inputs only derives keys for utxos an input spends: an unspent utxo with a
      // hardened (invalid) keyindex is never looked at, and the reply is unchanged.
      const stray: HsmUtxo = { ...inputs[0]!, outpoint: { txid: new Uint8Array(32).fill(0xee), n: 7 }, keyindex: 0x8000_0000 };
      const withStray = session.send(encodeMessage('hsmd_sign_withdrawal', { inputs: [...inputs, stray], psbt }));
      assert.equal(toHex(decodeAs('hsmd_sign_withdrawal_reply', frameOf(withStray)).psbt!), toHex(expected));
    }
  });
}

test('sign_withdrawal (7) with a mnemonic secret signs P2TR and P2WPKH inputs with the BIP 86 key', () => {
  const session = replayed('hsmd-basic-mnemonic.jsonl');
  // lightningd's BIP 86 key for an index (CLN answered ok).
  const ex = session.exchanges.find((e) => typeOf(e.req) === 56)!;
  const { index, pubkey } = decodeAs('hsmd_check_bip86_pubkey', fromHex(ex.req));
  // BIP 341/86 output key: P (even y) + H_TapTweak(P_x)·G.
  const xonly = pubkey.subarray(1);
  const outputKey = curve.pointAddTweak(concat(Uint8Array.of(2), xonly), taggedHash('TapTweak', xonly)).subarray(1);
  const p2tr = concat(Uint8Array.of(0x51, 0x20), outputKey);
  const p2wpkh = concat(Uint8Array.of(0x00, 0x14), ripemd160(sha256(pubkey)));
  const prev = sha256(utf8('funding tx'));
  const tx: Tx = {
    version: 2,
    inputs: [0, 1].map((vout) => ({ prevTxid: prev, prevVout: vout, scriptSig: new Uint8Array(0), sequence: 0xfffffffd, witness: [] })),
    outputs: [{ amountSat: 150_000n, scriptPubKey: concat(Uint8Array.of(0x00, 0x14), new Uint8Array(20).fill(0x33)) }],
    locktime: 0,
  };
  const amounts = [100_000n, 60_000n];
  const scripts = [p2tr, p2wpkh];
  const psbt = serializePsbt({
    tx,
    global: [record(PSBT_GLOBAL_UNSIGNED_TX, new Uint8Array(0), serializeTxNoWitness(tx))],
    inputs: [0, 1].map((k) => [record(PSBT_IN_WITNESS_UTXO, new Uint8Array(0), encodeTxOut(amounts[k]!, scripts[k]!))]),
    outputs: [[]],
  });
  const utxo = (vout: number): HsmUtxo => ({
    outpoint: { txid: prev, n: vout },
    amount: amounts[vout]!,
    keyindex: index,
    is_p2sh: false,
    scriptPubkey: scripts[vout]!,
    close_info: undefined,
    is_in_coinbase: false,
  });
  const reply = decodeAs('hsmd_sign_withdrawal_reply', frameOf(session.send(encodeMessage('hsmd_sign_withdrawal', { inputs: [utxo(0), utxo(1)], psbt }))));
  const signed = parsePsbt(reply.psbt!, curve);
  // The sighashes come from bitcoinjs-lib, an implementation independent of ours.
  const oracle = Transaction.fromBuffer(serializeTxNoWitness(tx));

  // Input 0: key-path signature, SIGHASH_DEFAULT (64 bytes, no sighash byte).
  const tapSig = findRecord(signed.inputs[0]!, Uint8Array.of(PSBT_IN_TAP_KEY_SIG))!.value;
  assert.equal(tapSig.length, 64);
  assert.ok(curve.verifySchnorr(tapSig, oracle.hashForWitnessV1(0, scripts, amounts, 0x00), outputKey));

  // Input 1: ECDSA partial signature keyed by the BIP 86 pubkey, DER ‖ SIGHASH_ALL.
  const partial = findRecord(signed.inputs[1]!, concat(Uint8Array.of(PSBT_IN_PARTIAL_SIG), pubkey))!.value;
  assert.equal(partial[partial.length - 1], 0x01);
  const compact = derToCompact(partial.subarray(0, -1));
  assert.ok(compact[0]! < 0x80, 'EC_FLAG_GRIND_R gives low R');
  const scriptCode = concat(Uint8Array.of(0x76, 0xa9, 0x14), ripemd160(sha256(pubkey)), Uint8Array.of(0x88, 0xac));
  assert.ok(curve.verify(compact, oracle.hashForWitnessV0(1, scriptCode, amounts[1]!, 0x01), pubkey));
});

/** BIP 340 tagged hash. */
function taggedHash(tag: string, msg: Uint8Array): Uint8Array {
  const t = sha256(utf8(tag));
  return sha256(concat(t, t, msg));
}
