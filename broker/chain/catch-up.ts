/**
 * Catching the device up before a request that reads its chain view (docs/chain.md
 * "Before a request that reads the chain"): lightningd may ask for a commitment signature
 * right after the block that confirms a funding is mined, while the device is still up to
 * one poll behind, and a device that has not seen the funding confirmed refuses under
 * policy-funding-confirmed. These are the pure decisions; relay.ts does the I/O.
 */
import type { DeviceChainStatus } from '../../signer/chain/status.js';
import { messageType, requestType } from '../../signer/wire/messages.js';

/** The requests whose decision reads the chain view (signer/policy/chain-rules.ts; docs/policies.md "Rules that use the chain"). */
const READS_CHAIN: ReadonlySet<number> = new Set([
  messageType('hsmd_sign_remote_commitment_tx'),
  messageType('hsmd_validate_commitment_tx'),
  messageType('hsmd_forget_channel'),
]);

/** The longest a request waits for the device to be caught up: one default poll, as long as it could have been behind anyway. */
export const CATCH_UP_WAIT_MS = 2_000;

export const readsChain = (message: Uint8Array): boolean => READS_CHAIN.has(requestType(message));

/** What the relay knows of a device: its last chain-state, and a problem the follower found with it. */
export interface DeviceChainEntry {
  readonly status: DeviceChainStatus;
  readonly problem: string | undefined;
}

/**
 * Whether a request must wait for this device to be shown what bitcoind has at `height`.
 * Not for a device without a chain view (no hsmd_init yet), one that refused what it was
 * last shown, or one the follower cannot place on bitcoind's chain: waiting would not help.
 */
export function waitsForDevice(entry: DeviceChainEntry | undefined, height: number): boolean {
  if (!entry?.status.tip || entry.status.refused !== null || entry.problem !== undefined) return false;
  return entry.status.tip.height < height;
}
