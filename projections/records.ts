/**
 * What the projections fold, and the small facts about it they share: a broker-log record
 * with its sequence number (as `BrokerLog.read` yields it; declared here so device code does
 * not import the LevelDB module), message names, client keys, and how a reply ended.
 */
import type { LogRecord } from '../log/broker-log/record.js';
import { toHex } from '../signer/bytes.js';
import type { Reply } from '../signer/decision.js';
import type { ClientContext } from '../signer/envelope.js';
import { messageNameOf, messageType, peekType } from '../signer/wire/messages.js';
import { permissionNames } from '../signer/permissions.js';

/** A broker-log record and its place in the log (log/broker-log StoredRecord). */
export interface StoredLogRecord {
  readonly seq: bigint;
  readonly record: LogRecord;
}

/** CLN's name of an hsmd message type (hsmd_wire.csv), or "type N" for one it lacks. */
export const messageName = (type: number): string => messageNameOf(type) ?? `type ${type}`;

/** The map key of a client connection: peer hex / dbid / permissions. */
export const clientKey = (c: ClientContext): string => `${toHex(c.peer)}/${c.dbid}/${c.permissions}`;

/** Who asked, in words: lightningd on its own connection (hsmd's master), or a client connection by peer/dbid with its permissions. */
export function askedBy(c: ClientContext): string {
  const master = c.dbid === 0n && c.peer.every((b) => b === 0);
  return master ? 'lightningd (master connection)' : `${toHex(c.peer)}/${c.dbid} (${permissionNames(c.permissions)})`;
}

/** A refusal by a validation policy (signer/policy: descriptions start with the rule's name). */
export const isPolicyRefusal = (reply: Reply): boolean => reply.kind === 'bad-request' && reply.description.startsWith('policy-');

const PREAPPROVAL_REPLIES: ReadonlySet<number> = new Set([messageType('hsmd_preapprove_invoice_reply'), messageType('hsmd_preapprove_keysend_reply')]);

/**
 * A preapproval answered `approved: false`. Its reply has no reason field (docs/policies.md):
 * the one rule on preapprovals, policy-payment-velocity, refused it (or CLN's developer option
 * dev-fail-preapprove, which only CLN's own tests set); the device's journal holds the rule's
 * detail in a PolicyRefused event.
 */
export const isRefusedPreapproval = (reply: Reply): boolean =>
  reply.kind === 'frame' && reply.frame.length === 3 && PREAPPROVAL_REPLIES.has(peekType(reply.frame)) && reply.frame[2] === 0;

/**
 * What a logged reply says of a policy refusal, the rule's name first, or undefined: a broker
 * log has the reply only, so a refused preapproval is named by its rule without the detail.
 */
export function policyRefusalOf(reply: Reply): string | undefined {
  if (isPolicyRefusal(reply)) return (reply as { description: string }).description;
  if (isRefusedPreapproval(reply)) {
    return 'policy-payment-velocity: not approved by the device (its log and journal give the amount and the total; sphinx-ctl approve lets one payment through)';
  }
  return undefined;
}

/** Replies that refused or failed the request (hsmd's bad_req and status_failed). */
export const isError = (reply: Reply): boolean => reply.kind === 'bad-request' || reply.kind === 'fatal';
