/**
 * The hsmd message table and its typed encoder/decoder.
 *
 * `MESSAGES` holds all 90 message types of CLN v25.12.1's `hsmd/hsmd_wire.csv`, keyed by
 * CLN's message name. A frame is the 2-byte big-endian type followed by the fields
 * (docs/hsmd-protocol.md#framing), without the 4-byte length prefix, which is the transport's job.
 *
 * Trailing bytes: CLN's generated fromwire_* (`tools/gen/impl_template`) ends with
 * `return cursor != NULL`, so bytes after the last field are ignored, and a message whose
 * last field is a TLV stream has none (the stream runs to the end). `decodeMessage` does the
 * same: it accepts such bytes and drops them, so it accepts exactly the frames CLN accepts;
 * re-encoding gives the frame without them.
 */
import type { Codec, StructValue } from './codec.js';
import { WireError } from './errors.js';
import { WireReader } from './reader.js';
import { WireWriter } from './writer.js';
import { NODE_MESSAGES } from './messages-node.js';
import { CHANNEL_MESSAGES } from './messages-channel.js';
import { ONCHAIN_MESSAGES } from './messages-onchain.js';

export const MESSAGES = { ...NODE_MESSAGES, ...CHANNEL_MESSAGES, ...ONCHAIN_MESSAGES } as const;

export type MessageName = keyof typeof MESSAGES;
/** The fields of message N, keyed by CLN's names (length fields folded in). */
export type MessageFields<N extends MessageName> = StructValue<(typeof MESSAGES)[N]['fields']>;
/** Any decoded message: its name, then its fields. */
export type HsmdMessage = { [N in MessageName]: { name: N } & MessageFields<N> }[MessageName];
/** A message's type number, as a literal type. */
export type MessageType<N extends MessageName> = (typeof MESSAGES)[N]['type'];

/** A message spec flattened once for the hot path. */
interface Compiled {
  name: MessageName;
  type: number;
  keys: string[];
  codecs: Codec<unknown>[];
}

const BY_NAME = new Map<string, Compiled>();
const BY_TYPE = new Map<number, Compiled>();
for (const name of Object.keys(MESSAGES) as MessageName[]) {
  const spec = MESSAGES[name];
  const fields = spec.fields as Record<string, Codec<unknown>>;
  const keys = Object.keys(fields);
  const c: Compiled = { name, type: spec.type, keys, codecs: keys.map((k) => fields[k]!) };
  if (BY_TYPE.has(c.type)) throw new Error(`hsmd wire table: type ${c.type} used twice`);
  BY_NAME.set(name, c);
  BY_TYPE.set(c.type, c);
}

function compiled(name: string): Compiled {
  const c = BY_NAME.get(name);
  if (c === undefined) throw new WireError(`unknown hsmd message name ${name}`);
  return c;
}

/** The type number of a message name. */
export function messageType<N extends MessageName>(name: N): MessageType<N> {
  return compiled(name).type as MessageType<N>;
}

/** The message name of a type number, if hsmd_wire.csv has it. */
export function messageNameOf(type: number): MessageName | undefined {
  return BY_TYPE.get(type)?.name;
}

/**
 * The type of a request as hsmd reads it (`wire/fromwire.c` fromwire_peektype): -1 for a
 * frame too short to have one, a type no client may send, so it is refused, not thrown on.
 */
export const requestType = (frame: Uint8Array): number => (frame.length >= 2 ? peekType(frame) : -1);

/** The 2-byte big-endian type of a frame; a frame shorter than that is a WireError. */
export function peekType(frame: Uint8Array): number {
  if (frame.length < 2) {
    throw new WireError(`frame needs 2 bytes for its type, has ${frame.length}`, 0);
  }
  return (frame[0]! << 8) | frame[1]!;
}

/** The frame of a message: type, then each field in CLN's order. */
export function encodeMessage<N extends MessageName>(name: N, fields: MessageFields<N>): Uint8Array {
  return encodeCompiled(compiled(name), fields as Record<string, unknown>);
}

/** The frame of a decoded message (its `name` selects the type). */
export function encodeHsmdMessage(message: HsmdMessage): Uint8Array {
  return encodeCompiled(compiled(message.name), message as Record<string, unknown>);
}

function encodeCompiled(c: Compiled, fields: Record<string, unknown>): Uint8Array {
  if (typeof fields !== 'object' || fields === null) throw new WireError(`${c.name}: fields object expected`);
  const w = new WireWriter();
  w.u16(c.type);
  let i = 0;
  try {
    for (; i < c.keys.length; i++) c.codecs[i]!.encode(w, fields[c.keys[i]!]);
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw new WireError(`${c.name}: field ${c.keys[i]}: ${detail}`);
  }
  return w.finish();
}

/**
 * Decodes any hsmd frame; WireError for an unknown type or anything CLN would reject.
 * `pointsAt` receives where each pubkey field starts in `frame`, for the caller to parse (fields.ts).
 */
export function decodeMessage(frame: Uint8Array, pointsAt?: number[]): HsmdMessage {
  const type = peekType(frame);
  const c = BY_TYPE.get(type);
  if (c === undefined) throw new WireError(`unknown hsmd message type ${type}`, 0);
  return decodeFields(c, frame, { name: c.name }, pointsAt) as unknown as HsmdMessage;
}

/** Decodes a frame that must be message N; WireError if its type is another. */
export function decodeAs<N extends MessageName>(name: N, frame: Uint8Array): MessageFields<N> {
  const c = compiled(name);
  const type = peekType(frame);
  if (type !== c.type) {
    const got = messageNameOf(type) ?? 'an unknown type';
    throw new WireError(`expected ${name} (type ${c.type}), got type ${type} (${got})`, 0);
  }
  return decodeFields(c, frame, {}) as MessageFields<N>;
}

function decodeFields(c: Compiled, frame: Uint8Array, out: Record<string, unknown>, pointsAt?: number[]): Record<string, unknown> {
  const r = new WireReader(frame, 2);
  r.msgName = c.name;
  r.pointsAt = pointsAt;
  for (let i = 0; i < c.keys.length; i++) {
    const key = c.keys[i]!;
    r.fieldName = key;
    out[key] = c.codecs[i]!.decode(r);
  }
  // Bytes after the last field are ignored, as CLN's fromwire_* does (see top of file).
  return out;
}
