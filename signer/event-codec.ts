/**
 * Versioned, deterministic binary encoding of SignerEvents and Replies, for the device
 * journal and the broker's mirror of it (docs/design.md#logs-and-projections). Encoders and decoders sit side by
 * side; the same value always gives the same bytes. An unknown version, kind or tag is a
 * clear error naming it, never a guess.
 *
 * Layout (big-endian, WireWriter/WireReader):
 *   events  = u8 version (1) ‖ u32 count ‖ event*
 *   event   = u8 kind tag (EVENT_TAGS) ‖ fields in declaration order (events.ts)
 *   reply   = u8 version (1) ‖ u8 reply tag (REPLY_TAGS) ‖ fields
 *   bytes   = u32 length ‖ bytes;  string = bytes of its UTF-8;  bool = u8 0|1
 *   option  = u8 0 (absent) | u8 1 ‖ value;  u64 = 8 bytes;  u16/u32 as named
 *   fatal   = u8 failure (0: none, else 1 + its status_failreason code) ‖ string ‖ option(bytes frame)
 */
import { type Reply, STATUS_FAILURES, statusFailureCode } from './decision.js';
import type { ChannelRef, ChannelSetUp, SignerEvent } from './events.js';
import { readPolicy, writePolicy } from './policy/policy-codec.js';
import { WireError } from './wire/errors.js';
import { WireReader } from './wire/reader.js';
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
};
const KIND_OF_TAG = new Map(Object.entries(EVENT_TAGS).map(([k, t]) => [t, k as SignerEvent['kind']]));

export const REPLY_TAGS: Readonly<Record<Reply['kind'], number>> = { frame: 1, none: 2, 'bad-request': 3, fatal: 4 };

/** A decoding failure of the event codec (or anything built on it). */
export class CodecError extends Error {
  override readonly name = 'CodecError';
}

// ---- primitives shared with the snapshot codec (projections/signer-state.ts) ----

export function writeVarBytes(w: WireWriter, b: Uint8Array): void {
  w.u32(b.length);
  w.bytes(b);
}
export const readVarBytes = (r: WireReader): Uint8Array => r.bytes(r.u32());

export const writeString = (w: WireWriter, s: string): void => writeVarBytes(w, new TextEncoder().encode(s));
export function readString(r: WireReader): string {
  const start = r.offset;
  const bytes = readVarBytes(r);
  try {
    // Made per call: XS provides TextDecoder only once the app runs, not while modules load.
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return r.fail('invalid UTF-8', start);
  }
}

export function writeOption<T>(w: WireWriter, v: T | undefined | null, write: (v: T) => void): void {
  if (v === undefined || v === null) return w.u8(0);
  w.u8(1);
  write(v);
}
export function readOption<T>(r: WireReader, read: () => T): T | undefined {
  const flag = r.u8();
  if (flag > 1) r.fail(`option flag must be 0 or 1, got ${flag}`, r.offset - 1);
  return flag === 1 ? read() : undefined;
}

export function writeChannelRef(w: WireWriter, c: ChannelRef): void {
  writeVarBytes(w, c.peer);
  w.u64(c.dbid);
}
export const readChannelRef = (r: WireReader): ChannelRef => ({ peer: readVarBytes(r), dbid: r.u64() });

export type ChannelSetup = Omit<ChannelSetUp, 'kind' | 'channel'>;

export function writeChannelSetup(w: WireWriter, s: ChannelSetup): void {
  w.bool(s.isOutbound);
  w.u64(s.channelValueSat);
  w.u64(s.pushValueMsat);
  writeVarBytes(w, s.fundingTxid);
  w.u32(s.fundingTxout);
  w.u32(s.localToSelfDelay);
  writeVarBytes(w, s.localShutdownScript);
  writeOption(w, s.localShutdownWalletIndex, (i) => w.u32(i));
  const b = s.remoteBasepoints;
  for (const p of [b.revocation, b.payment, b.htlc, b.delayed_payment]) writeVarBytes(w, p);
  writeVarBytes(w, s.remoteFundingPubkey);
  w.u32(s.remoteToSelfDelay);
  writeVarBytes(w, s.remoteShutdownScript);
  writeVarBytes(w, s.channelType);
}

export function readChannelSetup(r: WireReader): ChannelSetup {
  return {
    isOutbound: r.bool(),
    channelValueSat: r.u64(),
    pushValueMsat: r.u64(),
    fundingTxid: readVarBytes(r),
    fundingTxout: r.u32(),
    localToSelfDelay: r.u32(),
    localShutdownScript: readVarBytes(r),
    localShutdownWalletIndex: readOption(r, () => r.u32()),
    remoteBasepoints: {
      revocation: readVarBytes(r),
      payment: readVarBytes(r),
      htlc: readVarBytes(r),
      delayed_payment: readVarBytes(r),
    },
    remoteFundingPubkey: readVarBytes(r),
    remoteToSelfDelay: r.u32(),
    remoteShutdownScript: readVarBytes(r),
    channelType: readVarBytes(r),
  };
}

/** Reads a version byte and refuses any but `expected`, naming what it reads. */
export function readVersion(r: WireReader, what: string, expected: number): void {
  const v = r.u8();
  if (v !== expected) throw new CodecError(`${what}: unknown version ${v} (this build reads version ${expected})`);
}

/** Wraps a decoder: WireErrors (truncated, bad bool) become CodecErrors naming `what`. */
export function decodeWith<T>(what: string, bytes: Uint8Array, read: (r: WireReader) => T): T {
  const r = new WireReader(bytes);
  try {
    const value = read(r);
    if (!r.atEnd) throw new CodecError(`${what}: ${r.remaining} trailing bytes at offset ${r.offset}`);
    return value;
  } catch (e) {
    if (e instanceof WireError) throw new CodecError(`${what}: ${e.message}`);
    throw e;
  }
}

// ---- events ----

export function writeEvent(w: WireWriter, e: SignerEvent): void {
  const tag = EVENT_TAGS[e.kind];
  if (tag === undefined) throw new CodecError(`event: unknown kind ${String((e as { kind: unknown }).kind)}`);
  w.u8(tag);
  switch (e.kind) {
    case 'DevPreinitialized':
      w.bool(e.failPreapprove);
      w.bool(e.noPreapproveCheck);
      w.bool(e.warnOnOvergrind);
      return;
    case 'NodeInitialized':
      w.u32(e.wireVersion);
      w.u32(e.bip32KeyVersion.pub);
      w.u32(e.bip32KeyVersion.priv);
      writeVarBytes(w, e.chainHash);
      return;
    case 'ChannelCreated':
    case 'ChannelForgotten':
      return writeChannelRef(w, e.channel);
    case 'ChannelSetUp': {
      const { kind: _kind, channel, ...setup } = e;
      writeChannelRef(w, channel);
      return writeChannelSetup(w, setup);
    }
    case 'OutpointLocked':
      writeChannelRef(w, e.channel);
      writeVarBytes(w, e.txid);
      w.u32(e.vout);
      return;
    case 'PaymentPreapproved':
      writeOption(w, e.invoice, (s) => writeString(w, s));
      writeOption(w, e.keysend, (k) => {
        writeVarBytes(w, k.destination);
        writeVarBytes(w, k.paymentHash);
        w.u64(k.amountMsat);
      });
      w.bool(e.approved);
      return;
    case 'HolderCommitmentValidated':
      writeChannelRef(w, e.channel);
      w.u64(e.commitNum);
      writeVarBytes(w, e.digest);
      return;
    case 'HolderCommitmentRevoked':
      writeChannelRef(w, e.channel);
      w.u64(e.commitNum);
      return;
    case 'CounterpartyCommitmentSigned':
      writeChannelRef(w, e.channel);
      w.u64(e.commitNum);
      writeVarBytes(w, e.point);
      writeVarBytes(w, e.digest);
      return;
    case 'CounterpartySecretStored':
      writeChannelRef(w, e.channel);
      w.u64(e.commitNum);
      writeVarBytes(w, e.secret);
      return;
    case 'PolicyWarned':
    case 'PolicyRefused':
      writeString(w, e.policy);
      writeString(w, e.detail);
      return;
    case 'ChainTipAdvanced':
      w.u32(e.height);
      writeVarBytes(w, e.header);
      return;
    case 'ChainReorganized':
      w.u32(e.forkHeight);
      writeVarBytes(w, e.oldTipHash);
      w.u32(e.disconnected);
      return;
    case 'OutpointConfirmed':
      writeVarBytes(w, e.txid);
      w.u32(e.vout);
      w.u32(e.height);
      writeVarBytes(w, e.blockHash);
      w.u64(e.valueSat);
      return;
    case 'OutpointSpent':
      writeVarBytes(w, e.txid);
      w.u32(e.vout);
      w.u32(e.height);
      writeVarBytes(w, e.blockHash);
      writeVarBytes(w, e.spendingTxid);
      return;
    case 'PolicyChanged':
      writePolicy(w, e.policy);
      writeVarBytes(w, e.fileDigest);
      return;
    case 'ControlAccepted':
      w.u64(e.nonce);
      writeString(w, e.command);
      return;
    case 'PaymentApprovalGranted':
      writeVarBytes(w, e.paymentHash);
      return;
    case 'PaymentAuthorized':
      w.u64(BigInt(e.at));
      w.u64(e.amountMsat);
      writeVarBytes(w, e.paymentHash);
      w.u8(VIAS.indexOf(e.via));
      w.u32(e.windowSec);
      return;
  }
}

const VIAS = ['limit', 'payee', 'approval'] as const;

export function readEvent(r: WireReader): SignerEvent {
  const at = r.offset;
  const tag = r.u8();
  const kind = KIND_OF_TAG.get(tag);
  if (kind === undefined) throw new CodecError(`event: unknown kind tag ${tag} at offset ${at}`);
  switch (kind) {
    case 'DevPreinitialized':
      return { kind, failPreapprove: r.bool(), noPreapproveCheck: r.bool(), warnOnOvergrind: r.bool() };
    case 'NodeInitialized':
      return { kind, wireVersion: r.u32(), bip32KeyVersion: { pub: r.u32(), priv: r.u32() }, chainHash: readVarBytes(r) };
    case 'ChannelCreated':
    case 'ChannelForgotten':
      return { kind, channel: readChannelRef(r) };
    case 'ChannelSetUp':
      return { kind, channel: readChannelRef(r), ...readChannelSetup(r) };
    case 'OutpointLocked':
      return { kind, channel: readChannelRef(r), txid: readVarBytes(r), vout: r.u32() };
    case 'PaymentPreapproved':
      return {
        kind,
        invoice: readOption(r, () => readString(r)),
        keysend: readOption(r, () => ({ destination: readVarBytes(r), paymentHash: readVarBytes(r), amountMsat: r.u64() })),
        approved: r.bool(),
      };
    case 'HolderCommitmentValidated':
      return { kind, channel: readChannelRef(r), commitNum: r.u64(), digest: readVarBytes(r) };
    case 'HolderCommitmentRevoked':
      return { kind, channel: readChannelRef(r), commitNum: r.u64() };
    case 'CounterpartyCommitmentSigned':
      return { kind, channel: readChannelRef(r), commitNum: r.u64(), point: readVarBytes(r), digest: readVarBytes(r) };
    case 'CounterpartySecretStored':
      return { kind, channel: readChannelRef(r), commitNum: r.u64(), secret: readVarBytes(r) };
    case 'PolicyWarned':
    case 'PolicyRefused':
      return { kind, policy: readString(r), detail: readString(r) };
    case 'ChainTipAdvanced':
      return { kind, height: r.u32(), header: readVarBytes(r) };
    case 'ChainReorganized':
      return { kind, forkHeight: r.u32(), oldTipHash: readVarBytes(r), disconnected: r.u32() };
    case 'OutpointConfirmed':
      return { kind, txid: readVarBytes(r), vout: r.u32(), height: r.u32(), blockHash: readVarBytes(r), valueSat: r.u64() };
    case 'OutpointSpent':
      return { kind, txid: readVarBytes(r), vout: r.u32(), height: r.u32(), blockHash: readVarBytes(r), spendingTxid: readVarBytes(r) };
    case 'PolicyChanged':
      return { kind, policy: readPolicy(r), fileDigest: readVarBytes(r) };
    case 'ControlAccepted':
      return { kind, nonce: r.u64(), command: readString(r) };
    case 'PaymentApprovalGranted':
      return { kind, paymentHash: readVarBytes(r) };
    case 'PaymentAuthorized': {
      const at = Number(r.u64());
      const amountMsat = r.u64();
      const paymentHash = readVarBytes(r);
      const code = r.u8();
      const via = VIAS[code];
      if (via === undefined) throw new CodecError(`event: unknown PaymentAuthorized reason ${code} at offset ${r.offset - 1}`);
      return { kind, at, amountMsat, paymentHash, via, windowSec: r.u32() };
    }
  }
}

export function writeEvents(w: WireWriter, events: readonly SignerEvent[]): void {
  w.u8(EVENT_CODEC_VERSION);
  w.u32(events.length);
  for (const e of events) writeEvent(w, e);
}

export function readEvents(r: WireReader): SignerEvent[] {
  readVersion(r, 'events', EVENT_CODEC_VERSION);
  const n = r.u32();
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

export function readReply(r: WireReader): Reply {
  readVersion(r, 'reply', EVENT_CODEC_VERSION);
  const at = r.offset;
  const tag = r.u8();
  switch (tag) {
    case REPLY_TAGS.frame:
      return { kind: 'frame', frame: readVarBytes(r) };
    case REPLY_TAGS.none:
      return { kind: 'none' };
    case REPLY_TAGS['bad-request']:
      return { kind: 'bad-request', description: readString(r) };
    case REPLY_TAGS.fatal: {
      const code = r.u8();
      const failure = code === 0 ? null : STATUS_FAILURES[code - 1];
      if (failure === undefined) throw new CodecError(`reply: unknown status failure code ${code} at offset ${r.offset - 1}`);
      const description = readString(r);
      const frame = readOption(r, () => readVarBytes(r));
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
