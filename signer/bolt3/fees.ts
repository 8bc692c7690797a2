/**
 * BOLT 3 Fees: expected weights, commitment and HTLC transaction fees, and which HTLCs are
 * trimmed, per commitment format.
 */

/**
 * The commitment layout.
 * - `no_anchors`: option_static_remotekey and the older layout alike (they differ only in
 *   which key the caller gives for to_remote).
 * - `anchor_outputs`: the withdrawn option_anchor_outputs (HTLC txs pay fees: 666/706).
 * - `anchors_zero_fee_htlc_tx`: what BOLT 3 now calls option_anchors (HTLC tx fee 0).
 */
export type CommitmentFormat = 'no_anchors' | 'anchor_outputs' | 'anchors_zero_fee_htlc_tx';

export const hasAnchors = (format: CommitmentFormat): boolean => format !== 'no_anchors';

/** BOLT 3: "The amount of the output is fixed at 330 sats". */
export const ANCHOR_OUTPUT_SAT = 330n;

/** BOLT 3 Fee Calculation: "Start with `weight` = 724 (1124 if `option_anchors` applies)". */
const COMMITMENT_BASE_WEIGHT = { no_anchors: 724, anchors: 1124 } as const;
/** BOLT 3 Fee Calculation: "For each committed HTLC, if that output is not trimmed ... add 172". */
export const WEIGHT_PER_HTLC_OUTPUT = 172;

/** Expected commitment weight (BOLT 3 Fee Calculation, Appendix A). */
export function commitmentWeight(format: CommitmentFormat, untrimmedHtlcs: number): number {
  const base = hasAnchors(format) ? COMMITMENT_BASE_WEIGHT.anchors : COMMITMENT_BASE_WEIGHT.no_anchors;
  return base + WEIGHT_PER_HTLC_OUTPUT * untrimmedHtlcs;
}

/** `feerate_per_kw` × weight / 1000, rounded down. */
export const feeForWeight = (feeratePerKw: number, weight: number): bigint =>
  (BigInt(feeratePerKw) * BigInt(weight)) / 1000n;

/** Base commitment fee (BOLT 3 Fee Calculation step 3); excludes the anchors' 2 × 330 sat. */
export const commitmentFeeSat = (format: CommitmentFormat, feeratePerKw: number, untrimmedHtlcs: number): bigint =>
  feeForWeight(feeratePerKw, commitmentWeight(format, untrimmedHtlcs));

/** Expected HTLC-timeout weight: 663, 666 with anchors (Appendix A). */
export const htlcTimeoutWeight = (format: CommitmentFormat): number => (hasAnchors(format) ? 666 : 663);
/** Expected HTLC-success weight: 703, 706 with anchors (Appendix A). */
export const htlcSuccessWeight = (format: CommitmentFormat): number => (hasAnchors(format) ? 706 : 703);

/**
 * HTLC-timeout fee: "If `option_anchors` applies: MUST be 0. Otherwise ... 663"; the older
 * option_anchor_outputs used 666 (CLN common/htlc_tx.h keeps it).
 */
export const htlcTimeoutFeeSat = (format: CommitmentFormat, feeratePerKw: number): bigint =>
  format === 'anchors_zero_fee_htlc_tx' ? 0n : feeForWeight(feeratePerKw, htlcTimeoutWeight(format));

/** HTLC-success fee: 0 with option_anchors, else feerate × 703 (706 for option_anchor_outputs) / 1000. */
export const htlcSuccessFeeSat = (format: CommitmentFormat, feeratePerKw: number): bigint =>
  format === 'anchors_zero_fee_htlc_tx' ? 0n : feeForWeight(feeratePerKw, htlcSuccessWeight(format));

/**
 * BOLT 3 Trimmed Outputs: an offered (received) HTLC is trimmed if its amount minus the
 * HTLC-timeout (HTLC-success) fee would be below the owner's dust limit. Compared in msat,
 * as CLN's htlc_is_trimmed does (equivalent to rounding the amount down first).
 */
export function isHtlcTrimmed(
  format: CommitmentFormat,
  offered: boolean,
  amountMsat: bigint,
  feeratePerKw: number,
  dustLimitSat: bigint,
): boolean {
  const fee = offered ? htlcTimeoutFeeSat(format, feeratePerKw) : htlcSuccessFeeSat(format, feeratePerKw);
  return amountMsat < (dustLimitSat + fee) * 1000n;
}
