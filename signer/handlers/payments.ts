/**
 * Payment preapproval (libhsmd.c handle_preapprove_invoice/keysend). CLN's hsmd approves
 * everything unless the developer flag fail_preapprove is set; we also apply
 * policy-payment-velocity (policy/payment-rules.ts). The check-only forms (51, 52) are
 * answered with the replies of 38 and 39, as CLN does, and change nothing; a real
 * approval is recorded (PaymentPreapproved, and PaymentAuthorized for the window). A
 * refusal is `approved: false` (CLN's protocol has no reason field: lightningd's pay fails
 * with "not approved"); the rule and its reason go into a PolicyRefused event and the
 * device's log.
 */
import { replyWith, type Decision } from '../decision.js';
import type { PaymentPreapproved, SignerEvent } from '../events.js';
import { Bolt11Error, summarizeBolt11 } from '../address/bolt11.js';
import type { Envelope } from '../envelope.js';
import { PAYMENT_VELOCITY, velocity, type Payment } from '../policy/payment-rules.js';
import type { PolicyViolation } from '../policy/policy.js';
import type { SignerState } from '../state.js';
import { encodeMessage } from '../wire/messages.js';
import type { DecideContext, HandlerTable } from './context.js';

type Subject = Pick<PaymentPreapproved, 'invoice' | 'keysend'>;

function paymentOf(ctx: DecideContext, subject: Subject): Payment | PolicyViolation {
  if (subject.keysend) return { amountMsat: subject.keysend.amountMsat, paymentHash: subject.keysend.paymentHash, payee: subject.keysend.destination };
  try {
    return summarizeBolt11(ctx.curve, subject.invoice!);
  } catch (e) {
    if (!(e instanceof Bolt11Error)) throw e;
    return { policy: PAYMENT_VELOCITY, detail: `the invoice cannot be read (${e.message}), so its amount cannot be counted` };
  }
}

function preapprove(ctx: DecideContext, state: SignerState, env: Envelope, subject: Subject, checkOnly: boolean): Decision {
  const answer = (approved: boolean, events: readonly SignerEvent[]) =>
    replyWith(
      subject.invoice !== undefined
        ? encodeMessage('hsmd_preapprove_invoice_reply', { approved })
        : encodeMessage('hsmd_preapprove_keysend_reply', { approved }),
      events,
    );
  const preapproved: SignerEvent[] = checkOnly ? [] : [{ kind: 'PaymentPreapproved', ...subject, approved: !state.dev.failPreapprove }];
  if (state.dev.failPreapprove || ctx.policy.off.has(PAYMENT_VELOCITY)) return answer(!state.dev.failPreapprove, preapproved);

  const payment = paymentOf(ctx, subject);
  const { via, violations } = 'policy' in payment ? { via: undefined, violations: [payment] } : velocity(ctx.policy, state, payment, env.at);
  const refused = violations.filter((v) => !ctx.policy.warnOnly.has(v.policy));
  if (refused.length > 0) return answer(false, refused.map((v) => ({ kind: 'PolicyRefused', policy: v.policy, detail: v.detail })));
  const warned: SignerEvent[] = violations.map((v) => ({ kind: 'PolicyWarned', policy: v.policy, detail: v.detail }));
  if (checkOnly || 'policy' in payment) return answer(true, [...warned, ...preapproved]);
  const authorized: SignerEvent = {
    kind: 'PaymentAuthorized',
    at: env.at,
    amountMsat: payment.amountMsat ?? 0n,
    paymentHash: payment.paymentHash,
    // A warn-only pass beyond the limit counts like one within it.
    via: via ?? 'limit',
    windowSec: ctx.policy.velocityWindowSec,
  };
  return answer(true, [...warned, ...preapproved, authorized]);
}

const invoice = (invstring: string): Subject => ({ invoice: invstring, keysend: undefined });
const keysend = (destination: Uint8Array, paymentHash: Uint8Array, amountMsat: bigint): Subject => ({
  invoice: undefined,
  keysend: { destination, paymentHash, amountMsat },
});

export const paymentHandlers: HandlerTable = {
  hsmd_preapprove_invoice: (ctx, state, env, m) => preapprove(ctx, state, env, invoice(m.invstring), false),
  hsmd_preapprove_invoice_check: (ctx, state, env, m) => preapprove(ctx, state, env, invoice(m.invstring), m.check_only),
  hsmd_preapprove_keysend: (ctx, state, env, m) => preapprove(ctx, state, env, keysend(m.destination, m.payment_hash, m.amount_msat), false),
  hsmd_preapprove_keysend_check: (ctx, state, env, m) =>
    preapprove(ctx, state, env, keysend(m.destination, m.payment_hash, m.amount_msat), m.check_only),
};
