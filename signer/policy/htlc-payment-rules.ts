/**
 * policy-htlc-payment-approved (docs/policies.md#payments-bind-the-commitments): the
 * velocity limit decides preapprove_invoice / preapprove_keysend, but a compromised node
 * can skip those and offer an HTLC in the next commitment. So every HTLC we offer that is
 * new in a commitment (sign_remote_commitment_tx, validate_commitment_tx) must be
 * - for a payment hash the device authorized (PaymentAuthorized) or the owner approved
 *   (sphinx-ctl approve, not yet used), the HTLCs we offer under it on every channel
 *   totalling at most the amount counted against the limit plus a routing fee allowance
 *   (no amount bound when it passed beyond the limit: allowlisted payee, owner approval); or
 * - a forward: HTLCs offered to us under the same hash on other channels total at least
 *   what we offer under it.
 * New: not in the channel's latest holder or counterparty commitment (CommitmentHtlcsRecorded).
 * With policy-payment-velocity off every preapproval passes and nothing is authorized, so
 * there is no limit to bind: this rule is skipped too.
 *
 * The commitments' HTLCs are recorded while this rule is checked or policy-htlc-tx-locktime
 * (htlc-locktime-rules.ts) is on. While neither is, a side's list would go stale: the first
 * commitment then drops it (an empty list), so a list is always that of the side's latest
 * commitment, or empty.
 */
import { toHex } from '../bytes.js';
import type { ChannelRef, SeenHtlc, SignerEvent } from '../events.js';
import { NO_HTLCS } from '../htlc-ledger.js';
import { channelKey, type SignerState } from '../state.js';
import type { HsmHtlc } from '../wire/fields.js';
import { PAYMENT_VELOCITY } from './payment-rules.js';
import { check, type PolicyConfig, type PolicyViolation } from './policy.js';

export const HTLC_PAYMENT_APPROVED = 'policy-htlc-payment-approved';

/** hsm_htlc side LOCAL: the HTLC is ours, offered out of our balance. */
const LOCAL = 0;

/**
 * Routing fees an authorized amount may grow by: 1% plus 5 sat, above the defaults of
 * CLN's pay (maxfeepercent 0.5, exemptfee 5000 msat), so a payment sent with them passes.
 */
export const feeAllowanceMsat = (amountMsat: bigint): bigint => amountMsat / 100n + 5_000n;

export const seenHtlcs = (htlcs: readonly HsmHtlc[]): SeenHtlc[] =>
  htlcs.map((h) => ({ offered: h.side === LOCAL, amountMsat: h.amount, paymentHash: h.payment_hash, cltvExpiry: h.cltv_expiry }));

const skipped = (p: PolicyConfig): boolean => p.off.has(HTLC_PAYMENT_APPROVED) || p.off.has(PAYMENT_VELOCITY);

const identity = (h: SeenHtlc): string => `${h.offered}:${toHex(h.paymentHash)}:${h.amountMsat}:${h.cltvExpiry}`;

/** The violations of one commitment's HTLCs on channel `ref` (none while the rule is skipped). */
export function htlcPaymentRules(policy: PolicyConfig, state: SignerState, ref: ChannelRef, htlcs: readonly SeenHtlc[]): PolicyViolation[] {
  if (skipped(policy)) return [];
  const key = channelKey(ref);
  const known = state.channels.get(key)?.htlcs ?? NO_HTLCS;
  const seen = new Set([...known.holder, ...known.counterparty].map(identity));
  const newHashes = new Set(htlcs.filter((h) => h.offered && !seen.has(identity(h))).map((h) => toHex(h.paymentHash)));
  return [...newHashes].flatMap((hash) => {
    const here = htlcs.filter((h) => h.offered && toHex(h.paymentHash) === hash).reduce((sum, h) => sum + h.amountMsat, 0n);
    const others = (state.htlcIndex.get(hash) ?? []).filter((s) => s.channel !== key);
    const offered = others.reduce((sum, s) => sum + s.offeredMsat, here);
    const received = others.reduce((sum, s) => sum + s.receivedMsat, 0n);
    const authorized = state.authorizedPayments.get(hash);
    const bound = authorized?.amountMsat;
    const ok =
      (received > 0n && offered <= received) ||
      state.approvals.has(hash) ||
      (authorized !== undefined && (bound === undefined || offered <= bound + feeAllowanceMsat(bound)));
    return check(ok, HTLC_PAYMENT_APPROVED, () =>
      authorized !== undefined
        ? `HTLCs offered for ${hash} total ${offered} msat, more than the ${bound} msat authorized plus ${feeAllowanceMsat(bound!)} msat of fees`
        : received > 0n
          ? `HTLCs offered for ${hash} total ${offered} msat, more than the ${received} msat offered to us (a forward)`
          : `an HTLC of ${offered} msat offered for ${hash}, a payment the device never approved and no forward; to pay it once: sphinx-ctl approve ${hash}`);
  });
}

/** Whether commitments' HTLCs are recorded: this rule is checked, or policy-htlc-tx-locktime is on. */
const recordsHtlcs = (p: PolicyConfig): boolean => !skipped(p) || !p.off.has('policy-htlc-tx-locktime');

/** CommitmentHtlcsRecorded for this commitment when the side has or had HTLCs: its HTLCs while recorded, else none (the list kept is dropped). */
export function htlcEvents(policy: PolicyConfig, state: SignerState, ref: ChannelRef, side: 'holder' | 'counterparty', commitNum: bigint, htlcs: readonly SeenHtlc[]): SignerEvent[] {
  const before = state.channels.get(channelKey(ref))?.htlcs?.[side] ?? [];
  const recorded = recordsHtlcs(policy) ? htlcs : [];
  return recorded.length === 0 && before.length === 0 ? [] : [{ kind: 'CommitmentHtlcsRecorded', channel: ref, side, commitNum, htlcs: recorded }];
}
