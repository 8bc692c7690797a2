/**
 * Validation policies (VLS style): every rule has a stable name, is enforced by default,
 * and can be demoted to a logged warning only by explicit configuration.
 *
 * A handler collects the violations of a request with `check(...)` and turns them into a
 * decision with `enforce(...)`: any enforced violation refuses the request with the rule's
 * name in the message; demoted ones become `PolicyWarned` events (journaled, audited) and
 * the request goes ahead.
 */
import { badRequest, type Decision } from '../decision.js';
import type { PolicyWarned } from '../events.js';

import type { PolicyName } from './catalog.js';

export type { PolicyName } from './catalog.js';

export interface PolicyViolation {
  readonly policy: PolicyName;
  /** What was wrong, with the numbers, for the log and the refusal. */
  readonly detail: string;
}

/**
 * Limits the rules check. DEFAULT_POLICY is the device's: every rule enforced, with limits
 * that let everything a CLN node normally does through except paying an unknown on-chain
 * destination, closing a channel to a script that is not ours or for less than our balance,
 * or paying more than the velocity limit. LOCAL_POLICY, the in-process signer's, leaves those
 * rules off (DEVICE_ONLY_RULES): there the node is trusted, and CLN's hsmd checks none of them.
 */
export interface PolicyConfig {
  /** Rules demoted to warnings (explicit configuration only). */
  readonly warnOnly: ReadonlySet<PolicyName>;
  /** Rules not checked at all. */
  readonly off: ReadonlySet<PolicyName>;
  readonly minFeeratePerKw: number;
  readonly maxFeeratePerKw: number;
  readonly minToSelfDelay: number;
  readonly maxToSelfDelay: number;
  readonly maxHtlcs: number;
  readonly maxHtlcValueSat: bigint;
  readonly maxChannelValueSat: bigint;
  /** Extra scripts on-chain transactions (withdrawals, closes, sweeps) may pay to, besides our own wallet. */
  readonly allowlist: readonly Uint8Array[];
  /** Chain rules (chain-rules.ts): HTLC expiries at most this far above the tip... */
  readonly maxHtlcCltvDelta: number;
  /** ...and at most this far below it. */
  readonly htlcExpiredGraceBlocks: number;
  /** forget_channel needs the funding spent at least this deep. */
  readonly minForgetDepth: number;
  /** HTLC value allowed on a channel whose funding is not seen confirmed. */
  readonly maxUnconfirmedHtlcSat: bigint;
  /** policy-payment-velocity: at most this many sat approved... */
  readonly velocityLimitSat: bigint;
  /** ...within this rolling window, in seconds. */
  readonly velocityWindowSec: number;
  /** Payees (33-byte node ids) paid whatever the velocity. */
  readonly payeeAllowlist: readonly Uint8Array[];
}

/** VLS's defaults where it has them (docs/decisions.md#lessons-from-earlier-remote-signers), widened where regtest needs it. */
export const DEFAULT_POLICY: PolicyConfig = {
  warnOnly: new Set(),
  off: new Set(),
  minFeeratePerKw: 253,
  maxFeeratePerKw: 150_000,
  minToSelfDelay: 6,
  maxToSelfDelay: 2016,
  maxHtlcs: 1000,
  maxHtlcValueSat: 16_777_216n,
  maxChannelValueSat: 2_100_000_000_000_000n,
  allowlist: [],
  // CLN refuses HTLCs expiring more than max-locktime-blocks (2016) ahead; a day of slack
  // for a device a little behind lightningd's tip.
  maxHtlcCltvDelta: 2016 + 144,
  htlcExpiredGraceBlocks: 144,
  minForgetDepth: 6,
  maxUnconfirmedHtlcSat: 0n,
  velocityLimitSat: 5_000_000n,
  velocityWindowSec: 86_400,
  payeeAllowlist: [],
};

/** The rules the device adds to CLN's own checks, off in the in-process signer by default. */
export const DEVICE_ONLY_RULES: readonly PolicyName[] = [
  'policy-onchain-destination',
  'policy-onchain-sighash-all',
  'policy-holder-shutdown-script',
  'policy-mutual-value-matches-commitment',
  'policy-payment-velocity',
  'policy-htlc-payment-approved',
  'policy-commitment-holder-validated',
  'policy-htlc-tx-locktime',
];

export const LOCAL_POLICY: PolicyConfig = { ...DEFAULT_POLICY, off: new Set(DEVICE_ONLY_RULES) };

/** A violation if `ok` is false, else nothing: `check(x < y, 'policy-..', () => '...')`. */
export const check = (ok: boolean, policy: PolicyName, detail: () => string): PolicyViolation[] =>
  ok ? [] : [{ policy, detail: detail() }];

/** Whether a violation of this rule refuses (it is neither off nor demoted to a warning). */
export const isEnforced = (config: PolicyConfig, v: PolicyViolation): boolean => !config.off.has(v.policy) && !config.warnOnly.has(v.policy);

/**
 * The decision for a request with these violations: refused (naming the first enforced
 * rule) or `proceed()` with a PolicyWarned event per demoted rule prepended.
 */
export function enforce(config: PolicyConfig, checked: readonly PolicyViolation[], proceed: () => Decision): Decision {
  const violations = checked.filter((v) => !config.off.has(v.policy));
  const enforced = violations.filter((v) => isEnforced(config, v));
  if (enforced.length > 0) return badRequest(enforced.map((v) => `${v.policy}: ${v.detail}`).join('; '));
  const decision = proceed();
  if (violations.length === 0 || decision.reply.kind !== 'frame') return decision;
  const warnings: PolicyWarned[] = violations.map((v) => ({ kind: 'PolicyWarned', policy: v.policy, detail: v.detail }));
  return { ...decision, events: [...warnings, ...decision.events] };
}
