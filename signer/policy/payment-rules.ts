/**
 * policy-payment-velocity (VLS's velocity approver, on the device): preapproved payments
 * total at most PolicyConfig.velocityLimitSat within the rolling velocityWindowSec; beyond
 * it a payment passes only to a payee on payeeAllowlist or with a one-time approval of its
 * payment hash (sphinx-ctl approve), which it uses up. The time is the request's (the
 * device stamps it with its own clock), and each decision journals what it counted
 * (PaymentAuthorized), so replay folds the same window.
 */
import { toHex } from '../bytes.js';
import type { PaymentAuthorized } from '../events.js';
import type { SignerState } from '../state.js';
import { check, type PolicyConfig, type PolicyViolation } from './policy.js';

export const PAYMENT_VELOCITY = 'policy-payment-velocity';

/** What is being paid: undefined amount for an invoice that leaves it to the payer. */
export interface Payment {
  readonly amountMsat: bigint | undefined;
  readonly paymentHash: Uint8Array;
  readonly payee: Uint8Array;
}

/** The msat counted in the window ending at `now` (unix seconds). */
export const velocityUsedMsat = (state: SignerState, policy: PolicyConfig, now: number): bigint =>
  state.payments.totalAfter(now - policy.velocityWindowSec);

/** How the payment passes, or the violation. */
export function velocity(
  policy: PolicyConfig,
  state: SignerState,
  payment: Payment,
  now: number,
): { via: PaymentAuthorized['via'] | undefined; violations: PolicyViolation[] } {
  const used = velocityUsedMsat(state, policy, now);
  const limit = policy.velocityLimitSat * 1000n;
  if (payment.amountMsat !== undefined && used + payment.amountMsat <= limit) return { via: 'limit', violations: [] };
  if (policy.payeeAllowlist.some((p) => toHex(p) === toHex(payment.payee))) return { via: 'payee', violations: [] };
  if (state.approvals.has(toHex(payment.paymentHash))) return { via: 'approval', violations: [] };
  const what = payment.amountMsat === undefined ? 'an invoice without an amount' : `${payment.amountMsat} msat`;
  return {
    via: undefined,
    violations: check(false, PAYMENT_VELOCITY, () =>
      `${what} to ${toHex(payment.payee)} with ${used} msat already paid in the last ${policy.velocityWindowSec} s ` +
      `exceeds the limit of ${policy.velocityLimitSat} sat; to pay it once: sphinx-ctl approve ${toHex(payment.paymentHash)}`,
    ),
  };
}
