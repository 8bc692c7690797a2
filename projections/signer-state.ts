/**
 * The SignerState projection (docs/design.md#logs-and-projections): the fold of journaled events (from the start or
 * from a snapshot), and the deterministic snapshot encoding of the state with its digest.
 *
 * State layout (version 1; field types as in signer/record-fields.ts):
 *   u8 version ‖ dev: bool failPreapprove, bool noPreapproveCheck, bool warnOnOvergrind
 *   ‖ option(node: u32 wireVersion, u32 bip32 pub, u32 bip32 priv, bytes chainHash)
 *   ‖ u32 preapprovals ‖ u32 channel count ‖ channel* in ascending channelKey order
 *   channel     = ref (bytes peer, u64 dbid) ‖ option(setup: as ChannelSetUp's fields)
 *                 ‖ u32 count ‖ string outpoint* (ascending) ‖ option(commitments)
 *   commitments = option(holderValidated: u64 n, bytes digest) ‖ option(u64 holderFirst)
 *                 ‖ option(u64 holderRevokedThrough) ‖ option(counterpartySigned)
 *                 ‖ option(counterpartyPrevious) ‖ option(u64 counterpartyFirst)
 *                 ‖ u32 secret slots ‖ option(u64 index, bytes secret)* ‖ option(u64 last)
 *   counterparty commitment = u64 n, bytes point, bytes digest
 *   ‖ [chain, only when the state has a chain view: u8 1 ‖ string network
 *      ‖ u32 count ‖ (u32 height, bytes hash, u32 time, u32 bits)* ‖ option(u32 height, u32 time)
 *      ‖ u32 count ‖ (string outpoint, option(u32 height, bytes block, u64 value),
 *      option(u32 height, bytes block, bytes txid))* in ascending outpoint order]
 *   (a state without a chain view encodes exactly as before chain tracking existed)
 *   ‖ [device policy, only when it differs from the initial state's: u8 2
 *      ‖ option(policy: signer/policy/policy-codec.ts) ‖ option(bytes policy file digest)
 *      ‖ u64 control nonce ‖ u32 n ‖ string approval* (sorted) ‖ u32 n ‖ (u64 at ‖ u64 msat)*
 *      (the velocity window: one entry per second, ascending)]
 *   ‖ [recorded balances, only when a channel has one (CommitmentBalanceRecorded): u8 3
 *      ‖ u32 count ‖ (ref ‖ option(u64 n, u64 sat) holder ‖ option(u64 n, u64 sat) counterparty)*
 *      in ascending channelKey order]
 *   ‖ [HTLCs and authorized payments (policy-htlc-payment-approved), only when there are some:
 *      section 4, laid out in projections/htlc-section.ts]
 *   ‖ [holder commitment txids (policy-commitment-holder-validated), only when a channel has
 *      them recorded: section 5, laid out in projections/holder-txid-section.ts]
 *   (the optional sections come in this order; a state without them encodes as before)
 * Equal states give equal bytes whatever order their maps and sets were filled in.
 *
 * Snapshot body (what the device core keeps in a snapshot slot): u8 version (2)
 *   ‖ bytes state ‖ u32 count ‖ (u64 id ‖ 32-byte request digest ‖ reply)* : the replies
 *   of the latest requests, so a redelivered id is answered after compaction too
 *   ‖ u32 count ‖ (string source ‖ u64 last seq)* in ascending source order: where each
 *   source of sourced records (log/journal/record.ts) goes on numbering. Version 1 (no
 *   sources) is still read.
 */
import { sha256 } from '../signer/crypto/hashes.js';
import type { Reply } from '../signer/decision.js';
import { readReply, writeReply } from '../signer/event-codec.js';
import {
  CodecError,
  decodeWith,
  readChannelRef,
  readChannelSetup,
  readOption,
  readString,
  readVersion,
  readVarBytes,
  writeChannelRef,
  writeChannelSetup,
  writeOption,
  writeString,
  writeVarBytes,
} from '../signer/record-fields.js';
import type { SignerEvent } from '../signer/events.js';
import { PaymentWindow } from '../signer/payment-window.js';
import { PersistentMap } from '../signer/persistent-map.js';
import { policyConfig } from '../signer/policy/policy-codec.js';
import type { CommitmentState, RecordedBalance, SignedCounterpartyCommitment } from '../signer/handlers/commitment-state.js';
import { apply, channelKey, channelState, initialState, type ChannelState, type SignerState } from '../signer/state.js';
import { NETWORKS, type NetworkName } from '../signer/chain/networks.js';
import type { ChainView, OutpointStatus } from '../signer/chain/view.js';
import type { WireReader } from '../signer/wire/reader.js';
import { WireWriter } from '../signer/wire/writer.js';
import { HTLC_SECTION, readHtlcSection, writeHtlcSection } from './htlc-section.js';
import { HOLDER_TXID_SECTION, readHolderTxidSection, writeHolderTxidSection } from './holder-txid-section.js';

export const STATE_CODEC_VERSION = 1;
export const SNAPSHOT_BODY_VERSION = 2;

/** Folds journaled records (or any event batches) into the state, in order. */
export function replayEvents(batches: Iterable<{ readonly events: readonly SignerEvent[] }>, from: SignerState = initialState): SignerState {
  let state = from;
  for (const { events } of batches) for (const e of events) state = apply(state, e);
  return state;
}

const ascending = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function writeCounterparty(w: WireWriter, c: SignedCounterpartyCommitment): void {
  w.u64(c.n);
  writeVarBytes(w, c.point);
  writeVarBytes(w, c.digest);
}
const readCounterparty = (r: WireReader): SignedCounterpartyCommitment => ({ n: r.u64(), point: readVarBytes(r), digest: readVarBytes(r) });

function writeCommitments(w: WireWriter, c: CommitmentState): void {
  writeOption(w, c.holderValidated, (v) => {
    w.u64(v.n);
    writeVarBytes(w, v.digest);
  });
  writeOption(w, c.holderFirst, (n) => w.u64(n));
  writeOption(w, c.holderRevokedThrough, (n) => w.u64(n));
  writeOption(w, c.counterpartySigned, (v) => writeCounterparty(w, v));
  writeOption(w, c.counterpartyPrevious, (v) => writeCounterparty(w, v));
  writeOption(w, c.counterpartyFirst, (n) => w.u64(n));
  w.u32(c.secrets.known.length);
  for (const k of c.secrets.known) {
    writeOption(w, k, (s) => {
      w.u64(s.index);
      writeVarBytes(w, s.secret);
    });
  }
  writeOption(w, c.secrets.last, (n) => w.u64(n));
}

function readCommitments(r: WireReader): CommitmentState {
  const holderValidated = readOption(r, () => ({ n: r.u64(), digest: readVarBytes(r) }));
  const holderFirst = readOption(r, () => r.u64());
  const holderRevokedThrough = readOption(r, () => r.u64());
  const counterpartySigned = readOption(r, () => readCounterparty(r));
  const counterpartyPrevious = readOption(r, () => readCounterparty(r));
  const counterpartyFirst = readOption(r, () => r.u64());
  const slots = r.u32();
  const known = [];
  for (let i = 0; i < slots; i++) known.push(readOption(r, () => ({ index: r.u64(), secret: readVarBytes(r) })));
  const last = readOption(r, () => r.u64());
  const secrets = { known, last };
  // Balances: section 3; holder txids: section 5.
  return {
    holderValidated, holderFirst, holderRevokedThrough, holderTxids: undefined, counterpartySigned, counterpartyPrevious, counterpartyFirst, secrets,
    holderBalance: undefined, counterpartyBalance: undefined,
  };
}

function writeChannel(w: WireWriter, c: ChannelState): void {
  writeChannelRef(w, c.ref);
  writeOption(w, c.setup, (s) => writeChannelSetup(w, s));
  const outpoints = [...c.lockedOutpoints].sort(ascending);
  w.u32(outpoints.length);
  for (const o of outpoints) writeString(w, o);
  writeOption(w, c.commitments, (s) => writeCommitments(w, s));
}

function readChannel(r: WireReader): ChannelState {
  const ref = readChannelRef(r);
  const setup = readOption(r, () => readChannelSetup(r));
  const count = r.u32();
  const lockedOutpoints = new Set<string>();
  for (let i = 0; i < count; i++) lockedOutpoints.add(readString(r));
  const commitments = readOption(r, () => readCommitments(r));
  return channelState(ref, setup, lockedOutpoints, commitments, undefined); // HTLCs: section 4
}

export function writeState(w: WireWriter, s: SignerState): void {
  w.u8(STATE_CODEC_VERSION);
  w.bool(s.dev.failPreapprove);
  w.bool(s.dev.noPreapproveCheck);
  w.bool(s.dev.warnOnOvergrind);
  writeOption(w, s.node, (n) => {
    w.u32(n.wireVersion);
    w.u32(n.bip32KeyVersion.pub);
    w.u32(n.bip32KeyVersion.priv);
    writeVarBytes(w, n.chainHash);
  });
  w.u32(s.preapprovals);
  const keys = [...s.channels.keys()].sort(ascending);
  w.u32(keys.length);
  for (const k of keys) writeChannel(w, s.channels.get(k)!);
  if (s.chain) writeChain(w, s.chain);
  if (hasDeviceSection(s)) writeDeviceSection(w, s);
  const channels = keys.map((k) => s.channels.get(k)!);
  writeBalanceSection(w, channels);
  writeHtlcSection(w, s, channels);
  writeHolderTxidSection(w, channels);
}

const BALANCE_SECTION = 3;

const writeBalance = (w: WireWriter, b: RecordedBalance | undefined): void =>
  writeOption(w, b, (v) => {
    w.u64(v.n);
    w.u64(v.sat);
  });

/** Recorded balances live in their own section, so a state without any encodes as before they existed. */
function writeBalanceSection(w: WireWriter, channels: readonly ChannelState[]): void {
  const recorded = channels.filter((c) => c.commitments?.holderBalance !== undefined || c.commitments?.counterpartyBalance !== undefined);
  if (recorded.length === 0) return;
  w.u8(BALANCE_SECTION);
  w.u32(recorded.length);
  for (const c of recorded) {
    writeChannelRef(w, c.ref);
    writeBalance(w, c.commitments!.holderBalance);
    writeBalance(w, c.commitments!.counterpartyBalance);
  }
}

function readBalanceSection(r: WireReader, channels: PersistentMap<ChannelState>): PersistentMap<ChannelState> {
  let out = channels;
  for (let i = r.u32(); i > 0; i--) {
    const ref = readChannelRef(r);
    const balance = (): RecordedBalance | undefined => readOption(r, () => ({ n: r.u64(), sat: r.u64() }));
    const holderBalance = balance();
    const counterpartyBalance = balance();
    const key = channelKey(ref);
    const c = out.get(key);
    if (c?.commitments === undefined) throw new CodecError(`signer state: a recorded balance for ${key}, a channel without commitments`);
    const commitments = { ...c.commitments, holderBalance, counterpartyBalance };
    out = out.set(key, channelState(c.ref, c.setup, c.lockedOutpoints, commitments, c.htlcs));
  }
  return out;
}

const DEVICE_SECTION = 2;

const hasDeviceSection = (s: SignerState): boolean =>
  s.policy !== undefined || s.policyFileDigest !== undefined || s.controlNonce !== 0n || s.approvals.size > 0 || !s.payments.isEmpty;

function writeDeviceSection(w: WireWriter, s: SignerState): void {
  w.u8(DEVICE_SECTION);
  writeOption(w, s.policy, (p) => policyConfig.encode(w, p));
  writeOption(w, s.policyFileDigest, (d) => writeVarBytes(w, d));
  w.u64(s.controlNonce);
  const approvals = [...s.approvals].sort(ascending);
  w.u32(approvals.length);
  for (const a of approvals) writeString(w, a);
  const payments = [...s.payments];
  w.u32(payments.length);
  for (const p of payments) {
    w.u64(BigInt(p.at));
    w.u64(p.amountMsat);
  }
}

function readDeviceSection(r: WireReader): Pick<SignerState, 'policy' | 'policyFileDigest' | 'controlNonce' | 'approvals' | 'payments'> {
  const policy = readOption(r, () => policyConfig.decode(r));
  const policyFileDigest = readOption(r, () => readVarBytes(r));
  const controlNonce = r.u64();
  const approvals = new Set<string>();
  for (let i = r.u32(); i > 0; i--) approvals.add(readString(r));
  const counted = [];
  for (let i = r.u32(); i > 0; i--) {
    const at = r.u64();
    if (at > BigInt(Number.MAX_SAFE_INTEGER)) throw new CodecError(`signer state: payment time ${at} is not a unix time in seconds`);
    counted.push({ at: Number(at), amountMsat: r.u64() });
  }
  const payments = PaymentWindow.from(counted);
  return { policy, policyFileDigest, controlNonce, approvals, payments };
}

const CHAIN_SECTION = 1;

function writeChain(w: WireWriter, c: ChainView): void {
  w.u8(CHAIN_SECTION);
  writeString(w, c.network);
  w.u32(c.recent.length);
  for (const k of c.recent) {
    w.u32(k.height);
    writeVarBytes(w, k.hash);
    w.u32(k.time);
    w.u32(k.bits);
  }
  writeOption(w, c.periodStart, (p) => {
    w.u32(p.height);
    w.u32(p.time);
  });
  const keys = [...c.outpoints.keys()].sort(ascending);
  w.u32(keys.length);
  for (const key of keys) {
    const o = c.outpoints.get(key)!;
    writeString(w, key);
    writeOption(w, o.confirmed, (x) => {
      w.u32(x.height);
      writeVarBytes(w, x.blockHash);
      w.u64(x.valueSat);
    });
    writeOption(w, o.spent, (x) => {
      w.u32(x.height);
      writeVarBytes(w, x.blockHash);
      writeVarBytes(w, x.txid);
    });
  }
}

function readChain(r: WireReader): ChainView {
  const network = readString(r);
  if (!Object.hasOwn(NETWORKS, network)) throw new CodecError(`signer state: unknown network ${network}`);
  const recent = [];
  for (let i = r.u32(); i > 0; i--) recent.push({ height: r.u32(), hash: readVarBytes(r), time: r.u32(), bits: r.u32() });
  if (recent.length === 0) throw new CodecError('signer state: a chain view without headers');
  const periodStart = readOption(r, () => ({ height: r.u32(), time: r.u32() }));
  const outpoints = new Map<string, OutpointStatus>();
  for (let i = r.u32(); i > 0; i--) {
    const key = readString(r);
    const confirmed = readOption(r, () => ({ height: r.u32(), blockHash: readVarBytes(r), valueSat: r.u64() }));
    const spent = readOption(r, () => ({ height: r.u32(), blockHash: readVarBytes(r), txid: readVarBytes(r) }));
    outpoints.set(key, { confirmed, spent });
  }
  return { network: network as NetworkName, recent, periodStart, outpoints };
}

export function readState(r: WireReader): SignerState {
  readVersion(r, 'signer state', STATE_CODEC_VERSION);
  const dev = { failPreapprove: r.bool(), noPreapproveCheck: r.bool(), warnOnOvergrind: r.bool() };
  const node = readOption(r, () => ({ wireVersion: r.u32(), bip32KeyVersion: { pub: r.u32(), priv: r.u32() }, chainHash: readVarBytes(r) })) ?? null;
  const preapprovals = r.u32();
  const count = r.u32();
  let channels = PersistentMap.empty<ChannelState>();
  for (let i = 0; i < count; i++) {
    const c = readChannel(r);
    channels = channels.set(channelKey(c.ref), c);
  }
  if (channels.size !== count) throw new CodecError(`signer state: ${count - channels.size} duplicate channels`);
  let state: SignerState = { ...initialState, dev, node, channels, preapprovals };
  let last = 0;
  while (!r.atEnd) {
    const at = r.offset;
    const section = r.u8();
    if (section <= last) throw new CodecError(`signer state: section ${section} at offset ${at} out of order`);
    last = section;
    if (section === CHAIN_SECTION) state = { ...state, chain: readChain(r) };
    else if (section === DEVICE_SECTION) state = { ...state, ...readDeviceSection(r) };
    else if (section === BALANCE_SECTION) state = { ...state, channels: readBalanceSection(r, state.channels) };
    else if (section === HTLC_SECTION) state = readHtlcSection(r, state);
    else if (section === HOLDER_TXID_SECTION) state = { ...state, channels: readHolderTxidSection(r, state.channels) };
    else throw new CodecError(`signer state: unknown section ${section} at offset ${at}`);
  }
  return state;
}

export function encodeState(state: SignerState): Uint8Array {
  const w = new WireWriter(1024);
  writeState(w, state);
  return w.finish().slice();
}

export const decodeState = (bytes: Uint8Array): SignerState => decodeWith('signer state', bytes, readState);

/** SHA-256 of the state's snapshot encoding: equal states, equal digests. */
export const stateDigest = (state: SignerState): Uint8Array => sha256(encodeState(state));

/** A request answered recently: what a redelivery of its id gets. */
export interface RecentReply {
  readonly id: bigint;
  readonly requestDigest: Uint8Array;
  readonly reply: Reply;
}

export interface SignerSnapshot {
  readonly state: SignerState;
  readonly recent: readonly RecentReply[];
  /** The last sequence number of each source of sourced records. */
  readonly sources: ReadonlyMap<string, bigint>;
}

export function encodeSnapshotBody(snapshot: SignerSnapshot): Uint8Array {
  const w = new WireWriter(1024);
  w.u8(SNAPSHOT_BODY_VERSION);
  writeVarBytes(w, encodeState(snapshot.state));
  w.u32(snapshot.recent.length);
  for (const r of snapshot.recent) {
    w.u64(r.id);
    w.bytes(r.requestDigest);
    writeReply(w, r.reply);
  }
  const sources = [...snapshot.sources.keys()].sort(ascending);
  w.u32(sources.length);
  for (const source of sources) {
    writeString(w, source);
    w.u64(snapshot.sources.get(source)!);
  }
  return w.finish().slice();
}

export const decodeSnapshotBody = (bytes: Uint8Array): SignerSnapshot =>
  decodeWith('snapshot', bytes, (r) => {
    const version = r.u8();
    if (version !== 1 && version !== SNAPSHOT_BODY_VERSION) throw new CodecError(`snapshot: unknown version ${version} (this build reads versions 1 and ${SNAPSHOT_BODY_VERSION})`);
    const state = decodeState(readVarBytes(r));
    const count = r.u32();
    const recent: RecentReply[] = [];
    for (let i = 0; i < count; i++) recent.push({ id: r.u64(), requestDigest: r.bytes(32), reply: readReply(r) });
    const sources = new Map<string, bigint>();
    const sourceCount = version === 1 ? 0 : r.u32();
    for (let i = 0; i < sourceCount; i++) sources.set(readString(r), r.u64());
    return { state, recent, sources };
  });
