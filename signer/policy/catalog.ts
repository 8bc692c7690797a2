/**
 * Every validation rule the signer enforces, by its stable name, with what it checks.
 * `PolicyName` is this list's keys, so a rule cannot be written under a name that is not
 * listed here, and configuration naming an unknown rule is refused (broker config).
 * docs/policies.md gives each rule's exact conditions; the rule modules cite them.
 */
export const POLICIES = {
  // Commitments (policy/commitment-rules.ts)
  'policy-commitment-revoked-holder': 'never sign a holder commitment that was revoked',
  'policy-commitment-holder-validated': 'sign_commitment_tx signs only a holder commitment validated and not revoked, or a mutual close the close rules accept',
  'policy-commitment-counterparty-order': 'counterparty commitments only in order, after the one before the previous is revoked',
  'policy-commitment-holder-order': 'holder commitments validated in order, after the one before the previous is revoked',
  'policy-commitment-counterparty-signature': "the counterparty's signature on our commitment is valid",
  'policy-retry-identical': 'a retry of a commitment or revocation carries identical data (and gets the identical reply)',
  'policy-revocation-secret-matches-point': 'a revocation secret matches the per-commitment point we signed for',
  'policy-revocation-shachain': 'a revocation secret derives the ones already stored (BOLT 3 shachain)',
  'policy-revocation-order': 'revocations in order, only for commitments already superseded',
  'policy-revoke-holder-current': 'never revoke our current holder commitment',
  'policy-htlc-tx-counterparty-point': "HTLC transactions only for the counterparty's current or previous commitment",
  'policy-feerate-range': 'commitment feerate within [minFeeratePerKw, maxFeeratePerKw]',
  'policy-htlc-count': 'at most maxHtlcs HTLCs on a commitment',
  'policy-htlc-value': 'HTLCs on a commitment total at most maxHtlcValueSat',
  'policy-channel-value': 'channel value at most maxChannelValueSat',
  'policy-to-self-delay-range': 'both to_self_delays within [minToSelfDelay, maxToSelfDelay]',
  // Closing a channel (policy/close-rules.ts)
  'policy-holder-shutdown-script': "our upfront shutdown script is our wallet's (its wallet index re-derived) or allowlisted",
  'policy-mutual-destination-allowlisted': 'mutual closes pay only our wallet, the allowlist and the counterparty',
  'policy-mutual-value-matches-commitment': 'a mutual close pays us at least our balance in the latest commitments, less its fee',
  // On chain (policy/onchain-rules.ts, policy/htlc-tx-rules.ts, policy/htlc-locktime-rules.ts)
  'policy-sweep-destination': 'sweeps to us pay only our wallet or the allowlist',
  'policy-htlc-tx-holder-output': "an HTLC transaction of our commitment pays its BOLT 3 output (our delayed key after the peer's to_self_delay, or the peer's revocation key)",
  'policy-htlc-tx-fee-range': "an HTLC transaction we sign (ours or the peer's) takes BOLT 3's fee from the HTLC for a feerate within [minFeeratePerKw, maxFeeratePerKw], none with option_anchors",
  'policy-htlc-tx-locktime': "an HTLC transaction we sign (ours or the peer's) has BOLT 3's locktime (HTLC-success 0, HTLC-timeout the cltv_expiry) for an HTLC of the latest commitment of that side, with the input's amount and payment hash",
  'policy-onchain-fee-range': 'on-chain transactions: inputs cover outputs, feerate at most maxFeeratePerKw',
  // Chain (policy/chain-rules.ts): skipped while the device has no chain view
  'policy-htlc-cltv-range': 'HTLC expiries within [tip − htlcExpiredGraceBlocks, tip + maxHtlcCltvDelta] of the chain tip',
  'policy-forget-channel-closed': 'forget_channel only once the funding is spent at least minForgetDepth deep (or was never confirmed)',
  'policy-funding-confirmed': 'HTLCs total at most maxUnconfirmedHtlcSat while the channel funding is not seen confirmed',
  'policy-onchain-destination': "wallet transactions (withdrawals, splices, anchor spends, HTLC fee inputs) pay only our wallet, the allowlist, or a funding output of a channel this signer set up",
  'policy-onchain-sighash-all': 'the inputs we sign in a wallet transaction commit to all its inputs and outputs (SIGHASH_ALL, or SIGHASH_DEFAULT on taproot)',
  // Payments (policy/payment-rules.ts, policy/htlc-payment-rules.ts)
  'policy-payment-velocity': 'preapproved payments total at most velocityLimitSat per velocityWindowSec, beyond it only to allowlisted payees or with a one-time approval',
  'policy-htlc-payment-approved': 'an HTLC we offer, new in a commitment, pays an authorized payment hash (within its amount plus fees), an owner-approved one, or forwards HTLCs offered to us',
} as const;

export type PolicyName = keyof typeof POLICIES;

export const isPolicyName = (name: string): name is PolicyName => Object.hasOwn(POLICIES, name);
