/**
 * Named policies for transactions that move channel money on chain (VLS-style; see
 * policy.ts for check/enforce; a channel's mutual close: close-rules.ts):
 *
 * - `policy-sweep-destination`: a sweep to us (delayed to_local, remote HTLC, penalty)
 *   pays only to our wallet or the allowlist. CLN's onchaind sweeps to a fresh wallet
 *   key and says so in the PSBT output's derivation (session-basic: BIP 86 P2TR of m/0/0/4).
 * - `policy-onchain-destination`: a wallet transaction (sign_withdrawal, sign_anchorspend,
 *   sign_htlc_tx_mingle, sign_splice_tx) pays only our wallet, the allowlist, or the funding
 *   output (P2WSH of the 2-of-2 of our funding key and the peer's from setup_channel) of a
 *   channel this signer set up; a splice may also pay its own channel's new funding output.
 *   Outputs fixed by another party's SIGHASH_SINGLE signature (the HTLC output of a mingled
 *   HTLC transaction) are not ours to choose and not checked.
 * - `policy-onchain-sighash-all`: an input of a wallet transaction we may sign asks for
 *   SIGHASH_ALL (or SIGHASH_DEFAULT): with NONE, SINGLE or ANYONECANPAY our signature would
 *   leave outputs or other inputs free to change after policy-onchain-destination checked them.
 * - `policy-onchain-fee-range`: inputs cover outputs, and the feerate, with the witness
 *   counted at its largest, stays below PolicyConfig.maxFeeratePerKw (a lower bound on the
 *   real rate, so this never refuses a transaction that is within the limit).
 */
import { equal, u32leAt } from '../bytes.js';
import type { Curve } from '../crypto/curve.js';
import type { KeyRing } from '../keys/node-keys.js';
import { serializeTxNoWitness, txid } from '../bolt3/tx.js';
import { findRecord, PSBT_IN_BIP32_DERIVATION, PSBT_IN_SIGHASH_TYPE, PSBT_IN_TAP_BIP32_DERIVATION, recordsOf, type Psbt } from '../psbt/psbt.js';
import type { SpentOutput } from '../psbt/taproot.js';
import { isWalletScript, paysToWallet } from '../handlers/wallet.js';
import { fundingScript, p2wsh } from '../bolt3/scripts.js';
import type { ChannelState, SignerState } from '../state.js';
import { check, type PolicyConfig, type PolicyViolation } from './policy.js';

export const SWEEP_DESTINATION = 'policy-sweep-destination';
export const ONCHAIN_FEE_RANGE = 'policy-onchain-fee-range';
export const ONCHAIN_DESTINATION = 'policy-onchain-destination';
export const ONCHAIN_SIGHASH_ALL = 'policy-onchain-sighash-all';

/** What the output rules need besides the transaction. */
export interface OwnershipContext {
  readonly keys: KeyRing;
  readonly curve: Curve;
  readonly policy: PolicyConfig;
}

export const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

export const allowlisted = (policy: PolicyConfig, script: Uint8Array): boolean => policy.allowlist.some((a) => equal(a, script));

/**
 * Our wallet, or the allowlist; with a channel, also the wallet key of its shutdown index.
 * Its upfront shutdown script as such is not trusted (policy-holder-shutdown-script).
 */
export function isOurs(ctx: OwnershipContext, psbt: Psbt, index: number, channel?: ChannelState): boolean {
  const script = psbt.tx.outputs[index]!.scriptPubKey;
  if (paysToWallet(ctx.keys, ctx.curve, psbt, index) || allowlisted(ctx.policy, script)) return true;
  const idx = channel?.setup?.localShutdownWalletIndex;
  return idx !== undefined && isWalletScript(ctx.keys, ctx.curve, idx, script);
}

/** policy-sweep-destination: every output is ours (wallet or allowlist). */
export function sweepDestinations(ctx: OwnershipContext, psbt: Psbt): PolicyViolation[] {
  const foreign = psbt.tx.outputs.map((_, k) => k).filter((k) => !isOurs(ctx, psbt, k));
  return check(foreign.length === 0, SWEEP_DESTINATION, () =>
    `sweep outputs ${foreign.join(', ')} pay to ${foreign.map((k) => hex(psbt.tx.outputs[k]!.scriptPubKey)).join(', ')}, not our wallet or the allowlist`,
  );
}

const fundingOutputOf = (keys: KeyRing, c: ChannelState, setup: NonNullable<ChannelState['setup']>): Uint8Array =>
  p2wsh(fundingScript(keys.channel(c.ref.peer, c.ref.dbid).fundingPublicKey, setup.remoteFundingPubkey));

/**
 * Whether output `index` of `psbt` pays the funding output (P2WSH script) of a channel this
 * signer set up. A channel whose setup names this very outpoint (the transaction being signed
 * is its funding transaction: the usual case) is tried first, so that only an output that is
 * not such a channel's makes every channel's script: making one is a key derivation and a
 * point multiplication, 140 ms a transaction at 1,000 channels on Node when every one was
 * made (docs/performance-history.md, 2026-12-05 21:30). Both computed lazily, once.
 */
function fundingMatcher(ctx: OwnershipContext, state: SignerState, psbt: Psbt): (index: number, script: Uint8Array) => boolean {
  let id: Uint8Array | undefined;
  let all: Uint8Array[] | undefined;
  return (index, script) => {
    id ??= txid(psbt.tx);
    for (const c of state.channels.values()) {
      const s = c.setup;
      if (s && s.fundingTxout === index && equal(s.fundingTxid, id) && equal(fundingOutputOf(ctx.keys, c, s), script)) return true;
    }
    all ??= [...state.channels.values()].flatMap((c) => (c.setup ? [fundingOutputOf(ctx.keys, c, c.setup)] : []));
    return all.some((f) => equal(f, script));
  };
}

/**
 * policy-onchain-destination (see the module comment). `exempt` outputs are not checked;
 * `ownFunding` is a funding script the request itself establishes (a splice's channel).
 */
export function walletDestinations(
  ctx: OwnershipContext,
  state: SignerState,
  psbt: Psbt,
  options: { readonly exempt?: (index: number) => boolean; readonly ownFunding?: Uint8Array } = {},
): PolicyViolation[] {
  if (ctx.policy.off.has(ONCHAIN_DESTINATION)) return [];
  const paysFunding = fundingMatcher(ctx, state, psbt);
  const unknown = psbt.tx.outputs
    .map((o, k) => ({ o, k }))
    .filter(({ o, k }) => {
      if (options.exempt?.(k) || isOurs(ctx, psbt, k)) return false;
      if (options.ownFunding && equal(options.ownFunding, o.scriptPubKey)) return false;
      return !paysFunding(k, o.scriptPubKey);
    });
  return check(unknown.length === 0, ONCHAIN_DESTINATION, () =>
    unknown.map(({ o, k }) => `output ${k} pays ${o.amountSat} sat to ${hex(o.scriptPubKey)}`).join(', ') +
    `: not our wallet, the allowlist, nor a funding output of a channel this signer set up (to withdraw there, allowlist the address: sphinx-ctl allowlist add ADDRESS)`,
  );
}

/**
 * policy-onchain-sighash-all (see the module comment). The inputs we may sign are the ones
 * spending our utxos (`spendsOurs`) and any that names a key in a derivation record, which is
 * what makes libwally sign an input; an input without a sighash field is signed ALL/DEFAULT.
 */
export function sighashAll(psbt: Psbt, spendsOurs: (index: number) => boolean): PolicyViolation[] {
  const loose = psbt.inputs.flatMap((input, k) => {
    const field = findRecord(input, Uint8Array.of(PSBT_IN_SIGHASH_TYPE))?.value;
    // 4 bytes, little-endian (the parser refuses any other length, as libwally does); 0 DEFAULT, 1 ALL.
    const asked = field === undefined ? 0 : u32leAt(field);
    if (asked <= 1) return [];
    const signable = spendsOurs(k) || recordsOf(input, PSBT_IN_BIP32_DERIVATION).length > 0 || recordsOf(input, PSBT_IN_TAP_BIP32_DERIVATION).length > 0;
    return signable ? [`input ${k} asks for sighash type 0x${asked.toString(16).padStart(2, '0')}`] : [];
  });
  return check(loose.length === 0, ONCHAIN_SIGHASH_ALL, () => `${loose.join(', ')}: only SIGHASH_ALL (or DEFAULT) commits to the outputs this signer checked`);
}

/**
 * policy-onchain-fee-range for a transaction whose spent outputs are all known.
 * `witnessBytes` is the largest witness (all inputs, marker and flag included) it can get.
 */
export function feeRange(policy: PolicyConfig, psbt: Psbt, spent: readonly SpentOutput[], witnessBytes: number): PolicyViolation[] {
  const inSat = spent.reduce((a, s) => a + s.amountSat, 0n);
  const outSat = psbt.tx.outputs.reduce((a, o) => a + o.amountSat, 0n);
  const fee = inSat - outSat;
  const weight = 4 * serializeTxNoWitness(psbt.tx).length + witnessBytes;
  const feerate = fee < 0n ? 0n : (fee * 1000n) / BigInt(weight);
  return [
    ...check(fee >= 0n, ONCHAIN_FEE_RANGE, () => `outputs (${outSat} sat) exceed inputs (${inSat} sat)`),
    ...check(feerate <= BigInt(policy.maxFeeratePerKw), ONCHAIN_FEE_RANGE, () =>
      `fee ${fee} sat is at least ${feerate} sat/kw, above the maximum ${policy.maxFeeratePerKw}`,
    ),
  ];
}
