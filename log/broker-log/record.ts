/**
 * The broker log's record codec (docs/design.md#logs-and-projections): one versioned binary value per LevelDB entry.
 * Pure (Uint8Array/DataView only), so any tool can read a copied log. Encoders and decoders
 * sit side by side; a decoder reads exactly one whole record and refuses anything else by name
 * (unknown version, unknown kind, truncation, trailing bytes), never guessing.
 *
 * Byte layout, version 3 (all integers big-endian; `bytes32` = u32 length ‖ bytes;
 * `text16`/`text32` = u16/u32 length ‖ UTF-8):
 *
 *   u8 version = 3 ‖ u8 kind ‖ body ‖ u32 CRC-32C(key ‖ every byte before it)
 *
 * where key is the record's LevelDB key, its 8-byte big-endian sequence number: LevelDB's own
 * checksums are not verified on read (classic-level has no option for it), so this one is
 * what notices a changed byte, and covering the key notices a record under another key
 * (docs/broker-log.md "Integrity").
 *
 *   kind 1 request-received: u64 id ‖ peer[33] ‖ u64 dbid ‖ u64 permissions ‖ u16 type ‖
 *                            bytes32 message ‖ u64 at (unix ms)
 *   kind 2 reply-received:   u64 id ‖ u64 latency (µs) ‖ reply, in the one Reply encoding
 *                            (signer/event-codec.ts writeReply: the device journal and the
 *                            MQTT reply envelopes use it too)
 *   kind 3 signer-connected:    text16 device id ‖ u64 at (unix ms)
 *   kind 4 signer-disconnected: text16 device id ‖ u64 at (unix ms)
 *   kind 5 error:               u8 has id (0/1) ‖ [u64 id] ‖ text32 text ‖ u64 at (unix ms)
 *   kind 6 unlogged-requests:   text16 device id ‖ u64 after id ‖ u64 through id ‖ u64 at (unix ms)
 *
 * Version 2 (still read, no longer written) is version 3 without the checksum; version 1 is
 * version 2 except for the reply of kind 2:
 *   u8 reply kind (0 frame, 1 none, 2 bad-request, 3 fatal) ‖ for a frame: bytes32 frame;
 *   for a bad request: text32 description; for a fatal: u8 status_failreason (0xff: none,
 *   a clean exit) ‖ text32 description ‖ u8 has frame (0/1) ‖ [bytes32 frame].
 *
 * Times and latencies are u64 on the wire and `number` in memory (unix ms and µs stay far
 * below 2^53; a decoded value above Number.MAX_SAFE_INTEGER is refused, not rounded).
 */
import { u64be } from '../../signer/bytes.js';
import { type Reply, STATUS_FAILURES } from '../../signer/decision.js';
import type { ClientContext } from '../../signer/envelope.js';
import { readReply, writeReply } from '../../signer/event-codec.js';
import { CodecError } from '../../signer/record-fields.js';
import { crc32c, crc32cUpdate } from '../journal/crc32c.js';
import { WireError } from '../../signer/wire/errors.js';
import { WireReader } from '../../signer/wire/reader.js';
import { WireWriter } from '../../signer/wire/writer.js';

/** The version this build writes. */
export const RECORD_VERSION = 3;
/** The versions this build reads (see the layout above). */
const READABLE_VERSIONS: readonly number[] = [1, 2, 3];
const CHECKSUM_LENGTH = 4;

/**
 * The 8-byte big-endian LevelDB key of sequence number `seq`. Written byte by byte: a DataView
 * over a fresh 8-byte array moves it out of V8's heap (~1–2 µs, docs/performance-history.md,
 * 2026-12-06 03:10–04:45), and every record pays for two keys (its own and its checksum's).
 */
export const seqKey = (seq: bigint): Uint8Array => u64be(seq);

/** CRC-32C over the key and the value's bytes before the checksum. */
const checksum = (seq: bigint, body: Uint8Array): number => crc32cUpdate(crc32c(seqKey(seq)), body);

/** lightningd's request as the broker received it (docs/design.md#the-way-a-request-travels: before it goes to the signer). */
export interface RequestReceived {
  readonly kind: 'request-received';
  /** The broker's 64-bit request id. */
  readonly id: bigint;
  readonly client: ClientContext;
  /** hsmd message type (the frame's first two bytes). */
  readonly type: number;
  /** The hsmd request frame: 2-byte type + fields, without the length prefix. */
  readonly message: Uint8Array;
  /** Unix ms. */
  readonly at: number;
}

/** The signer's answer to request `id`, as it will be given to lightningd. */
export interface ReplyReceived {
  readonly kind: 'reply-received';
  readonly id: bigint;
  readonly reply: Reply;
  /** From RequestReceived to this reply, in µs. */
  readonly latencyMicros: number;
}

export interface SignerConnected {
  readonly kind: 'signer-connected';
  readonly deviceId: string;
  /** Unix ms. */
  readonly at: number;
}

export interface SignerDisconnected {
  readonly kind: 'signer-disconnected';
  readonly deviceId: string;
  /** Unix ms. */
  readonly at: number;
}

/** Something went wrong, about request `id` if set. */
export interface ErrorRecord {
  readonly kind: 'error';
  readonly id?: bigint;
  readonly text: string;
  /** Unix ms. */
  readonly at: number;
}

/**
 * Request ids afterId+1..throughId were published by the broker's previous run before their
 * RequestReceived was durable, and that run stopped: device `deviceId` said hello with a last
 * journaled id above afterId, the largest id this log holds (docs/broker-log.md
 * "Reconciliation after a broker crash"). Whatever of them the device journaled it decided,
 * and the log never will hold their bytes; lightningd got no reply to any of them (a reply is
 * given only once its ReplyReceived is durable, after its RequestReceived).
 */
export interface UnloggedRequests {
  readonly kind: 'unlogged-requests';
  readonly deviceId: string;
  readonly afterId: bigint;
  readonly throughId: bigint;
  /** Unix ms. */
  readonly at: number;
}

export type LogRecord = RequestReceived | ReplyReceived | SignerConnected | SignerDisconnected | ErrorRecord | UnloggedRequests;

/** A record that cannot be encoded or decoded; the message says which and why. */
export class RecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordError';
  }
}

const KIND_CODE: Readonly<Record<LogRecord['kind'], number>> = {
  'request-received': 1,
  'reply-received': 2,
  'signer-connected': 3,
  'signer-disconnected': 4,
  error: 5,
  'unlogged-requests': 6,
};
const KIND_OF_CODE = new Map(Object.entries(KIND_CODE).map(([k, c]) => [c, k as LogRecord['kind']]));

/** Version 1: a fatal reply with no status_failreason (hsmd's clean exit). */
const V1_NO_FAILURE = 0xff;

const PEER_LENGTH = 33;
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** The value stored for `record` at sequence number `seq`. RecordError if a field does not fit its type. */
export function encodeRecord(record: LogRecord, seq: bigint): Uint8Array {
  const w = new WireWriter(64);
  try {
    w.u8(RECORD_VERSION);
    const code = KIND_CODE[record.kind];
    if (code === undefined) throw new RecordError(`unknown broker-log record kind ${JSON.stringify(record.kind)}`);
    w.u8(code);
    switch (record.kind) {
      case 'request-received':
        w.u64(record.id);
        if (record.client.peer.length !== PEER_LENGTH)
          throw new RecordError(`request-received: peer must be ${PEER_LENGTH} bytes, got ${record.client.peer.length}`);
        w.bytes(record.client.peer);
        w.u64(record.client.dbid);
        w.u64(record.client.permissions);
        w.u16(record.type);
        bytes32(w, record.message);
        time(w, record.at, 'at');
        break;
      case 'reply-received':
        w.u64(record.id);
        time(w, record.latencyMicros, 'latencyMicros');
        writeReply(w, record.reply);
        break;
      case 'signer-connected':
      case 'signer-disconnected':
        text16(w, record.deviceId);
        time(w, record.at, 'at');
        break;
      case 'error':
        w.bool(record.id !== undefined);
        if (record.id !== undefined) w.u64(record.id);
        text32(w, record.text);
        time(w, record.at, 'at');
        break;
      case 'unlogged-requests':
        text16(w, record.deviceId);
        w.u64(record.afterId);
        w.u64(record.throughId);
        time(w, record.at, 'at');
        break;
    }
  } catch (e) {
    if (e instanceof WireError || e instanceof CodecError) throw new RecordError(`${record.kind}: ${e.message}`);
    throw e;
  }
  w.u32(checksum(seq, w.finish()));
  return w.finish().slice();
}

/**
 * Decodes the value stored at sequence number `seq`: a version 3 value's checksum first (a
 * changed byte is named as such, not as whatever field it happens to break), then the fields.
 * RecordError naming the checksum, version, kind or field that is wrong.
 */
export function decodeRecord(value: Uint8Array, seq: bigint): LogRecord {
  let body = value;
  if (value[0] === 3) {
    if (value.length < 2 + CHECKSUM_LENGTH) throw new RecordError(`broker-log record of ${value.length} bytes is too short for a version 3 record`);
    body = value.subarray(0, value.length - CHECKSUM_LENGTH);
    const stored = new DataView(value.buffer, value.byteOffset + body.length, CHECKSUM_LENGTH).getUint32(0);
    const computed = checksum(seq, body);
    if (stored !== computed) {
      throw new RecordError(`checksum mismatch (stored ${hex32(stored)}, computed ${hex32(computed)} over key ${seq} and ${body.length} bytes): ` +
        'the record was changed on disk, or stored under another key');
    }
  }
  const r = new WireReader(body);
  r.msgName = 'broker-log record';
  try {
    const version = r.u8();
    if (!READABLE_VERSIONS.includes(version))
      throw new RecordError(`unknown broker-log record version ${version} (this build reads versions ${READABLE_VERSIONS.join(', ')})`);
    const code = r.u8();
    const kind = KIND_OF_CODE.get(code);
    if (kind === undefined) throw new RecordError(`unknown broker-log record kind ${code} (version ${version})`);
    r.msgName = `broker-log record ${kind}`;
    const record = decodeBody(r, kind, version);
    if (!r.atEnd) r.fail(`${r.remaining} trailing bytes after the record`);
    return record;
  } catch (e) {
    if (e instanceof WireError) throw new RecordError(e.message);
    if (e instanceof CodecError) throw new RecordError(`${r.msgName}: field ${r.fieldName}: ${e.message}`);
    throw e;
  }
}

function decodeBody(r: WireReader, kind: LogRecord['kind'], version: number): LogRecord {
  switch (kind) {
    case 'request-received': {
      const id = field(r, 'id', () => r.u64());
      const peer = field(r, 'peer', () => r.bytes(PEER_LENGTH));
      const dbid = field(r, 'dbid', () => r.u64());
      const permissions = field(r, 'permissions', () => r.u64());
      const type = field(r, 'type', () => r.u16());
      const message = field(r, 'message', () => r.bytes(r.u32()));
      const at = field(r, 'at', () => readTime(r));
      return { kind, id, client: { peer, dbid, permissions }, type, message, at };
    }
    case 'reply-received': {
      const id = field(r, 'id', () => r.u64());
      const latencyMicros = field(r, 'latencyMicros', () => readTime(r));
      const reply = field(r, 'reply', () => (version === 1 ? readReplyV1(r) : readReply(r)));
      return { kind, id, reply, latencyMicros };
    }
    case 'signer-connected':
    case 'signer-disconnected': {
      const deviceId = field(r, 'deviceId', () => readText(r, r.u16()));
      const at = field(r, 'at', () => readTime(r));
      return { kind, deviceId, at };
    }
    case 'error': {
      const id = field(r, 'id', () => (r.bool() ? r.u64() : undefined));
      const text = field(r, 'text', () => readText(r, r.u32()));
      const at = field(r, 'at', () => readTime(r));
      return id === undefined ? { kind, text, at } : { kind, id, text, at };
    }
    case 'unlogged-requests': {
      const deviceId = field(r, 'deviceId', () => readText(r, r.u16()));
      const afterId = field(r, 'afterId', () => r.u64());
      const throughId = field(r, 'throughId', () => r.u64());
      const at = field(r, 'at', () => readTime(r));
      return { kind, deviceId, afterId, throughId, at };
    }
  }
}

/** A version 1 record's reply (see the layout above). */
function readReplyV1(r: WireReader): Reply {
  const code = r.u8();
  switch (code) {
    case 0:
      return { kind: 'frame', frame: r.bytes(r.u32()) };
    case 1:
      return { kind: 'none' };
    case 2:
      return { kind: 'bad-request', description: readText(r, r.u32()) };
    case 3: {
      const failureCode = r.u8();
      const failure = failureCode === V1_NO_FAILURE ? null : STATUS_FAILURES[failureCode];
      if (failure === undefined) r.fail(`unknown status_failreason ${failureCode}`, r.offset - 1);
      const description = readText(r, r.u32());
      return r.bool() ? { kind: 'fatal', failure, description, frame: r.bytes(r.u32()) } : { kind: 'fatal', failure, description };
    }
    default:
      return r.fail(`unknown reply kind ${code}`, r.offset - 1);
  }
}

/** Runs a field's reader with the field named in any error. */
function field<T>(r: WireReader, name: string, read: () => T): T {
  r.fieldName = name;
  return read();
}

const hex32 = (n: number): string => n.toString(16).padStart(8, '0');

function bytes32(w: WireWriter, b: Uint8Array): void {
  w.u32(b.length);
  w.bytes(b);
}

function text16(w: WireWriter, s: string): void {
  const b = utf8Encoder.encode(s);
  w.u16(b.length);
  w.bytes(b);
}

function text32(w: WireWriter, s: string): void {
  bytes32(w, utf8Encoder.encode(s));
}

function readText(r: WireReader, length: number): string {
  const start = r.offset;
  try {
    return utf8Decoder.decode(r.bytes(length));
  } catch (e) {
    if (e instanceof WireError) throw e;
    return r.fail('invalid UTF-8', start);
  }
}

function time(w: WireWriter, v: number, name: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RecordError(`${name} must be a non-negative safe integer, got ${v}`);
  w.u64(BigInt(v));
}

function readTime(r: WireReader): number {
  const start = r.offset;
  const v = r.u64();
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) r.fail(`${v} exceeds Number.MAX_SAFE_INTEGER`, start);
  return Number(v);
}
