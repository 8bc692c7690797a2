/**
 * Named policies for a channel's cooperative close (VLS style; policy.ts for check/enforce;
 * docs/policies.md "Closing a channel"):
 *
 * - `policy-holder-shutdown-script`: setup_channel's local (upfront) shutdown script, if any,
 *   is our wallet's (the P2WPKH or BIP 86 P2TR of the key at its shutdown wallet index,
 *   re-derived) or allowlisted. Checked at setup_channel, where a refusal fails the channel
 *   open before any money moves, and again at sign_mutual_close_tx for an output paying it
 *   (the allowlist may have changed since, or the rule been off then).
 * - `policy-mutual-destination-allowlisted`: a mutual close pays only our wallet (an output
 *   lightningd marks with a wallet derivation that we re-derive, or the wallet key of the
 *   shutdown index), the allowlist, and the counterparty: its shutdown script if
 *   setup_channel gave one, else at most one other output (the counterparty's, whose script
 *   we were never told). An output to the upfront shutdown script is left to the rule above.
 * - `policy-mutual-value-matches-commitment`: what the close pays us, plus its whole fee (at
 *   most everything we could be charged), is at least our balance in the latest commitments
 *   (CommitmentBalanceRecorded, `commitmentBalance` below). Equivalently: the counterparty
 *   gets no more than its own balance. Skipped while the signer has recorded no balance for
 *   the channel's latest commitments (no history).
 */
import { equal } from '../bytes.js';
import { hasFeaturePair, STATIC_REMOTEKEY } from '../bolt3/channel-type.js';
import { p2wpkh, p2wsh, toRemoteAnchorsScript } from '../bolt3/scripts.js';
import type { TxOutput } from '../bolt3/tx.js';
import type { ChannelSetUp } from '../events.js';
import type { CommitmentState, RecordedBalance } from '../handlers/commitment-state.js';
import { isWalletScript } from '../handlers/wallet.js';
import type { Psbt } from '../psbt/psbt.js';
import type { ChannelState } from '../state.js';
import type { HsmHtlc } from '../wire/fields.js';
import { allowlisted, hex, isOurs, type OwnershipContext } from './onchain-rules.js';
import { check, type PolicyViolation } from './policy.js';

export const HOLDER_SHUTDOWN_SCRIPT = 'policy-holder-shutdown-script';
export const MUTUAL_DESTINATION = 'policy-mutual-destination-allowlisted';
export const MUTUAL_VALUE = 'policy-mutual-value-matches-commitment';

type ShutdownSetup = Pick<ChannelSetUp, 'localShutdownScript' | 'localShutdownWalletIndex'>;

/** policy-holder-shutdown-script at setup_channel (see the module comment). */
export function holderShutdownScript(ctx: OwnershipContext, setup: ShutdownSetup): PolicyViolation[] {
  const script = setup.localShutdownScript;
  const index = setup.localShutdownWalletIndex;
  const ours = script.length === 0 || (index !== undefined && isWalletScript(ctx.keys, ctx.curve, index, script)) || allowlisted(ctx.policy, script);
  return check(ours, HOLDER_SHUTDOWN_SCRIPT, () =>
    `upfront shutdown script ${hex(script)} is not our wallet's ` +
    `(${index === undefined ? 'no wallet index given' : `wallet key ${index}`}) nor allowlisted (to close there, allowlist it first: sphinx-ctl allowlist add ADDRESS)`,
  );
}

/**
 * The three close rules for sign_mutual_close_tx's outputs; `inputSat` is what its inputs
 * spend (the fee is what the outputs leave of it).
 */
export function mutualCloseRules(ctx: OwnershipContext, psbt: Psbt, channel: ChannelState | undefined, inputSat: bigint): PolicyViolation[] {
  const setup = channel?.setup;
  const shutdown = setup?.localShutdownScript;
  const remote = setup?.remoteShutdownScript;
  const remoteKnown = remote !== undefined && remote.length > 0;
  const unknown: number[] = [];
  const untrusted: number[] = [];
  let toUsSat = 0n;
  psbt.tx.outputs.forEach((o, k) => {
    if (isOurs(ctx, psbt, k, channel)) toUsSat += o.amountSat;
    // Ours as far as lightningd is concerned; policy-holder-shutdown-script decides.
    else if (shutdown !== undefined && shutdown.length > 0 && equal(shutdown, o.scriptPubKey)) {
      untrusted.push(k);
      toUsSat += o.amountSat;
    } else if (!remoteKnown || !equal(remote, o.scriptPubKey)) unknown.push(k);
  });
  // Without the peer's shutdown script one unknown output is the peer's own.
  const tolerated = remoteKnown ? 0 : 1;
  const feeSat = inputSat - psbt.tx.outputs.reduce((a, o) => a + o.amountSat, 0n);
  return [
    ...check(untrusted.length === 0, HOLDER_SHUTDOWN_SCRIPT, () =>
      `outputs ${untrusted.join(', ')} pay the upfront shutdown script ${hex(shutdown!)}, which is not our wallet's nor allowlisted`,
    ),
    ...check(unknown.length <= tolerated, MUTUAL_DESTINATION, () =>
      `outputs ${unknown.join(', ')} pay to ${unknown.map((k) => hex(psbt.tx.outputs[k]!.scriptPubKey)).join(', ')}, ` +
      `neither our wallet, the allowlist nor the counterparty's shutdown script`,
    ),
    ...closeValue(channel?.commitments, toUsSat, feeSat),
  ];
}

/** A recorded balance, if it is that of the latest commitment `latest` on its side. */
const current = (balance: RecordedBalance | undefined, latest: bigint | undefined): bigint | undefined =>
  balance !== undefined && balance.n === latest ? balance.sat : undefined;

/**
 * policy-mutual-value-matches-commitment. Each recorded balance is a lower bound of ours in
 * its commitment; once the channel is quiescent (BOLT 2: no close before) the latest holder
 * and counterparty commitments hold the same balances, so the larger bound holds for both.
 */
function closeValue(c: CommitmentState | undefined, toUsSat: bigint, feeSat: bigint): PolicyViolation[] {
  const bounds = [current(c?.holderBalance, c?.holderValidated?.n), current(c?.counterpartyBalance, c?.counterpartySigned?.n)]
    .filter((b): b is bigint => b !== undefined);
  if (bounds.length === 0) return [];
  const balance = bounds.reduce((a, b) => (a > b ? a : b));
  return check(toUsSat + feeSat >= balance, MUTUAL_VALUE, () =>
    `the close pays us ${toUsSat} sat and ${feeSat} sat of fee, less than our balance of at least ${balance} sat ` +
    `in the latest commitments (holder ${c?.holderValidated?.n ?? '-'}, counterparty ${c?.counterpartySigned?.n ?? '-'})`,
  );
}

export interface CommitmentOutputs {
  readonly side: 'holder' | 'counterparty';
  readonly fundingSat: bigint;
  readonly outputs: readonly TxOutput[];
  readonly htlcs: readonly HsmHtlc[];
  /** The to_remote output's key: the peer's payment basepoint on ours, ours on theirs. */
  readonly toRemoteKey: Uint8Array;
}

/**
 * What a commitment pays us at least, HTLCs in flight left out, read from its to_remote
 * output (the only one whose script needs no per-commitment key), or undefined when it
 * cannot be read safely:
 * - their commitment: our to_remote output (0 if trimmed). Exact if they opened; if we did,
 *   our balance is more by the commitment fee and anchors we pay.
 * - our commitment, if we opened: the funding amount less their to_remote output and the
 *   HTLCs (exact: the non-opener pays nothing else). Not recorded if they opened (our
 *   to_local output needs our per-commitment key) or their output is missing (trimmed).
 * Only for static_remotekey channels (to_remote pays the basepoint, P2WPKH or P2WSH with
 * anchors: BOLT 3); CLN opens no others.
 */
export function commitmentBalance(setup: ChannelState['setup'], commitment: CommitmentOutputs): bigint | undefined {
  if (!setup || !hasFeaturePair(setup.channelType, STATIC_REMOTEKEY)) return undefined;
  const scripts = [p2wpkh(commitment.toRemoteKey), p2wsh(toRemoteAnchorsScript(commitment.toRemoteKey))];
  const toRemote = commitment.outputs.filter((o) => scripts.some((s) => equal(s, o.scriptPubKey)));
  if (toRemote.length > 1) return undefined;
  const toRemoteSat = toRemote[0]?.amountSat;
  if (commitment.side === 'counterparty') return toRemoteSat ?? 0n;
  if (!setup.isOutbound || toRemoteSat === undefined) return undefined;
  const htlcMsat = commitment.htlcs.reduce((a, h) => a + h.amount, 0n);
  const balance = commitment.fundingSat - toRemoteSat - (htlcMsat + 999n) / 1000n;
  return balance < 0n ? 0n : balance;
}

