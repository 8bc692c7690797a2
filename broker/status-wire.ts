/**
 * The messages hsmd sends lightningd on the status socket (fd 0), encoders and decoders
 * side by side: CLN common/status_wire.csv, hsmd/hsmd_wire.csv (hsmstatus_client_bad_request)
 * and common/status_levels.h. hsmd.md §A.5.
 *
 * lightningd parses every one of them with fromwire_wirestring, which FAILS on any byte
 * below 0x20 (wire/fromwire.c); a status message that fails to parse makes lightningd
 * close hsmd's status connection, and losing hsmd kills lightningd (subd.c sd_msg_read,
 * §A.9). So every text we send goes through `wirestring`, which replaces such bytes.
 */

export const STATUS_LOG = 0xfff0;
export const STATUS_FAIL = 0xfff2;
export const STATUS_VERSION = 0xfff6;
export const HSMSTATUS_CLIENT_BAD_REQUEST = 1000;

/**
 * CLN enum log_level. IO_OUT (0) and IO_IN (1) are absent on purpose: lightningd rejects a
 * status_log at those levels as malformed (log_status.c), they belong to status_io.
 */
export const LOG_LEVELS = { trace: 2, debug: 3, info: 4, unusual: 5, broken: 6 } as const;
export type LogLevel = keyof typeof LOG_LEVELS;

/** CLN enum status_failreason. */
export const FAIL_REASONS = { 'master-io': 0, 'hsm-io': 1, 'gossip-io': 2, internal: 3 } as const;
export type FailReason = keyof typeof FAIL_REASONS;

const NODE_ID_LEN = 33;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** towire_wirestring: UTF-8 text plus a NUL, control bytes (< 0x20) replaced by spaces. */
export function wirestring(text: string): Uint8Array {
  const utf8 = encoder.encode(text);
  const out = new Uint8Array(utf8.length + 1);
  for (let i = 0; i < utf8.length; i++) out[i] = utf8[i]! < 0x20 ? 0x20 : utf8[i]!;
  return out;
}

function message(type: number, ...fields: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(2 + fields.reduce((n, f) => n + f.length, 0));
  new DataView(out.buffer).setUint16(0, type);
  let at = 2;
  for (const f of fields) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

/** status_version {version: wirestring}: must equal lightningd's version() (§A.5). */
export const towireStatusVersion = (version: string): Uint8Array =>
  message(STATUS_VERSION, wirestring(version));

/** status_log {level u8, peer ?node_id, entry wirestring}. */
export function towireStatusLog(level: LogLevel, peer: Uint8Array | null, entry: string): Uint8Array {
  const header = Uint8Array.of(LOG_LEVELS[level], peer ? 1 : 0);
  return message(STATUS_LOG, header, peer ?? new Uint8Array(0), wirestring(entry));
}

/** status_fail {failreason u8, desc wirestring}: the last word before a fatal exit. */
export const towireStatusFail = (reason: FailReason, desc: string): Uint8Array =>
  message(STATUS_FAIL, Uint8Array.of(FAIL_REASONS[reason]), wirestring(desc));

/** hsmstatus_client_bad_request {id node_id, description wirestring, len u16, msg u8[len]}. */
export function towireClientBadRequest(id: Uint8Array, description: string, msg: Uint8Array): Uint8Array {
  // The generated towire does `u16 len = tal_count(msg)` and writes len bytes: CLN wraps
  // a longer message modulo 65536, and so do we (lightningd only logs it).
  const len = msg.length & 0xffff;
  const lenField = Uint8Array.of(len >> 8, len & 0xff);
  return message(HSMSTATUS_CLIENT_BAD_REQUEST, id, wirestring(description), lenField, msg.subarray(0, len));
}

/** A decoded status message, as lightningd sees it. */
export type StatusMessage =
  | { kind: 'version'; version: string }
  | { kind: 'log'; level: number; peer: Uint8Array | null; entry: string }
  | { kind: 'fail'; reason: number; desc: string }
  | { kind: 'badRequest'; id: Uint8Array; description: string; msg: Uint8Array }
  | { kind: 'unknown'; type: number; body: Uint8Array };

/** Reads fields off a message body; throws on a short or malformed body. */
class Cursor {
  private at = 2;
  constructor(private readonly body: Uint8Array) {}
  bytes(n: number): Uint8Array {
    if (this.at + n > this.body.length) throw new Error('status message too short');
    const out = this.body.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  u8 = (): number => this.bytes(1)[0]!;
  u16 = (): number => {
    const b = this.bytes(2);
    return (b[0]! << 8) | b[1]!;
  };
  /** As fromwire_wirestring: up to a NUL, refusing control bytes. */
  wirestring(): string {
    const rest = this.body.subarray(this.at);
    const nul = rest.indexOf(0);
    if (nul < 0) throw new Error('wirestring without NUL');
    if (rest.subarray(0, nul).some((b) => b < 0x20)) throw new Error('wirestring with a control byte');
    this.at += nul + 1;
    return decoder.decode(rest.subarray(0, nul));
  }
}

/** Decodes one status-socket message body (lightningd's side of §A.5). */
export function fromwireStatus(body: Uint8Array): StatusMessage {
  const type = body.length >= 2 ? (body[0]! << 8) | body[1]! : -1;
  const c = new Cursor(body);
  switch (type) {
    case STATUS_VERSION:
      return { kind: 'version', version: c.wirestring() };
    case STATUS_LOG: {
      const level = c.u8();
      const peer = c.u8() ? c.bytes(NODE_ID_LEN) : null;
      return { kind: 'log', level, peer, entry: c.wirestring() };
    }
    case STATUS_FAIL:
      return { kind: 'fail', reason: c.u8(), desc: c.wirestring() };
    case HSMSTATUS_CLIENT_BAD_REQUEST: {
      const id = c.bytes(NODE_ID_LEN);
      const description = c.wirestring();
      return { kind: 'badRequest', id, description, msg: c.bytes(c.u16()) };
    }
    default:
      return { kind: 'unknown', type, body };
  }
}
