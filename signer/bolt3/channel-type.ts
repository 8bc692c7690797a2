/**
 * The BOLT 9 bits of a channel_type (setup_channel) the signer reads, and the commitment
 * layout they give (docs/policies.md "HTLC transaction fees").
 */
import type { CommitmentFormat } from './fees.js';

/** option_static_remotekey (bits 12/13): to_remote pays the payment basepoint itself. */
export const STATIC_REMOTEKEY = 12;
/** option_anchor_outputs (bits 20/21), withdrawn: anchors, HTLC transactions that pay fees. */
export const ANCHOR_OUTPUTS = 20;
/** option_anchors_zero_fee_htlc_tx (bits 22/23), BOLT 3's option_anchors: HTLC transactions pay no fee. */
export const ANCHORS_ZERO_FEE_HTLC_TX = 22;

/** Feature bit `bit` (or its odd pair) in a big-endian feature field such as channel_type. */
export function hasFeaturePair(features: Uint8Array, bit: number): boolean {
  const at = (b: number): boolean => {
    const byte = features[features.length - 1 - (b >> 3)];
    return byte !== undefined && (byte & (1 << (b & 7))) !== 0;
  };
  return at(bit) || at(bit + 1);
}

/** The commitment layout of a channel_type: zero-fee anchors win over the withdrawn anchors. */
export function commitmentFormat(channelType: Uint8Array): CommitmentFormat {
  if (hasFeaturePair(channelType, ANCHORS_ZERO_FEE_HTLC_TX)) return 'anchors_zero_fee_htlc_tx';
  if (hasFeaturePair(channelType, ANCHOR_OUTPUTS)) return 'anchor_outputs';
  return 'no_anchors';
}
