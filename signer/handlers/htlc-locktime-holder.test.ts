/**
 * policy-htlc-tx-locktime on our own HTLC transactions (sign_any_local_htlc_tx 146 and
 * sign_local_htlc_tx 16), which no recording contains: each is built for an HTLC of a
 * commitment session-basic-l1 validated, from what CLN itself sent and answered:
 *
 * - our commitment 1 (validated at seq 94) holds the 10,000 sat HTLC we offered (expiry 119),
 *   our commitment 11 (seq 148) the 1,000 sat HTLC l2 offered us (expiry 119);
 * - the HTLC's witness script is BOLT 3's for our per-commitment point n (the
 *   validate_commitment_tx reply for n − 1 gives it), our basepoints (the recorded
 *   get_channel_basepoints reply) and the peer's (setup_channel), and its P2WSH is the
 *   output of the recorded commitment carrying the HTLC's amount: that output is what the
 *   transaction spends;
 * - the transaction and its PSBT are built with bitcoinjs-lib (BOLT 3: version 2, sequence 1
 *   with option_anchors, the whole HTLC to our delayed to_local script), and our signature is
 *   checked over bitcoinjs-lib's BIP 143 sighash.
 *
 * HTLC-timeout with locktime 119 and HTLC-success with locktime 0 are signed; one off, refused
 * by name; for a commitment other than our latest, not matched (docs/policies.md).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import * as bitcoin from 'bitcoinjs-lib';
import { sessionPolicy, sessionRequests, sessionSignerOptions } from '../../test/session-records.js';
import { concat, fromHex } from '../bytes.js';
import { nobleCurve as curve } from '../crypto/noble.js';
import type { Decision } from '../decision.js';
import { offeredHtlcScript, p2wsh, receivedHtlcScript, toLocalScript } from '../bolt3/scripts.js';
import { parseTx, txid } from '../bolt3/tx.js';
import { HSM_PERM_COMMITMENT_POINT, HSM_PERM_SIGN_ONCHAIN_TX, MASTER_PERMISSIONS } from '../permissions.js';
import type { PolicyName } from '../policy/catalog.js';
import { Signer } from '../signer.js';
import { decodeAs, encodeMessage } from '../wire/messages.js';

const L1 = 'session-basic-l1.jsonl';
const RULE: PolicyName = 'policy-htlc-tx-locktime';
const requests = sessionRequests(L1);
const at = (seq: number) => requests.find((r) => r.exchange.seq === seq)!;
const typeOf = (m: Uint8Array): number => (m[0]! << 8) | m[1]!;

/** BOLT 3 derive_simple_key and revocationpubkey, computed here from the points. */
const simpleKey = (basepoint: Uint8Array, point: Uint8Array): Uint8Array => curve.pointAddTweak(basepoint, sha256(concat(point, basepoint)));
const revocationKey = (base: Uint8Array, point: Uint8Array): Uint8Array =>
  curve.pointAdd(curve.pointMul(base, sha256(concat(base, point))), curve.pointMul(point, sha256(concat(point, base))));

const validation = at(94).envelope;
const { peer, dbid } = validation.client;
const setup = decodeAs('hsmd_setup_channel', requests.find((r) => typeOf(r.envelope.message) === 31 && r.exchange.peer === at(94).exchange.peer)!.envelope.message);
const ours = decodeAs('hsmd_get_channel_basepoints_reply', fromHex(requests.find((r) => {
  if (typeOf(r.envelope.message) !== 10) return false;
  const m = decodeAs('hsmd_get_channel_basepoints', r.envelope.message);
  return m.dbid === dbid && m.peerid.every((x, i) => x === peer[i]);
})!.exchange.rep!)).basepoints;

interface OurHtlcTx { readonly commitNum: bigint; readonly wscript: Uint8Array; readonly build: (locktime: number) => { tx: Uint8Array; psbt: Uint8Array }; readonly sighash: (locktime: number) => Uint8Array; readonly htlcKey: Uint8Array; readonly locktime: number }

/** Our HTLC transaction for the one HTLC of the commitment validated at `seq`, whose point the validation at `pointSeq` returned. */
function ourHtlcTx(seq: number, pointSeq: number): OurHtlcTx {
  const m = decodeAs('hsmd_validate_commitment_tx', at(seq).envelope.message);
  assert.equal(m.htlcs.length, 1);
  const htlc = m.htlcs[0]!;
  const point = decodeAs('hsmd_validate_commitment_tx_reply', fromHex(at(pointSeq).exchange.rep!)).next_per_commitment_point;
  assert.equal(decodeAs('hsmd_validate_commitment_tx', at(pointSeq).envelope.message).commit_num, m.commit_num - 1n, 'the reply for n − 1 gives point n');
  const keys = { revocationPubkey: revocationKey(setup.remote_basepoints.revocation, point), localHtlcPubkey: simpleKey(ours.htlc, point), remoteHtlcPubkey: simpleKey(setup.remote_basepoints.htlc, point) };
  const offered = htlc.side === 0; // hsm_htlc side LOCAL: we offered it, our HTLC-timeout spends it
  const wscript = offered ? offeredHtlcScript(keys, htlc.payment_hash, true) : receivedHtlcScript(keys, htlc.payment_hash, htlc.cltv_expiry, true);
  const commitment = parseTx(m.tx.tx);
  const vout = commitment.outputs.findIndex((o) => o.scriptPubKey.every((x, i) => x === p2wsh(wscript)[i]) && o.scriptPubKey.length === 34);
  assert.ok(vout >= 0, `the HTLC's script is that of an output of our recorded commitment ${m.commit_num}`);
  const value = commitment.outputs[vout]!.amountSat;
  assert.equal(value, htlc.amount / 1000n);
  const output = p2wsh(toLocalScript(revocationKey(setup.remote_basepoints.revocation, point), setup.remote_to_self_delay, simpleKey(ours.delayed_payment, point)));
  const unsigned = (locktime: number): bitcoin.Psbt => {
    const psbt = new bitcoin.Psbt({ network: bitcoin.networks.regtest });
    psbt.setVersion(2);
    psbt.setLocktime(locktime);
    psbt.addInput({ hash: txid(commitment), index: vout, sequence: 1, witnessUtxo: { script: p2wsh(wscript), value } });
    psbt.addOutput({ script: output, value }); // zero-fee anchors: the whole HTLC
    return psbt;
  };
  const txOf = (psbt: bitcoin.Psbt) => bitcoin.Transaction.fromBuffer((psbt.data.globalMap.unsignedTx as unknown as { toBuffer(): Uint8Array }).toBuffer());
  return {
    commitNum: m.commit_num,
    wscript,
    locktime: offered ? htlc.cltv_expiry : 0,
    htlcKey: keys.localHtlcPubkey,
    build: (locktime) => {
      const psbt = unsigned(locktime);
      return { tx: txOf(psbt).toBuffer(), psbt: psbt.toBuffer() };
    },
    sighash: (locktime) => txOf(unsigned(locktime)).hashForWitnessV0(0, wscript, value, 0x83),
  };
}

/** l1 through one Signer with the device's policy, until request `until` (not sent). */
function l1Until(until: number): Signer {
  const signer = new Signer(sessionSignerOptions(L1, sessionPolicy(L1)));
  for (const r of requests.filter((x) => x.exchange.seq < until)) signer.handle(r.envelope);
  return signer;
}

const MASTER = { peer: new Uint8Array(33), dbid: 0n, permissions: MASTER_PERMISSIONS };
const ONCHAIND = { peer, dbid, permissions: HSM_PERM_SIGN_ONCHAIN_TX | HSM_PERM_COMMITMENT_POINT };

function signBoth(signer: Signer, h: OurHtlcTx, locktime: number, commitNum = h.commitNum): Decision[] {
  const fields = { commit_num: commitNum, tx: h.build(locktime), wscript: h.wscript, option_anchor_outputs: true };
  return [
    signer.handle({ id: 1n, client: MASTER, at: 0, message: encodeMessage('hsmd_sign_any_local_htlc_tx', { ...fields, input: 0, peerid: peer, channel_dbid: dbid }) }),
    signer.handle({ id: 2n, client: ONCHAIND, at: 0, message: encodeMessage('hsmd_sign_local_htlc_tx', fields) }),
  ];
}

const CASES = [
  { what: 'HTLC-timeout of the HTLC we offered in our commitment 1', seq: 94, pointSeq: 75, next: 96 },
  { what: 'HTLC-success of the HTLC offered to us in our commitment 11', seq: 148, pointSeq: 142, next: 158 },
];

for (const { what, seq, pointSeq, next } of CASES) {
  test(`${RULE}: our ${what}: signed with BOLT 3's locktime, refused 1 off; for an older commitment not matched`, () => {
    const h = ourHtlcTx(seq, pointSeq);
    const signer = l1Until(seq + 1);
    for (const d of signBoth(signer, h, h.locktime)) {
      assert.equal(d.reply.kind, 'frame', JSON.stringify(d.reply));
      const { sig } = decodeAs('hsmd_sign_tx_reply', (d.reply as { frame: Uint8Array }).frame);
      assert.equal(sig.sighash, 0x83, 'SIGHASH_SINGLE|ANYONECANPAY');
      assert.ok(curve.verify(sig.signature, h.sighash(h.locktime), h.htlcKey), 'our HTLC key over the BIP 143 sighash');
    }
    const changes = h.locktime === 0 ? [1] : [h.locktime - 1, h.locktime + 1, 0];
    for (const locktime of changes) {
      for (const d of signBoth(signer, h, locktime)) {
        assert.equal(d.reply.kind, 'bad-request', `locktime ${locktime}`);
        const why = (d.reply as { description: string }).description;
        assert.match(why, new RegExp(`^${RULE}: `), `locktime ${locktime}: ${why}`);
        if (h.locktime !== 0 && locktime !== 0) {
          assert.match(why, new RegExp(`^${RULE}: HTLC-timeout transaction with locktime ${locktime} spends a 10000 sat HTLC offered by us ` +
            `under payment hash160 [0-9a-f]{40}: our latest commitment 1 has 10000 sat expiring at 119$`));
        }
      }
    }
    // Once our next commitment is validated, commitment n is no longer our latest: its HTLCs
    // are not kept, the locktime 1 off is not matched (the kind is still checked).
    const later = l1Until(next + 1);
    const off = h.locktime === 0 ? 0 : h.locktime + 1;
    for (const d of signBoth(later, h, off)) assert.equal(d.reply.kind, 'frame', JSON.stringify(d.reply));
    if (h.locktime === 0) for (const d of signBoth(later, h, 1)) assert.match(JSON.stringify(d.reply), new RegExp(`${RULE}: HTLC-success transaction with locktime 1`));
  });
}
