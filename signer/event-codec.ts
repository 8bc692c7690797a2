/**
 * Versioned, deterministic binary encoding of SignerEvents and Replies, for the device
 * journal and the broker's mirror of it (docs/design.md#logs-and-projections). Each event
 * kind's fields are declared once (EVENT_FIELDS) and both directions follow that order; the
 * same value always gives the same bytes. An unknown version, kind or tag is a clear error
 * naming it, never a guess.
 *
 * Layout (big-endian; field types in record-fields.ts):
 *   events  = u8 version (1) ‖ u32 count ‖ event*
 *   event   = u8 kind tag (EVENT_TAGS) ‖ fields in EVENT_FIELDS order
 *   reply   = u8 version (1) ‖ u8 reply tag (REPLY_TAGS) ‖ fields
 *   fatal   = u8 failure (0: none, else 1 + its status_failreason code) ‖ string ‖ option(bytes frame)
 */
import { type Reply, STATUS_FAILURES, statusFailureCode } from './decision.js';
import type { SignerEvent } from './events.js';
import { policyConfig } from './policy/policy-codec.js';
import {
  bool,
  CHANNEL_SETUP_FIELDS,
  channelRef,
  CodecError,
  decodeWith,
  enumeration,
  list,
  option,
  readOption,
  readString,
  readVarBytes,
  readVersion,
  string,
  u32,
  u64,
  u64Number,
  varBytes,
  writeOption,
  writeString,
  writeVarBytes,
} from './record-fields.js';
import { struct, type Codec } from './wire/codec.js';
import type { WireReader } from './wire/reader.js';
import { WireWriter } from './wire/writer.js';

export const EVENT_CODEC_VERSION = 1;

/** Event kind ↔ tag. Tags are part of the format: never renumber, only append. */
export const EVENT_TAGS: Readonly<Record<SignerEvent['kind'], number>> = {
  DevPreinitialized: 1,
  NodeInitialized: 2,
  ChannelCreated: 3,
  ChannelSetUp: 4,
  ChannelForgotten: 5,
  OutpointLocked: 6,
  PaymentPreapproved: 7,
  HolderCommitmentValidated: 8,
  HolderCommitmentRevoked: 9,
  CounterpartyCommitmentSigned: 10,
  CounterpartySecretStored: 11,
  PolicyWarned: 12,
  ChainTipAdvanced: 13,
  ChainReorganized: 14,
  OutpointConfirmed: 15,
  OutpointSpent: 16,
  // Device policy and control.
  PolicyChanged: 20,
  ControlAccepted: 21,
  PaymentApprovalGranted: 22,
  PaymentAuthorized: 23,
  PolicyRefused: 24,
  CommitmentBalanceRecorded: 25,
  CommitmentHtlcsRecorded: 26,
  HolderCommitmentTxidRecorded: 27,
};

export const REPLY_TAGS: Readonly<Record<Reply['kind'], number>> = { frame: 1, none: 2, 'bad-request': 3, fatal: 4 };

type EventKind = SignerEvent['kind'];
/** The codec of each field of an event of `kind`, in the order they are written after its tag. */
type EventFields<K extends EventKind> = { readonly [F in Exclude<keyof Extract<SignerEvent, { kind: K }>, 'kind'>]-?: Codec<Extract<SignerEvent, { kind: K }>[F]> };

const channelCommitment = { channel: channelRef, commitNum: u64 };
const outpointInBlock = { txid: varBytes, vout: u32, height: u32, blockHash: varBytes };
const policyNote = { policy: string, detail: string };
export const seenHtlc = struct({ offered: bool, amountMsat: u64, paymentHash: varBytes, cltvExpiry: u32 });

/** Each kind's fields in the order they are written. Part of the format, as the tags are. */
const EVENT_FIELDS: { readonly [K in EventKind]: EventFields<K> } = {
  DevPreinitialized: { failPreapprove: bool, noPreapproveCheck: bool, warnOnOvergrind: bool },
  NodeInitialized: { wireVersion: u32, bip32KeyVersion: struct({ pub: u32, priv: u32 }), chainHash: varBytes },
  ChannelCreated: { channel: channelRef },
  ChannelSetUp: { channel: channelRef, ...CHANNEL_SETUP_FIELDS },
  ChannelForgotten: { channel: channelRef },
  OutpointLocked: { channel: channelRef, txid: varBytes, vout: u32 },
  PaymentPreapproved: {
    invoice: option(string),
    keysend: option(struct({ destination: varBytes, paymentHash: varBytes, amountMsat: u64 })),
    approved: bool,
  },
  HolderCommitmentValidated: { ...channelCommitment, digest: varBytes },
  HolderCommitmentTxidRecorded: { ...channelCommitment, txid: varBytes },
  HolderCommitmentRevoked: channelCommitment,
  CounterpartyCommitmentSigned: { ...channelCommitment, point: varBytes, digest: varBytes },
  CounterpartySecretStored: { ...channelCommitment, secret: varBytes },
  PolicyWarned: policyNote,
  ChainTipAdvanced: { height: u32, header: varBytes },
  ChainReorganized: { forkHeight: u32, oldTipHash: varBytes, disconnected: u32 },
  OutpointConfirmed: { ...outpointInBlock, valueSat: u64 },
  OutpointSpent: { ...outpointInBlock, spendingTxid: varBytes },
  PolicyChanged: { policy: policyConfig, fileDigest: varBytes },
  ControlAccepted: { nonce: u64, command: string },
  PaymentApprovalGranted: { paymentHash: varBytes },
  PaymentAuthorized: {
    at: u64Number,
    amountMsat: u64,
    paymentHash: varBytes,
    via: enumeration('event: PaymentAuthorized reason', ['limit', 'payee', 'approval'] as const),
    windowSec: u32,
  },
  PolicyRefused: policyNote,
  CommitmentBalanceRecorded: {
    channel: channelRef,
    side: enumeration('event: CommitmentBalanceRecorded side', ['holder', 'counterparty'] as const),
    commitNum: u64,
    ourBalanceSat: u64,
  },
  CommitmentHtlcsRecorded: {
    channel: channelRef,
    side: enumeration('event: CommitmentHtlcsRecorded side', ['holder', 'counterparty'] as const),
    commitNum: u64,
    htlcs: list(seenHtlc),
  },
};

/** EVENT_FIELDS as parallel arrays, so that reading an event is one loop into one object. */
interface Layout {
  readonly kind: EventKind;
  readonly names: readonly string[];
  readonly codecs: readonly Codec<unknown>[];
}
const LAYOUT = new Map<EventKind, Layout>(
  Object.entries(EVENT_FIELDS).map(([kind, fields]) => [kind as EventKind, { kind: kind as EventKind, names: Object.keys(fields), codecs: Object.values(fields) as Codec<unknown>[] }]),
);
/** The layouts by tag (an array: a rebuild reads an event's tag millions of times). */
const LAYOUT_OF_TAG: (Layout | undefined)[] = [];
for (const layout of LAYOUT.values()) LAYOUT_OF_TAG[EVENT_TAGS[layout.kind]] = layout;

// ---- events ----

export function writeEvent(w: WireWriter, e: SignerEvent): void {
  const tag = EVENT_TAGS[e.kind];
  if (tag === undefined) throw new CodecError(`event: unknown kind ${String((e as { kind: unknown }).kind)}`);
  w.u8(tag);
  const { names, codecs } = LAYOUT.get(e.kind)!;
  const fields = e as unknown as Record<string, unknown>;
  for (let i = 0; i < names.length; i++) codecs[i]!.encode(w, fields[names[i]!]);
}

export function readEvent(r: WireReader): SignerEvent {
  const at = r.offset;
  const tag = r.u8();
  const layout = LAYOUT_OF_TAG[tag];
  if (layout === undefined) throw new CodecError(`event: unknown kind tag ${tag} at offset ${at}`);
  const { kind, names, codecs } = layout;
  // `{}` and then `kind`, not `{ kind }`: V8 gives an empty literal room for four fields inside
  // the object, a `{ kind }` literal room for that one, and the rest went to a second allocation.
  const event: Record<string, unknown> = {};
  event.kind = kind;
  for (let i = 0; i < names.length; i++) event[names[i]!] = codecs[i]!.decode(r);
  return event as unknown as SignerEvent;
}

export function writeEvents(w: WireWriter, events: readonly SignerEvent[]): void {
  w.u8(EVENT_CODEC_VERSION);
  w.u32(events.length);
  for (const e of events) writeEvent(w, e);
}

export function readEvents(r: WireReader): SignerEvent[] {
  readVersion(r, 'events', EVENT_CODEC_VERSION);
  const n = r.u32();
  // Most records carry one event: a literal sizes the array to it (a push would reserve 17 slots).
  if (n === 1) return [readEvent(r)];
  const events: SignerEvent[] = [];
  for (let i = 0; i < n; i++) events.push(readEvent(r));
  return events;
}

export function encodeEvents(events: readonly SignerEvent[]): Uint8Array {
  const w = new WireWriter();
  writeEvents(w, events);
  return w.finish().slice();
}
export const decodeEvents = (bytes: Uint8Array): SignerEvent[] => decodeWith('events', bytes, readEvents);

// ---- replies ----

export function writeReply(w: WireWriter, reply: Reply): void {
  w.u8(EVENT_CODEC_VERSION);
  const tag = REPLY_TAGS[reply.kind];
  if (tag === undefined) throw new CodecError(`reply: unknown kind ${String((reply as { kind: unknown }).kind)}`);
  w.u8(tag);
  switch (reply.kind) {
    case 'frame':
      return writeVarBytes(w, reply.frame);
    case 'none':
      return;
    case 'bad-request':
      return writeString(w, reply.description);
    case 'fatal':
      w.u8(reply.failure === null ? 0 : 1 + statusFailureCode(reply.failure));
      writeString(w, reply.description);
      writeOption(w, reply.frame, (f) => writeVarBytes(w, f));
      return;
  }
}

export const readReply = (r: WireReader): Reply => readReplyWith(r, readVarBytes);

/**
 * Reads past a reply with every check readReply makes, without copying its frame out: the
 * device's recovery never keeps a reply (a redelivered id's is read back from the journal), and
 * a frame of more than 64 bytes (a signature's is 67) is a copy V8 keeps outside its heap, the
 * costliest part of decoding a record (docs/performance-history-rebuild.md).
 */
export function skipReply(r: WireReader): void {
  readReplyWith(r, skipVarBytes);
}

const NO_BYTES = new Uint8Array(0);
const skipVarBytes = (r: WireReader): Uint8Array => {
  r.skip(r.u32());
  return NO_BYTES;
};

/** A reply, its frame (if any) read by `frameOf`. */
function readReplyWith(r: WireReader, frameOf: (r: WireReader) => Uint8Array): Reply {
  readVersion(r, 'reply', EVENT_CODEC_VERSION);
  const at = r.offset;
  const tag = r.u8();
  switch (tag) {
    case REPLY_TAGS.frame:
      return { kind: 'frame', frame: frameOf(r) };
    case REPLY_TAGS.none:
      return { kind: 'none' };
    case REPLY_TAGS['bad-request']:
      return { kind: 'bad-request', description: readString(r) };
    case REPLY_TAGS.fatal: {
      const code = r.u8();
      const failure = code === 0 ? null : STATUS_FAILURES[code - 1];
      if (failure === undefined) throw new CodecError(`reply: unknown status failure code ${code} at offset ${r.offset - 1}`);
      const description = readString(r);
      const frame = readOption(r, () => frameOf(r));
      return frame === undefined ? { kind: 'fatal', failure, description } : { kind: 'fatal', failure, description, frame };
    }
    default:
      throw new CodecError(`reply: unknown reply tag ${tag} at offset ${at}`);
  }
}

export function encodeReply(reply: Reply): Uint8Array {
  const w = new WireWriter();
  writeReply(w, reply);
  return w.finish().slice();
}
export const decodeReply = (bytes: Uint8Array): Reply => decodeWith('reply', bytes, readReply);
