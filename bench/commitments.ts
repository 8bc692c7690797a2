/**
 * Validate and sign one commitment with 0, 10 and 100 HTLCs, as a signer does on each
 * commitment_signed round: build the commitment (BOLT 3) and its HTLC transactions,
 * VALIDATE the peer's signatures (commitment on SIGHASH_ALL, each HTLC tx on
 * SINGLE|ANYONECANPAY with anchors), then SIGN our commitment signature with CLN's low-R
 * grind. The channel is BOLT 3 Appendix C's (test/fixtures/vectors), anchors format; the
 * HTLCs are Appendix C's amounts repeated with distinct hashes. Timed on both curves.
 */
import { fastCurve } from '../broker/curve-native.js';
import { fromHex } from '../signer/bytes.js';
import type { Curve } from '../signer/crypto/curve.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import { sha256, signLowR } from '../signer/crypto/signatures.js';
import { buildCommitment, commitmentNumberObscurer, type CommitmentHtlc, type CommitmentParams } from '../signer/bolt3/commitment.js';
import { buildHtlcTxs, remoteHtlcSighashType } from '../signer/bolt3/htlc-tx.js';
import { SIGHASH_ALL, sighasher } from '../signer/bolt3/sighash.js';
import { reverseTxid } from '../signer/bolt3/tx.js';
import { readJsonFixture } from '../test/fixtures.js';
import { type Bench, fmtOps, fmtRatio, measure, printTable } from './harness.js';

const HTLC_COUNTS = [0, 10, 100];
const FORMAT = 'anchors_zero_fee_htlc_tx' as const;

/** Appendix C's channel with n HTLCs (its five HTLCs cycled, each with its own hash). */
function channelWith(n: number): { params: CommitmentParams; remoteFundingPriv: Uint8Array; remoteHtlcPriv: Uint8Array; localFundingPriv: Uint8Array } {
  const common = readJsonFixture('vectors/bolt03-commitment-txs.json').appendix_c_static_remotekey.common_parameters;
  const v = common.values;
  const internal = common.internal_values_from_html_comment;
  const h = (s: string): Uint8Array => fromHex(s);
  const htlcs: CommitmentHtlc[] = Array.from({ length: n }, (_, i) => {
    const x = common.htlcs[i % 5];
    return {
      offered: x.direction === 'local->remote',
      amountMsat: BigInt(x.amount_msat) + BigInt(i) * 1000n,
      paymentHash: sha256(Uint8Array.of(i >> 8, i & 0xff)),
      cltvExpiry: x.expiry + i,
    };
  });
  const inFlight = htlcs.reduce((sum, x) => sum + x.amountMsat, 0n);
  const fundingMsat = BigInt(v.funding_amount_satoshi) * 1000n;
  return {
    params: {
      format: FORMAT,
      funding: { txid: reverseTxid(h(v.funding_tx_id)), vout: v.funding_output_index },
      fundingAmountSat: BigInt(v.funding_amount_satoshi),
      localFundingPubkey: h(v.local_funding_pubkey),
      remoteFundingPubkey: h(v.remote_funding_pubkey),
      commitmentNumber: BigInt(v.commitment_number),
      commitmentNumberObscurer: commitmentNumberObscurer(h(v.local_payment_basepoint), h(v.remote_payment_basepoint)),
      toSelfDelay: v.local_delay,
      dustLimitSat: BigInt(v.local_dust_limit_satoshi),
      feeratePerKw: 253,
      toLocalMsat: (fundingMsat - inFlight) / 2n,
      toRemoteMsat: (fundingMsat - inFlight) / 2n,
      localIsOpener: true,
      htlcs,
      keys: {
        revocationPubkey: h(v.local_revocation_pubkey),
        localDelayedPubkey: h(v.local_delayedpubkey),
        localHtlcPubkey: h(v.local_htlcpubkey),
        remoteHtlcPubkey: h(v.remote_htlcpubkey),
        remotePaymentPubkey: h(v.remote_payment_basepoint),
      },
    },
    remoteFundingPriv: h(internal.remote_funding_privkey.value).subarray(0, 32),
    remoteHtlcPriv: h(internal.remote_privkey.value).subarray(0, 32),
    localFundingPriv: h(v.local_funding_privkey).subarray(0, 32),
  };
}

/** The peer's signatures for a commitment, made once outside the timed loop. */
function peerSignatures(curve: Curve, ch: ReturnType<typeof channelWith>) {
  const commitment = buildCommitment(ch.params);
  const hash = sighasher(commitment.tx).sighash(0, commitment.fundingWitnessScript, ch.params.fundingAmountSat, SIGHASH_ALL);
  const htlcTxs = buildHtlcTxs(commitment, htlcTxParams(ch.params));
  return {
    commitment: curve.sign(hash, ch.remoteFundingPriv),
    htlcs: htlcTxs.map((t) =>
      curve.sign(sighasher(t.tx).sighash(0, t.witnessScript, t.amountSat, remoteHtlcSighashType(FORMAT)), ch.remoteHtlcPriv),
    ),
  };
}

const htlcTxParams = (p: CommitmentParams) => ({
  format: p.format,
  feeratePerKw: p.feeratePerKw,
  toSelfDelay: p.toSelfDelay,
  revocationPubkey: p.keys.revocationPubkey,
  localDelayedPubkey: p.keys.localDelayedPubkey,
});

/** One round: rebuild, check every peer signature, sign ours. Throws if a check fails. */
function validateAndSign(curve: Curve, ch: ReturnType<typeof channelWith>, peer: ReturnType<typeof peerSignatures>): Uint8Array {
  const commitment = buildCommitment(ch.params);
  const hash = sighasher(commitment.tx).sighash(0, commitment.fundingWitnessScript, ch.params.fundingAmountSat, SIGHASH_ALL);
  if (!curve.verify(peer.commitment, hash, ch.params.remoteFundingPubkey)) throw new Error('commitment signature');
  buildHtlcTxs(commitment, htlcTxParams(ch.params)).forEach((t, i) => {
    const h = sighasher(t.tx).sighash(0, t.witnessScript, t.amountSat, remoteHtlcSighashType(FORMAT));
    if (!curve.verify(peer.htlcs[i]!, h, ch.params.keys.remoteHtlcPubkey)) throw new Error(`HTLC ${i} signature`);
  });
  return signLowR(curve, hash, ch.localFundingPriv);
}

export const commitmentsBench: Bench = {
  name: 'validate and sign one commitment (BOLT 3 Appendix C channel, anchors)',
  run({ baseline, budgetMs }) {
    const rows: string[][] = [];
    for (const n of HTLC_COUNTS) {
      const ch = channelWith(n);
      const results = [nobleCurve, fastCurve()].map((curve) => {
        const peer = peerSignatures(curve, ch);
        return measure(() => validateAndSign(curve, ch, peer), budgetMs);
      });
      const [noble, fast] = results as [ReturnType<typeof measure>, ReturnType<typeof measure>];
      rows.push([
        String(n),
        `${(1000 / noble.opsPerSec).toFixed(2)} ms`,
        `${(1000 / fast.opsPerSec).toFixed(2)} ms`,
        fmtRatio(fast.opsPerSec / noble.opsPerSec),
        fmtOps(fast.opsPerSec),
        fmtRatio(baseline.nobleSign.opsPerSec / fast.opsPerSec),
      ]);
    }
    printTable(['HTLCs', 'noble', 'fast', 'fast÷noble', 'fast ops/s', 'cost in base signs'], rows);
  },
};
