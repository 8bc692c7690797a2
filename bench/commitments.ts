/**
 * Validate and sign one commitment with 0, 10 and 100 HTLCs, as a signer does on each
 * commitment_signed round: build the commitment (BOLT 3) and its HTLC transactions,
 * VALIDATE the peer's signatures (commitment on SIGHASH_ALL, each HTLC tx on
 * SINGLE|ANYONECANPAY with anchors), then SIGN our commitment signature with CLN's low-R
 * grind. The channel is BOLT 3 Appendix C's (test/fixtures/vectors), anchors format; the
 * HTLCs are Appendix C's amounts repeated with distinct hashes. Timed on both curves.
 */
import { fastCurve } from '../node/curve-native.js';
import type { Curve } from '../signer/crypto/curve.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import { sha256, signLowR } from '../signer/crypto/signatures.js';
import { buildCommitment, type CommitmentHtlc, type CommitmentParams } from '../signer/bolt3/commitment.js';
import { buildHtlcTxs, remoteHtlcSighashType } from '../signer/bolt3/htlc-tx.js';
import { SIGHASH_ALL, sighasher } from '../signer/bolt3/sighash.js';
import { appendixCChannel } from '../test/bolt3-appendix-c.js';
import { readJsonFixture } from '../test/fixtures.js';
import { type Bench, fmtOps, fmtRatio, measure, printTable } from './harness.js';

const HTLC_COUNTS = [0, 10, 100];
const FORMAT = 'anchors_zero_fee_htlc_tx' as const;

/** Appendix C's channel with n HTLCs (its five HTLCs cycled, each with its own hash). */
function channelWith(n: number): { params: CommitmentParams; remoteFundingPriv: Uint8Array; remoteHtlcPriv: Uint8Array; localFundingPriv: Uint8Array } {
  const common = readJsonFixture('vectors/bolt03-commitment-txs.json').appendix_c_static_remotekey.common_parameters;
  const ch = appendixCChannel(common, false);
  const htlcs: CommitmentHtlc[] = Array.from({ length: n }, (_, i) => {
    const x = ch.htlcs[i % 5]!;
    return { ...x, amountMsat: x.amountMsat + BigInt(i) * 1000n, paymentHash: sha256(Uint8Array.of(i >> 8, i & 0xff)), cltvExpiry: x.cltvExpiry + i };
  });
  const inFlight = htlcs.reduce((sum, x) => sum + x.amountMsat, 0n);
  const balance = (ch.base.fundingAmountSat * 1000n - inFlight) / 2n;
  return {
    params: { ...ch.base, format: FORMAT, dustLimitSat: ch.dustLimitSat, feeratePerKw: 253, toLocalMsat: balance, toRemoteMsat: balance, htlcs },
    remoteFundingPriv: ch.remoteFundingPriv,
    remoteHtlcPriv: ch.remoteHtlcPriv,
    localFundingPriv: ch.localFundingPriv,
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
