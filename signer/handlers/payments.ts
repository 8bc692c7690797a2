/**
 * Payment preapproval (libhsmd.c handle_preapprove_invoice/keysend). CLN's hsmd approves
 * everything unless the developer flag fail_preapprove is set. The check-only forms (51,
 * 52) are answered with the replies of 38 and 39, as CLN does; only real approvals are
 * recorded as events, for the audit trail.
 */
import { replyWith, type Decision } from '../decision.js';
import type { PaymentPreapproved } from '../events.js';
import type { SignerState } from '../state.js';
import { encodeMessage } from '../wire/messages.js';
import type { HandlerTable } from './context.js';

type Subject = Pick<PaymentPreapproved, 'invoice' | 'keysend'>;

function preapprove(state: SignerState, subject: Subject, checkOnly: boolean): Decision {
  const approved = !state.dev.failPreapprove;
  const reply =
    subject.invoice !== undefined
      ? encodeMessage('hsmd_preapprove_invoice_reply', { approved })
      : encodeMessage('hsmd_preapprove_keysend_reply', { approved });
  return replyWith(reply, checkOnly ? [] : [{ kind: 'PaymentPreapproved', ...subject, approved }]);
}

const invoice = (invstring: string): Subject => ({ invoice: invstring, keysend: undefined });
const keysend = (destination: Uint8Array, paymentHash: Uint8Array, amountMsat: bigint): Subject => ({
  invoice: undefined,
  keysend: { destination, paymentHash, amountMsat },
});

export const paymentHandlers: HandlerTable = {
  hsmd_preapprove_invoice: (_c, state, _e, m) => preapprove(state, invoice(m.invstring), false),
  hsmd_preapprove_invoice_check: (_c, state, _e, m) => preapprove(state, invoice(m.invstring), m.check_only),
  hsmd_preapprove_keysend: (_c, state, _e, m) =>
    preapprove(state, keysend(m.destination, m.payment_hash, m.amount_msat), false),
  hsmd_preapprove_keysend_check: (_c, state, _e, m) =>
    preapprove(state, keysend(m.destination, m.payment_hash, m.amount_msat), m.check_only),
};
