/**
 * `policy-htlc-tx-holder-output` (docs/policies.md "HTLC transactions of our commitment"):
 * an HTLC-success or HTLC-timeout transaction of our commitment n (sign_local_htlc_tx,
 * sign_any_local_htlc_tx) pays the second-stage output BOLT 3 gives it, the `to_local`
 * script (bolt3/scripts.ts toLocalScript) as P2WSH, with
 * - the revocation key of the peer's revocation basepoint and our per-commitment point n
 *   (the point whose key signs the HTLC input, libhsmd.c do_sign_local_htlc_tx);
 * - the to_self_delay the peer chose (setup_channel's remote_to_self_delay: each side's
 *   outputs are delayed by what the other side asked for, BOLT 2 open_channel);
 * - our delayed payment key for point n.
 * With SIGHASH_ALL every output is signed and must pay it; with option_anchors our signature
 * is SIGHASH_SINGLE|ANYONECANPAY and covers only the output at the input's index (outputs
 * lightningd adds later for fees are not ours to sign here). Skipped without setup_channel
 * (the peer's basepoint and delay are unknown, docs/policies.md "When the signer has no history").
 *
 * `policy-htlc-tx-fee-range` (docs/policies.md "HTLC transaction fees"): the fee an
 * HTLC transaction we sign (ours, or the peer's with sign_remote_htlc_tx) takes from the HTLC
 * is one BOLT 3 gives for some feerate within the policy's bounds (0 with option_anchors).
 */
import { equal, toHex } from '../bytes.js';
import type { Curve } from '../crypto/curve.js';
import { commitmentFormat } from '../bolt3/channel-type.js';
import { htlcSuccessFeeSat, htlcSuccessWeight, htlcTimeoutFeeSat, htlcTimeoutWeight } from '../bolt3/fees.js';
import { p2wsh, toLocalScript } from '../bolt3/scripts.js';
import type { Tx } from '../bolt3/tx.js';
import { derivePublicKey, deriveRevocationPublicKey } from '../keys/bolt3-keys.js';
import type { ChannelState } from '../state.js';
import { check, type PolicyConfig, type PolicyViolation } from './policy.js';

export const HTLC_TX_HOLDER_OUTPUT = 'policy-htlc-tx-holder-output';
export const HTLC_TX_FEE_RANGE = 'policy-htlc-tx-fee-range';

export interface HolderHtlcTx {
  readonly tx: Tx;
  /** The input we sign (the HTLC output of our commitment it spends). */
  readonly input: number;
  /** option_anchors: our signature is SIGHASH_SINGLE|ANYONECANPAY. */
  readonly anchors: boolean;
  /** Our per-commitment point n and delayed payment basepoint. */
  readonly perCommitmentPoint: Uint8Array;
  readonly delayedPaymentBasepoint: Uint8Array;
}

/** The BOLT 3 scriptPubKey of an HTLC transaction's output on our commitment, or undefined if a key cannot be derived. */
export function holderHtlcOutputScript(curve: Curve, setup: NonNullable<ChannelState['setup']>, h: HolderHtlcTx): Uint8Array | undefined {
  try {
    const revocation = deriveRevocationPublicKey(curve, setup.remoteBasepoints.revocation, h.perCommitmentPoint);
    const delayed = derivePublicKey(curve, h.delayedPaymentBasepoint, h.perCommitmentPoint);
    return p2wsh(toLocalScript(revocation, setup.remoteToSelfDelay, delayed));
  } catch (e) {
    if (e instanceof Error) return undefined;
    throw e;
  }
}

/** policy-htlc-tx-holder-output (see the module comment). */
export function holderHtlcOutput(curve: Curve, channel: ChannelState | undefined, h: HolderHtlcTx): PolicyViolation[] {
  const setup = channel?.setup;
  if (setup === undefined) return [];
  const expected = holderHtlcOutputScript(curve, setup, h);
  const signed = h.anchors ? [h.input] : h.tx.outputs.map((_, k) => k);
  const wrong = signed.filter((k) => {
    const output = h.tx.outputs[k];
    return output === undefined || expected === undefined || !equal(output.scriptPubKey, expected);
  });
  return check(signed.length > 0 && wrong.length === 0, HTLC_TX_HOLDER_OUTPUT, () => {
    const paid = wrong.map((k) => `output ${k} pays ${h.tx.outputs[k] ? toHex(h.tx.outputs[k]!.scriptPubKey) : 'nothing (no such output)'}`);
    const want = expected ? toHex(expected) : 'a script whose keys cannot be derived';
    return `${paid.join(', ') || 'no output'}: an HTLC transaction of our commitment pays ${want} ` +
      `(to_local script of our point, the peer's revocation basepoint, to_self_delay ${setup.remoteToSelfDelay})`;
  });
}

/** An HTLC transaction as our signature commits to it: what the rules on every HTLC transaction we sign read (this one and htlc-locktime-rules.ts). */
export interface SignedHtlcTx {
  readonly tx: Tx;
  readonly input: number;
  /** The HTLC output it spends, from the PSBT (the BIP 143 sighash commits to it); undefined if absent. */
  readonly inputSat: bigint | undefined;
  /** SIGHASH_SINGLE|ANYONECANPAY: only the output at the input's index is signed. */
  readonly anchors: boolean;
  /** The HTLC output's script, which the signature commits to. */
  readonly witnessScript: Uint8Array;
}

/**
 * policy-htlc-tx-fee-range: the HTLC's amount less what the outputs our signature covers pay
 * (every output with SIGHASH_ALL; with SINGLE|ANYONECANPAY the one at the input's index, none
 * if there is no such output) lies between BOLT 3's fee at the minimum and at the maximum
 * feerate, which is to say some feerate in that range gives exactly this fee: feerate × weight
 * / 1000, rounded down, grows by at most 1 sat per sat/kw. The weight is HTLC-success's when the
 * locktime is 0, HTLC-timeout's (locktime cltv_expiry) otherwise; zero-fee anchors: 0 to 0.
 * Skipped without setup_channel (no channel_type) or without the input's amount (the signing
 * step refuses that request).
 */
export function htlcTxFeeRange(policy: PolicyConfig, setup: Pick<NonNullable<ChannelState['setup']>, 'channelType'> | undefined, h: Omit<SignedHtlcTx, 'witnessScript'>): PolicyViolation[] {
  if (setup === undefined || h.inputSat === undefined) return [];
  const format = commitmentFormat(setup.channelType);
  const success = h.tx.locktime === 0;
  const feeAt = (feerate: number): bigint => (success ? htlcSuccessFeeSat(format, feerate) : htlcTimeoutFeeSat(format, feerate));
  const [low, high] = [feeAt(policy.minFeeratePerKw), feeAt(policy.maxFeeratePerKw)];
  const signed = h.anchors ? [h.tx.outputs[h.input]] : h.tx.outputs;
  const paid = signed.reduce((sum, o) => sum + (o?.amountSat ?? 0n), 0n);
  const fee = h.inputSat - paid;
  return check(fee >= low && fee <= high, HTLC_TX_FEE_RANGE, () => {
    const kind = success ? 'HTLC-success' : 'HTLC-timeout';
    const bound = format === 'anchors_zero_fee_htlc_tx'
      ? 'an option_anchors HTLC transaction pays no fee'
      : `BOLT 3 gives ${low}–${high} sat at ${policy.minFeeratePerKw}–${policy.maxFeeratePerKw} sat/kw ` +
        `(weight ${success ? htlcSuccessWeight(format) : htlcTimeoutWeight(format)})`;
    return `${kind} transaction (locktime ${h.tx.locktime}) takes ${fee} sat of fee from the ${h.inputSat} sat HTLC ` +
      `(its signed output${h.anchors ? ` ${h.input}` : 's'} pay${h.anchors ? 's' : ''} ${paid} sat): ${bound}`;
  });
}
