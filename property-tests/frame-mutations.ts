/**
 * Malformed hsmd frames made from recorded requests, for the frame property
 * (hsmd-frames.test.ts): what is done to a request (a `Mutation`), how its bytes reach the
 * socket (a `Delivery`), and how hsmd cuts the bytes it receives into frames
 * (docs/hsmd-protocol.md#framing), which says what each case must get back. A case is plain
 * data (indexes, bit positions, bytes), so fast-check shrinks it and it prints as what it did.
 */
import fc from 'fast-check';
import { REQUIRED_PERMISSION } from '../signer/permissions.js';
import { type HsmdMessage, MESSAGES, decodeMessage, encodeHsmdMessage, messageNameOf } from '../signer/wire/messages.js';

/** wire/wire_io.h: a length at or above this closes the connection (docs/hsmd-protocol.md#framing). */
export const WIRE_LEN_LIMIT = 1 << 27;

export type Mutation =
  | { kind: 'as recorded' }
  | { kind: 'bit flips'; bits: number[] }
  | { kind: 'truncated'; keep: number }
  | { kind: 'extended'; extra: Uint8Array }
  | { kind: 'overwritten'; at: number; bytes: Uint8Array }
  | { kind: 'retyped'; type: number }
  | { kind: 'as a request type'; pick: number }
  | { kind: 'as a reply type'; pick: number }
  | { kind: 'empty' }
  | { kind: 'shorter than a type'; byte: number }
  /** A field of the same name taken from another recorded request (else: its type, their fields). */
  | { kind: 'field swapped'; other: number; field: number };

export type Delivery =
  | { kind: 'whole' }
  | { kind: 'split'; cuts: number[] }
  /** The length prefix says fewer bytes than the body sent. */
  | { kind: 'length short'; by: number }
  /** The length prefix says more bytes than sent (then the client closes). */
  | { kind: 'length long'; by: number };

export interface FrameCase {
  /** Before which exchange of the rest of the session it is sent. */
  at: number;
  /** Which of the extra clients sends it. */
  client: number;
  /** Which recorded request it starts from: among those its client may send, or among all. */
  base: number;
  fitting: boolean;
  mutations: Mutation[];
  delivery: Delivery;
}

const types = (names: readonly string[]): number[] => names.map((n) => MESSAGES[n as keyof typeof MESSAGES].type).sort((a, b) => a - b);
const REQUEST_TYPES = types(Object.keys(REQUIRED_PERMISSION));
const REPLY_TYPES = types(Object.keys(MESSAGES).filter((n) => !(n in REQUIRED_PERMISSION)));

const bytes = (max: number, min = 0): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: min, maxLength: max });

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'as recorded' as const }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('bit flips' as const), bits: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }) }), weight: 6 },
  { arbitrary: fc.record({ kind: fc.constant('truncated' as const), keep: fc.nat() }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('extended' as const), extra: bytes(64, 1) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('overwritten' as const), at: fc.nat(), bytes: bytes(33, 1) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('retyped' as const), type: fc.integer({ min: 0, max: 0xffff }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('as a request type' as const), pick: fc.nat() }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('as a reply type' as const), pick: fc.nat() }), weight: 2 },
  { arbitrary: fc.constant({ kind: 'empty' as const }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('shorter than a type' as const), byte: fc.nat(255) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('field swapped' as const), other: fc.nat(), field: fc.nat() }), weight: 5 },
);

const delivery: fc.Arbitrary<Delivery> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'whole' as const }), weight: 12 },
  { arbitrary: fc.record({ kind: fc.constant('split' as const), cuts: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('length short' as const), by: fc.nat() }), weight: 1 },
  {
    arbitrary: fc.record({ kind: fc.constant('length long' as const), by: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: WIRE_LEN_LIMIT - 1 })) }),
    weight: 1,
  },
);

/** A case against `clients` extra clients, from `bases` recorded requests, within `exchanges` of the session. */
export const frameCase = (exchanges: number, clients: number, bases: number): fc.Arbitrary<FrameCase> =>
  fc.record({
    at: fc.nat(exchanges - 1),
    client: fc.nat(clients - 1),
    base: fc.nat(bases - 1),
    fitting: fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, { arbitrary: fc.constant(false), weight: 1 }),
    mutations: fc.array(mutation, { minLength: 1, maxLength: 2 }),
    delivery,
  });

/** Where an overwrite lands: near `at`, all of it inside the body. */
const overwriteAt = (m: { at: number; bytes: Uint8Array }, length: number): number =>
  Math.max(0, Math.min(m.at % (length + 1), length - m.bytes.length));

const withType = (body: Uint8Array, type: number): Uint8Array => {
  const out = body.length >= 2 ? Uint8Array.from(body) : new Uint8Array(2);
  out[0] = type >> 8;
  out[1] = type & 0xff;
  return out;
};

/** The fields of a recorded request, decoded (every base decodes: they are CLN's own). */
const fieldsOf = (body: Uint8Array): HsmdMessage => decodeMessage(body);

/** What `m` makes of `body`; `bases` are the recorded requests a swap takes fields from. */
export function mutate(body: Uint8Array, m: Mutation, bases: readonly Uint8Array[]): Uint8Array {
  switch (m.kind) {
    case 'as recorded':
      return body;
    case 'bit flips': {
      if (body.length === 0) return body;
      const out = Uint8Array.from(body);
      for (const bit of m.bits) out[(bit >> 3) % out.length]! ^= 1 << (bit & 7);
      return out;
    }
    case 'truncated':
      return body.slice(0, body.length === 0 ? 0 : m.keep % body.length);
    case 'extended':
      return Uint8Array.of(...body, ...m.extra);
    case 'overwritten': {
      const out = Uint8Array.from(body);
      out.set(m.bytes.slice(0, body.length), overwriteAt(m, body.length));
      return out;
    }
    case 'retyped':
      return withType(body, m.type);
    case 'as a request type':
      return withType(body, REQUEST_TYPES[m.pick % REQUEST_TYPES.length]!);
    case 'as a reply type':
      return withType(body, REPLY_TYPES[m.pick % REPLY_TYPES.length]!);
    case 'empty':
      return new Uint8Array();
    case 'shorter than a type':
      return Uint8Array.of(m.byte);
    case 'field swapped':
      return swapField(body, bases[m.other % bases.length]!, m.field).body;
  }
}

/**
 * `body` with one field of the same name from `other`; else `body`'s type on `other`'s fields.
 * `how` says which, to be followed by what `other` is.
 */
function swapField(body: Uint8Array, other: Uint8Array, field: number): { body: Uint8Array; how: string } {
  const splice = (type: number): { body: Uint8Array; how: string } => ({ body: withType(other, type), how: `its type on the fields of` });
  let mine: HsmdMessage;
  try {
    mine = fieldsOf(body);
  } catch {
    return splice(body.length >= 2 ? (body[0]! << 8) | body[1]! : 0); // an earlier mutation broke it
  }
  const theirs = fieldsOf(other) as unknown as Record<string, unknown>;
  const shared = Object.keys(mine).filter((k) => k !== 'name' && k in theirs);
  if (shared.length === 0) return splice(MESSAGES[mine.name].type);
  const key = shared[field % shared.length]!;
  try {
    return { body: encodeHsmdMessage({ ...mine, [key]: theirs[key] } as HsmdMessage), how: `its ${key} taken from` };
  } catch {
    return splice(MESSAGES[mine.name].type); // same name, another shape
  }
}

/** The bytes written for `body`, in the writes they are made in. */
export function deliver(body: Uint8Array, d: Delivery): Uint8Array[] {
  const header = (n: number): Uint8Array => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  const framed = Uint8Array.of(...header(body.length), ...body);
  switch (d.kind) {
    case 'whole':
      return [framed];
    case 'split': {
      const cuts = [...new Set(d.cuts.map((c) => 1 + (c % (framed.length - 1))))].sort((a, b) => a - b);
      return [0, ...cuts].map((from, i) => framed.slice(from, cuts[i] ?? framed.length));
    }
    case 'length short':
      return body.length === 0 ? [framed] : [Uint8Array.of(...header(body.length - 1 - (d.by % body.length)), ...body)];
    case 'length long':
      return [Uint8Array.of(...header(Math.min(body.length + d.by, WIRE_LEN_LIMIT - 1)), ...body)];
  }
}

/** How hsmd cuts a byte stream into frames (docs/hsmd-protocol.md#framing), and how it ends. */
export interface Framed {
  frames: Uint8Array[];
  /** clean: on a frame boundary; partial: inside a frame; too long: a length at the limit. */
  end: 'clean' | 'partial' | 'too long';
}

export function framesOf(stream: Uint8Array): Framed {
  const frames: Uint8Array[] = [];
  let at = 0;
  for (;;) {
    if (at === stream.length) return { frames, end: 'clean' };
    if (stream.length - at < 4) return { frames, end: 'partial' };
    const len = ((stream[at]! << 24) | (stream[at + 1]! << 16) | (stream[at + 2]! << 8) | stream[at + 3]!) >>> 0;
    if (len >= WIRE_LEN_LIMIT) return { frames, end: 'too long' };
    if (stream.length - at - 4 < len) return { frames, end: 'partial' };
    frames.push(stream.slice(at + 4, at + 4 + len));
    at += 4 + len;
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const typeName = (t: number): string => `${messageNameOf(t) ?? 'unknown'} (${t})`;

/**
 * A mutation of `body` in words, e.g. "bits 1234, 17 flipped", "as hsmd_sign_tx_reply (112)";
 * `baseName` names a recorded request by its index in `bases`.
 */
export function describeMutation(m: Mutation, body: Uint8Array, bases: readonly Uint8Array[], baseName: (index: number) => string): string {
  const length = body.length;
  switch (m.kind) {
    case 'bit flips':
      return `bit${m.bits.length > 1 ? 's' : ''} ${m.bits.map((b) => ((b >> 3) % Math.max(length, 1)) * 8 + (b & 7)).join(', ')} flipped`;
    case 'truncated':
      return `truncated to ${length === 0 ? 0 : m.keep % length} bytes`;
    case 'extended':
      return `extended by ${hex(m.extra)}`;
    case 'overwritten':
      return `overwritten with ${hex(m.bytes.slice(0, length))} at byte ${overwriteAt(m, length)}`;
    case 'retyped':
      return `as ${typeName(m.type)}`;
    case 'as a request type':
      return `as ${typeName(REQUEST_TYPES[m.pick % REQUEST_TYPES.length]!)}`;
    case 'as a reply type':
      return `as ${typeName(REPLY_TYPES[m.pick % REPLY_TYPES.length]!)}`;
    case 'shorter than a type':
      return `the single byte ${m.byte.toString(16).padStart(2, '0')}`;
    case 'field swapped': {
      const other = m.other % bases.length;
      return `${swapField(body, bases[other]!, m.field).how} ${baseName(other)}`;
    }
    default:
      return m.kind;
  }
}

export function describeDelivery(d: Delivery, written: readonly Uint8Array[]): string {
  switch (d.kind) {
    case 'whole':
      return 'sent whole';
    case 'split':
      return `split into writes of ${written.map((w) => w.length).join(' + ')} bytes`;
    case 'length short':
    case 'length long':
      return `with a length prefix of ${hex(written[0]!.slice(0, 4))} (${d.kind}) for ${written[0]!.length - 4} body bytes`;
  }
}

export { hex, typeName };
