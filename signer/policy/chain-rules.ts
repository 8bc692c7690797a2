/**
 * Named policies that use what the device checked of the chain (docs/chain.md; VLS style,
 * policy.ts for check/enforce). Each is skipped while the device has no chain view (no
 * chain source configured, or nothing shown yet): then the signer decides as CLN's
 * stateless hsmd does, and every recorded session replays byte for byte.
 *
 * - policy-htlc-cltv-range: every HTLC on a commitment expires within
 *   [tip − htlcExpiredGraceBlocks, tip + maxHtlcCltvDelta] of the device's tip (VLS
 *   policy-htlc-cltv-range): an expiry years away locks the money up; one long past lets
 *   the offerer take it back at once.
 * - policy-forget-channel-closed: forget_channel only when the channel's funding output was
 *   never seen confirmed (nothing on chain to lose) or was spent at least minForgetDepth
 *   blocks deep (a node cannot make the device forget a live channel).
 * - policy-funding-confirmed: while the device has not seen a channel's funding confirmed,
 *   the HTLCs on its commitments total at most maxUnconfirmedHtlcSat: a payment (every
 *   balance change starts as an HTLC) waits for the funding to be on chain.
 */
import { depthOf, outpointKey, tipOf, type ChainView, type OutpointStatus } from '../chain/view.js';
import type { ChannelState } from '../state.js';
import type { HsmHtlc } from '../wire/fields.js';
import { check, type PolicyConfig, type PolicyViolation } from './policy.js';

const fundingStatus = (chain: ChainView, channel: ChannelState | undefined): OutpointStatus | undefined => {
  const setup = channel?.setup;
  return setup && chain.outpoints.get(outpointKey(setup.fundingTxid, setup.fundingTxout));
};

/** policy-htlc-cltv-range and policy-funding-confirmed for one commitment's HTLCs. */
export function commitmentChainRules(p: PolicyConfig, chain: ChainView | undefined, channel: ChannelState | undefined, htlcs: readonly HsmHtlc[]): PolicyViolation[] {
  if (!chain || htlcs.length === 0) return [];
  const tip = tipOf(chain).height;
  const low = Math.max(0, tip - p.htlcExpiredGraceBlocks);
  const high = tip + p.maxHtlcCltvDelta;
  const outside = htlcs.filter((h) => h.cltv_expiry < low || h.cltv_expiry > high).map((h) => h.cltv_expiry);
  const htlcSat = htlcs.reduce((sum, h) => sum + h.amount / 1000n, 0n);
  const confirmed = fundingStatus(chain, channel)?.confirmed !== undefined;
  return [
    ...check(outside.length === 0, 'policy-htlc-cltv-range', () => `HTLC expiries ${outside.join(', ')} outside [${low}, ${high}] (tip ${tip})`),
    ...check(channel?.setup === undefined || confirmed || htlcSat <= p.maxUnconfirmedHtlcSat, 'policy-funding-confirmed',
      () => `HTLCs total ${htlcSat} sat > ${p.maxUnconfirmedHtlcSat} while the funding is not seen confirmed (tip ${tip})`),
  ];
}

/** policy-forget-channel-closed for forget_channel of `channel`. */
export function forgetChainRules(p: PolicyConfig, chain: ChainView | undefined, channel: ChannelState | undefined): PolicyViolation[] {
  if (!chain) return [];
  const status = fundingStatus(chain, channel);
  if (!status?.confirmed) return [];
  const depth = status.spent ? depthOf(chain, status.spent.height) : 0;
  return check(depth >= p.minForgetDepth, 'policy-forget-channel-closed', () =>
    status.spent
      ? `the funding was spent at height ${status.spent.height}, ${depth} deep (at least ${p.minForgetDepth} needed)`
      : `the funding confirmed at height ${status.confirmed!.height} is unspent: the channel is live`,
  );
}
