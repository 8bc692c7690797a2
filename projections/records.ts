/**
 * What the projections fold, and the small facts about it they share: a broker-log record
 * with its sequence number (as `BrokerLog.read` yields it; declared here so device code does
 * not import the LevelDB module), message names, client keys, and how a reply ended.
 */
import type { LogRecord } from '../log/broker-log/record.js';
import { toHex } from '../signer/bytes.js';
import type { Reply } from '../signer/decision.js';
import type { ClientContext } from '../signer/envelope.js';
import { messageNameOf } from '../signer/wire/messages.js';

/** A broker-log record and its place in the log (log/broker-log StoredRecord). */
export interface StoredLogRecord {
  readonly seq: bigint;
  readonly record: LogRecord;
}

/** CLN's name of an hsmd message type (hsmd_wire.csv), or "type N" for one it lacks. */
export const messageName = (type: number): string => messageNameOf(type) ?? `type ${type}`;

/** The map key of a client connection: peer hex / dbid / permissions. */
export const clientKey = (c: ClientContext): string => `${toHex(c.peer)}/${c.dbid}/${c.permissions}`;

/** A refusal by a validation policy (signer/policy: descriptions start with the rule's name). */
export const isPolicyRefusal = (reply: Reply): boolean => reply.kind === 'bad-request' && reply.description.startsWith('policy-');

/** Replies that refused or failed the request (hsmd's bad_req and status_failed). */
export const isError = (reply: Reply): boolean => reply.kind === 'bad-request' || reply.kind === 'fatal';
