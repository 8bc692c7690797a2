/**
 * The signer core's refusals of a request id it will not decide (answered for another request,
 * or passed with its reply no longer kept), and their recognizer for the broker: small and apart
 * from the core, so the broker's session does not import the core to tell them from a reply.
 */
import type { Reply } from '../signer/decision.js';

/** The refusals of an id the core will not decide; never journaled, so never a journaled reply. */
export const ID_REFUSAL = {
  otherRequest: (id: bigint): string => `request id ${id} was already answered for a different request`,
  notKept: (id: bigint, last: bigint): string => `request id ${id} is not after the last handled id ${last} and its reply is no longer kept: not deciding it again`,
};

/**
 * True for the core's refusal of an id (answered for another request, or passed and its reply
 * no longer kept): the broker's reconciliation tells it from a journaled reply
 * (docs/broker-log.md "Reconciliation after a broker crash").
 */
export const isIdRefusal = (reply: Reply): boolean =>
  reply.kind === 'bad-request' &&
  // The patterns are written inside the function: docs/device-memory.md "Regular expressions in flash".
  [/^request id \d+ was already answered for a different request$/, /^request id \d+ is not after the last handled id \d+ and its reply is no longer kept: not deciding it again$/].some((r) => r.test(reply.description));
