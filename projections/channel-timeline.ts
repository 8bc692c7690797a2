/**
 * Per-channel timelines (docs/design.md#logs-and-projections projections; what `sphinx-audit channel` shows): for each
 * channel (peer, dbid), in log order, what the signer did for it: created, set up, outpoints
 * locked, each commitment validated/signed/revoked with its number (and HTLC count where
 * known), counterparty secrets stored, mutual closes, splices, sweeps and HTLC transactions
 * signed, policy refusals and warnings, forgotten.
 *
 * Two pure folds build the same view:
 * - over broker-log records (`timelineFromLog`): the request is decoded (hsmd_wire.csv) and
 *   the entry written when its reply arrives, so it carries the outcome, the request time
 *   `at` (unix ms) and the latency; requests still awaiting a reply stay in `pending`;
 * - over journal records (`timelineFromJournal`): the entries come from the events. Journal
 *   records carry no time, no client and not the request, so those entries have `at`
 *   undefined and no HTLC counts, and signatures that change no state (closes, sweeps, HTLC
 *   transactions) do not appear; a policy refusal is shown on the node, not a channel.
 */
import type { Reply } from '../signer/decision.js';
import type { ChannelRef, SignerEvent } from '../signer/events.js';
import type { ClientContext } from '../signer/envelope.js';
import { hashHex } from '../signer/chain/track.js';
import { channelKey } from '../signer/state.js';
import { decodeMessage, type HsmdMessage } from '../signer/wire/messages.js';
import type { JournalRecord } from '../log/journal/record.js';
import { type List, push, toArray, withEntry, withoutEntry } from './chain.js';
import { isError, isPolicyRefusal, messageName, policyRefusalOf, type StoredLogRecord } from './records.js';

export type SweepKind = 'penalty' | 'delayed-payment' | 'remote-htlc' | 'local-htlc';

/** What happened; commitment numbers are CLN's (from 0). */
export type TimelineDetail =
  | { readonly kind: 'created' }
  | {
      readonly kind: 'set-up';
      readonly isOutbound: boolean;
      readonly channelValueSat: bigint;
      readonly pushValueMsat: bigint;
      /** "txid:vout", the txid in display order as bitcoind and block explorers print it. */
      readonly fundingOutpoint: string;
      readonly localToSelfDelay: number;
      readonly remoteToSelfDelay: number;
    }
  | { readonly kind: 'outpoint-locked'; readonly outpoint: string }
  /** validate_commitment_tx: the peer's signatures on our commitment accepted. */
  | { readonly kind: 'holder-commitment-validated'; readonly commitNum: bigint; readonly htlcs: number | undefined }
  /** sign_commitment_tx: we signed our own commitment (a unilateral close). */
  | { readonly kind: 'holder-commitment-signed'; readonly commitNum: bigint }
  | { readonly kind: 'holder-commitment-revoked'; readonly commitNum: bigint }
  | { readonly kind: 'counterparty-commitment-signed'; readonly commitNum: bigint; readonly htlcs: number | undefined }
  /** validate_revocation: the peer's secret for its commitment stored. */
  | { readonly kind: 'counterparty-secret-stored'; readonly commitNum: bigint }
  /** sign_remote_htlc_tx: our signature on an HTLC transaction of the peer's commitment. */
  | { readonly kind: 'counterparty-htlc-tx-signed' }
  | { readonly kind: 'mutual-close-signed' }
  | { readonly kind: 'splice-signed' }
  | { readonly kind: 'sweep-signed'; readonly sweep: SweepKind; readonly commitNum: bigint | undefined }
  /** sign_anchorspend / sign_htlc_tx_mingle: wallet inputs added to a channel's transaction. */
  | { readonly kind: 'wallet-spend-signed'; readonly request: string }
  | { readonly kind: 'forgotten' }
  | { readonly kind: 'policy-refused'; readonly request: string | undefined; readonly description: string }
  | { readonly kind: 'policy-warned'; readonly policy: string; readonly detail: string }
  /** Any other refusal or failure of a channel's request. */
  | { readonly kind: 'refused'; readonly request: string; readonly reply: Reply }
  /** A broker-log error record about a pending request of this channel. */
  | { readonly kind: 'error'; readonly request: string; readonly text: string };

export interface TimelineEntry {
  /** The request id (broker envelope id = journal record id). */
  readonly id: bigint;
  /** Who asked: the client connection the broker logged the request on; undefined from a journal (it names no client). */
  readonly client: ClientContext | undefined;
  /** Unix ms the broker received the request; undefined from a journal (it has no times). */
  readonly at: number | undefined;
  /** Broker-log sequence numbers of the request and the reply (or error); undefined from a journal. */
  readonly requestSeq: bigint | undefined;
  readonly replySeq: bigint | undefined;
  readonly latencyMicros: number | undefined;
  readonly what: TimelineDetail;
}

export interface ChannelTimeline {
  readonly ref: ChannelRef;
  readonly entries: List<TimelineEntry>;
}

/** A broker-log request awaiting its reply. */
export interface PendingRequest {
  readonly seq: bigint;
  readonly at: number;
  readonly client: ClientContext;
  readonly channel: ChannelRef | undefined;
  readonly name: string;
  readonly message: HsmdMessage | undefined;
}

export interface TimelineView {
  /** By channelKey (peer hex / dbid). */
  readonly channels: ReadonlyMap<string, ChannelTimeline>;
  /** Entries for no channel: policy refusals and warnings of node-wide requests. */
  readonly node: List<TimelineEntry>;
  /** Broker log: requests not answered yet, by id (an audit's "never answered"). */
  readonly pending: ReadonlyMap<bigint, PendingRequest>;
}

export const emptyTimeline: TimelineView = { channels: new Map(), node: undefined, pending: new Map() };

/** A channel's entries in log order (empty if it never appeared). */
export const timelineOf = (view: TimelineView, ref: ChannelRef): TimelineEntry[] => toArray(view.channels.get(channelKey(ref))?.entries);

/** The node-wide entries in log order. */
export const nodeEntries = (view: TimelineView): TimelineEntry[] => toArray(view.node);

function addEntry(view: TimelineView, channel: ChannelRef | undefined, entry: TimelineEntry): TimelineView {
  if (channel === undefined) return { ...view, node: push(view.node, entry) };
  const key = channelKey(channel);
  const current = view.channels.get(key);
  const ref = current?.ref ?? channel;
  return { ...view, channels: withEntry(view.channels, key, { ref, entries: push(current?.entries, entry) }) };
}

const outpoint = (txid: Uint8Array, vout: number): string => `${hashHex(txid)}:${vout}`;

/** The channel a request is about: its client's (peer, dbid), or the one a master request names. */
function channelOf(client: { peer: Uint8Array; dbid: bigint }, m: HsmdMessage | undefined): ChannelRef | undefined {
  if (client.dbid !== 0n) return { peer: client.peer, dbid: client.dbid };
  switch (m?.name) {
    case 'hsmd_new_channel':
    case 'hsmd_forget_channel':
      return { peer: m.id, dbid: m.dbid };
    case 'hsmd_sign_commitment_tx':
      return { peer: m.peer_id, dbid: m.channel_dbid };
    case 'hsmd_sign_any_delayed_payment_to_us':
    case 'hsmd_sign_any_remote_htlc_to_us':
    case 'hsmd_sign_any_penalty_to_us':
    case 'hsmd_sign_any_local_htlc_tx':
    case 'hsmd_sign_anchorspend':
    case 'hsmd_sign_htlc_tx_mingle':
      return { peer: m.peerid, dbid: m.channel_dbid };
    default:
      return undefined;
  }
}

/** The entry a successfully answered request makes, if it is one a timeline shows. */
function detailOf(m: HsmdMessage): TimelineDetail | undefined {
  switch (m.name) {
    case 'hsmd_new_channel':
      return { kind: 'created' };
    case 'hsmd_setup_channel':
      return {
        kind: 'set-up',
        isOutbound: m.is_outbound,
        channelValueSat: m.channel_value,
        pushValueMsat: m.push_value,
        fundingOutpoint: outpoint(m.funding_txid, m.funding_txout),
        localToSelfDelay: m.local_to_self_delay,
        remoteToSelfDelay: m.remote_to_self_delay,
      };
    case 'hsmd_lock_outpoint':
      return { kind: 'outpoint-locked', outpoint: outpoint(m.funding_txid, m.funding_txout) };
    case 'hsmd_validate_commitment_tx':
      return { kind: 'holder-commitment-validated', commitNum: m.commit_num, htlcs: m.htlcs.length };
    case 'hsmd_sign_commitment_tx':
      return { kind: 'holder-commitment-signed', commitNum: m.commit_num };
    case 'hsmd_revoke_commitment_tx':
      return { kind: 'holder-commitment-revoked', commitNum: m.commit_num };
    case 'hsmd_sign_remote_commitment_tx':
      return { kind: 'counterparty-commitment-signed', commitNum: m.commit_num, htlcs: m.htlcs.length };
    case 'hsmd_validate_revocation':
      return { kind: 'counterparty-secret-stored', commitNum: m.revoke_num };
    case 'hsmd_sign_remote_htlc_tx':
      return { kind: 'counterparty-htlc-tx-signed' };
    case 'hsmd_sign_mutual_close_tx':
      return { kind: 'mutual-close-signed' };
    case 'hsmd_sign_splice_tx':
      return { kind: 'splice-signed' };
    case 'hsmd_sign_penalty_to_us':
    case 'hsmd_sign_any_penalty_to_us':
      return { kind: 'sweep-signed', sweep: 'penalty', commitNum: undefined };
    case 'hsmd_sign_delayed_payment_to_us':
    case 'hsmd_sign_any_delayed_payment_to_us':
      return { kind: 'sweep-signed', sweep: 'delayed-payment', commitNum: m.commit_num };
    case 'hsmd_sign_remote_htlc_to_us':
    case 'hsmd_sign_any_remote_htlc_to_us':
      return { kind: 'sweep-signed', sweep: 'remote-htlc', commitNum: undefined };
    case 'hsmd_sign_local_htlc_tx':
    case 'hsmd_sign_any_local_htlc_tx':
      return { kind: 'sweep-signed', sweep: 'local-htlc', commitNum: m.commit_num };
    case 'hsmd_sign_anchorspend':
    case 'hsmd_sign_htlc_tx_mingle':
      return { kind: 'wallet-spend-signed', request: m.name };
    case 'hsmd_forget_channel':
      return { kind: 'forgotten' };
    default:
      return undefined;
  }
}

function decodeOrUndefined(frame: Uint8Array): HsmdMessage | undefined {
  try {
    return decodeMessage(frame);
  } catch {
    return undefined; // the signer refused it too; the reply says why
  }
}

/** Folds one broker-log record into the timelines. */
export function timelineFromLog(view: TimelineView, { seq, record: r }: StoredLogRecord): TimelineView {
  switch (r.kind) {
    case 'request-received': {
      const message = decodeOrUndefined(r.message);
      const pending: PendingRequest = { seq, at: r.at, client: r.client, channel: channelOf(r.client, message), name: messageName(r.type), message };
      return { ...view, pending: withEntry(view.pending, r.id, pending) };
    }
    case 'reply-received': {
      const p = view.pending.get(r.id);
      if (p === undefined) return view; // a reply to a request before this log's start
      const rest = { ...view, pending: withoutEntry(view.pending, r.id) };
      const entry = (what: TimelineDetail): TimelineEntry =>
        ({ id: r.id, client: p.client, at: p.at, requestSeq: p.seq, replySeq: seq, latencyMicros: r.latencyMicros, what });
      const description = policyRefusalOf(r.reply);
      if (description !== undefined) return addEntry(rest, p.channel, entry({ kind: 'policy-refused', request: p.name, description }));
      if (p.channel === undefined) return rest;
      if (isError(r.reply)) return addEntry(rest, p.channel, entry({ kind: 'refused', request: p.name, reply: r.reply }));
      const what = p.message && detailOf(p.message);
      return what === undefined ? rest : addEntry(rest, p.channel, entry(what));
    }
    case 'error': {
      const p = r.id === undefined ? undefined : view.pending.get(r.id);
      if (p?.channel === undefined) return view;
      const what: TimelineDetail = { kind: 'error', request: p.name, text: r.text };
      return addEntry(view, p.channel, { id: r.id!, client: p.client, at: r.at, requestSeq: p.seq, replySeq: seq, latencyMicros: undefined, what });
    }
    case 'signer-connected':
    case 'signer-disconnected':
    case 'unlogged-requests':
      return view;
  }
}

/** The entry an event makes (events without a channel: PolicyWarned, node-wide ones). */
function eventDetail(e: SignerEvent): TimelineDetail | undefined {
  switch (e.kind) {
    case 'ChannelCreated':
      return { kind: 'created' };
    case 'ChannelSetUp':
      return {
        kind: 'set-up',
        isOutbound: e.isOutbound,
        channelValueSat: e.channelValueSat,
        pushValueMsat: e.pushValueMsat,
        fundingOutpoint: outpoint(e.fundingTxid, e.fundingTxout),
        localToSelfDelay: e.localToSelfDelay,
        remoteToSelfDelay: e.remoteToSelfDelay,
      };
    case 'OutpointLocked':
      return { kind: 'outpoint-locked', outpoint: outpoint(e.txid, e.vout) };
    case 'HolderCommitmentValidated':
      return { kind: 'holder-commitment-validated', commitNum: e.commitNum, htlcs: undefined };
    case 'HolderCommitmentRevoked':
      return { kind: 'holder-commitment-revoked', commitNum: e.commitNum };
    case 'CounterpartyCommitmentSigned':
      return { kind: 'counterparty-commitment-signed', commitNum: e.commitNum, htlcs: undefined };
    case 'CounterpartySecretStored':
      return { kind: 'counterparty-secret-stored', commitNum: e.commitNum };
    case 'ChannelForgotten':
      return { kind: 'forgotten' };
    case 'PolicyWarned':
      return { kind: 'policy-warned', policy: e.policy, detail: e.detail };
    // A refusal whose reply carries no reason (a preapproval): the event has the rule and why.
    case 'PolicyRefused':
      return { kind: 'policy-refused', request: undefined, description: `${e.policy}: ${e.detail}` };
    case 'DevPreinitialized':
    case 'NodeInitialized':
    case 'PaymentPreapproved':
      return undefined;
  }
}

/** Folds one journal record into the timelines (see the module comment for what it lacks). */
export function timelineFromJournal(view: TimelineView, record: JournalRecord): TimelineView {
  const entry = (what: TimelineDetail): TimelineEntry =>
    ({ id: record.id, client: undefined, at: undefined, requestSeq: undefined, replySeq: undefined, latencyMicros: undefined, what });
  // A warning belongs to the channel the same request changed, if any.
  const channel = record.events.map((e) => ('channel' in e ? e.channel : undefined)).find((c) => c !== undefined);
  let next = view;
  for (const e of record.events) {
    const what = eventDetail(e);
    if (what !== undefined) next = addEntry(next, 'channel' in e ? e.channel : channel, entry(what));
  }
  if (isPolicyRefusal(record.reply)) {
    const description = (record.reply as { description: string }).description;
    next = addEntry(next, undefined, entry({ kind: 'policy-refused', request: undefined, description }));
  }
  return next;
}
