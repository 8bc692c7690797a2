/**
 * The messages hsmd sends lightningd on the status socket (fd 0): CLN common/status_wire.csv
 * as a typed table of the wire codec (signer/wire), hsmstatus_client_bad_request from the
 * hsmd table (signer/wire/messages.ts), and common/status_levels.h.
 *
 * lightningd parses every one of them with fromwire_wirestring, which FAILS on any byte
 * below 0x20 (wire/fromwire.c); a status message that fails to parse makes lightningd
 * close hsmd's status connection, and losing hsmd kills lightningd (subd.c sd_msg_read). So
 * every text we send goes through `statusText`, which replaces such characters.
 */
import { statusFailureCode, type StatusFailure } from '../signer/decision.js';
import { optional, struct, type StructValue, u8, wirestring } from '../signer/wire/codec.js';
import { nodeId } from '../signer/wire/fields.js';
import { msg } from '../signer/wire/message-spec.js';
import { decodeAs, encodeMessage, messageType } from '../signer/wire/messages.js';
import { WireReader } from '../signer/wire/reader.js';
import { WireWriter } from '../signer/wire/writer.js';

/** common/status_wire.csv, the messages hsmd sends. */
const STATUS_MESSAGES = {
  status_log: msg(0xfff0, { level: u8, peer: optional(nodeId), entry: wirestring }),
  status_fail: msg(0xfff2, { failreason: u8, desc: wirestring }),
  status_version: msg(0xfff6, { version: wirestring }),
} as const;
type StatusName = keyof typeof STATUS_MESSAGES;

export const STATUS_FAIL = STATUS_MESSAGES.status_fail.type;
const HSMSTATUS_CLIENT_BAD_REQUEST = messageType('hsmstatus_client_bad_request');

/**
 * CLN enum log_level. IO_OUT (0) and IO_IN (1) are absent on purpose: lightningd rejects a
 * status_log at those levels as malformed (log_status.c), they belong to status_io.
 */
export const LOG_LEVELS = { trace: 2, debug: 3, info: 4, unusual: 5, broken: 6 } as const;
export type LogLevel = keyof typeof LOG_LEVELS;

/** status_fail's reason: CLN's enum status_failreason (signer/decision.ts). */
export type FailReason = StatusFailure;

/**
 * Text lightningd's fromwire_wirestring accepts: control characters (< 0x20) become spaces,
 * and a lone surrogate U+FFFD (what UTF-8 encoding would make of it anyway).
 */
export const statusText = (text: string): string =>
  text.replace(/[\x00-\x1f]/g, ' ').replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

type StatusFields<N extends StatusName> = StructValue<(typeof STATUS_MESSAGES)[N]['fields']>;

function encode<N extends StatusName>(name: N, fields: StatusFields<N>): Uint8Array {
  const w = new WireWriter();
  w.u16(STATUS_MESSAGES[name].type);
  struct(STATUS_MESSAGES[name].fields).encode(w, fields);
  return w.finish();
}

const decode = <N extends StatusName>(name: N, body: Uint8Array): StatusFields<N> =>
  struct(STATUS_MESSAGES[name].fields).decode(new WireReader(body, 2)) as StatusFields<N>;

/** status_version {version: wirestring}: must equal lightningd's version(). */
export const towireStatusVersion = (version: string): Uint8Array => encode('status_version', { version: statusText(version) });

/** status_log {level u8, peer ?node_id, entry wirestring}. */
export const towireStatusLog = (level: LogLevel, peer: Uint8Array | null, entry: string): Uint8Array =>
  encode('status_log', { level: LOG_LEVELS[level], peer: peer ?? undefined, entry: statusText(entry) });

/** status_fail {failreason u8, desc wirestring}: the last word before a fatal exit. */
export const towireStatusFail = (reason: FailReason, desc: string): Uint8Array =>
  encode('status_fail', { failreason: statusFailureCode(reason), desc: statusText(desc) });

/** hsmstatus_client_bad_request {id node_id, description wirestring, len u16, msg u8[len]}. */
export function towireClientBadRequest(id: Uint8Array, description: string, message: Uint8Array): Uint8Array {
  // The generated towire does `u16 len = tal_count(msg)` and writes len bytes: CLN wraps
  // a longer message modulo 65536, and so do we (lightningd only logs it).
  return encodeMessage('hsmstatus_client_bad_request', { id, description: statusText(description), msg: message.subarray(0, message.length & 0xffff) });
}

/** A decoded status message, as lightningd sees it. */
export type StatusMessage =
  | { kind: 'version'; version: string }
  | { kind: 'log'; level: number; peer: Uint8Array | null; entry: string }
  | { kind: 'fail'; reason: number; desc: string }
  | { kind: 'badRequest'; id: Uint8Array; description: string; msg: Uint8Array }
  | { kind: 'unknown'; type: number; body: Uint8Array };

/** Decodes one status-socket message body (lightningd's side); WireError if malformed. */
export function fromwireStatus(body: Uint8Array): StatusMessage {
  const type = body.length >= 2 ? (body[0]! << 8) | body[1]! : -1;
  switch (type) {
    case STATUS_MESSAGES.status_version.type:
      return { kind: 'version', version: decode('status_version', body).version };
    case STATUS_MESSAGES.status_log.type: {
      const { level, peer, entry } = decode('status_log', body);
      return { kind: 'log', level, peer: peer ?? null, entry };
    }
    case STATUS_MESSAGES.status_fail.type: {
      const { failreason, desc } = decode('status_fail', body);
      return { kind: 'fail', reason: failreason, desc };
    }
    case HSMSTATUS_CLIENT_BAD_REQUEST: {
      const { id, description, msg: message } = decodeAs('hsmstatus_client_bad_request', body);
      return { kind: 'badRequest', id, description, msg: message };
    }
    default:
      return { kind: 'unknown', type, body };
  }
}
