/**
 * SignerState: everything the signer's decisions depend on besides its keys, and `apply`,
 * the fold that builds it from events (docs/design.md#the-signer-core). Immutable: apply returns a new state
 * sharing what did not change, so a state handed out is never modified behind anyone.
 */
import { toHex } from './bytes.js';
import type { ClientContext, Envelope } from './envelope.js';
import type { ChannelRef, ChannelSetUp, SignerEvent } from './events.js';
import { applyCommitmentEvent, type CommitmentState } from './handlers/commitment-state.js';
import { networkOfChainHash } from './chain/networks.js';
import { applyChainEvent, startView, type ChainView } from './chain/view.js';
import { authorize, NO_HTLCS, reindex, type AuthorizedPayment, type ChannelHtlcs, type ChannelShare } from './htlc-ledger.js';
import { PaymentWindow } from './payment-window.js';
import { PersistentMap } from './persistent-map.js';
import type { PolicyConfig } from './policy/policy.js';

export interface DevFlags {
  readonly failPreapprove: boolean;
  readonly noPreapproveCheck: boolean;
  readonly warnOnOvergrind: boolean;
}

export interface NodeSettings {
  readonly wireVersion: number;
  readonly bip32KeyVersion: { readonly pub: number; readonly priv: number };
  readonly chainHash: Uint8Array;
}

export interface ChannelState {
  readonly ref: ChannelRef;
  /** setup_channel's parameters, once lightningd has sent them. */
  readonly setup: Omit<ChannelSetUp, 'kind' | 'channel'> | undefined;
  /** Outpoints lock_outpoint reported buried, as "txid-hex:vout". */
  readonly lockedOutpoints: ReadonlySet<string>;
  /** Commitment history (handlers/commitment-state.ts); undefined until the first one. */
  readonly commitments: CommitmentState | undefined;
  /** HTLCs of the latest commitments (CommitmentHtlcsRecorded, htlc-ledger.ts); undefined while none. */
  readonly htlcs: ChannelHtlcs | undefined;
}

/**
 * A channel: every field present, always in this order, so every channel object has one shape
 * (the fold makes one per event; a one-shape object is what V8's inline caches and XS's
 * property lookups are fast on, where optional fields made a shape per combination).
 */
export const channelState = (
  ref: ChannelRef,
  setup: ChannelState['setup'],
  lockedOutpoints: ReadonlySet<string>,
  commitments: CommitmentState | undefined,
  htlcs: ChannelHtlcs | undefined,
): ChannelState => ({ ref, setup, lockedOutpoints, commitments, htlcs });

/** A channel lightningd has just created (or starts afresh). */
const newChannel = (ref: ChannelRef): ChannelState => channelState(ref, undefined, new Set<string>(), undefined, undefined);

export interface SignerState {
  readonly dev: DevFlags;
  /** Set by hsmd_init; null until lightningd has initialised us. */
  readonly node: NodeSettings | null;
  /** Channels by `channelKey`; persistent, so an event costs the same with 1 or 10,000 channels. */
  readonly channels: PersistentMap<ChannelState>;
  readonly preapprovals: number;
  /** What the device checked of the chain (chain/view.ts); undefined until it is shown a header. */
  readonly chain: ChainView | undefined;
  /** The device's own policy (PolicyChanged); undefined: the host's configured one. */
  readonly policy: PolicyConfig | undefined;
  /** SHA-256 of the policy file last applied, so an unchanged file is not applied again. */
  readonly policyFileDigest: Uint8Array | undefined;
  /** The last accepted control command's nonce (0: none yet); the next must be larger. */
  readonly controlNonce: bigint;
  /** One-time approvals of payments above the velocity limit, by payment hash hex. */
  readonly approvals: ReadonlySet<string>;
  /** Payments within the velocity window (persistent: a payment costs O(log n) however many). */
  readonly payments: PaymentWindow;
  /** Payments authorized by payment hash hex (htlc-ledger.ts), for policy-htlc-payment-approved. */
  readonly authorizedPayments: PersistentMap<AuthorizedPayment>;
  /** The channels' HTLCs by payment hash hex (htlc-ledger.ts); derived from ChannelState.htlcs. */
  readonly htlcIndex: PersistentMap<readonly ChannelShare[]>;
}

export const initialState: SignerState = Object.freeze({
  dev: Object.freeze({ failPreapprove: false, noPreapproveCheck: false, warnOnOvergrind: false }),
  node: null,
  channels: PersistentMap.empty<ChannelState>(),
  preapprovals: 0,
  chain: undefined,
  policy: undefined,
  policyFileDigest: undefined,
  controlNonce: 0n,
  approvals: new Set<string>(),
  payments: PaymentWindow.empty,
  authorizedPayments: PersistentMap.empty<AuthorizedPayment>(),
  htlcIndex: PersistentMap.empty<readonly ChannelShare[]>(),
});

/**
 * Each reference's key, made once: a rebuild's events share reference objects (event codec).
 * Made on first use, not at load: a preloaded WeakMap takes no entries on the device
 * (docs/device-memory.md "Built by mcconfig"); so is clientRefs.
 */
let keys: WeakMap<ChannelRef, string> | undefined;

/** The map key of a channel: peer id hex and dbid. */
export function channelKey(ref: ChannelRef): string {
  keys ??= new WeakMap();
  let key = keys.get(ref);
  if (key === undefined) {
    key = `${toHex(ref.peer)}/${ref.dbid}`;
    keys.set(ref, key);
  }
  return key;
}

/** One ChannelRef per connection's context, so that its map key (channelKey) is made once, not per request. */
let clientRefs: WeakMap<ClientContext, ChannelRef> | undefined;

/** Per-channel requests from a channel daemon act on that connection's channel. */
export function clientChannel(env: Envelope): ChannelRef {
  clientRefs ??= new WeakMap();
  let ref = clientRefs.get(env.client);
  if (ref === undefined) {
    ref = { peer: env.client.peer, dbid: env.client.dbid };
    clientRefs.set(env.client, ref);
  }
  return ref;
}

/** Folds one event into the state. Total: every event kind is handled. */
export function apply(state: SignerState, event: SignerEvent): SignerState {
  switch (event.kind) {
    case 'DevPreinitialized': {
      const { failPreapprove, noPreapproveCheck, warnOnOvergrind } = event;
      return { ...state, dev: { failPreapprove, noPreapproveCheck, warnOnOvergrind } };
    }
    case 'NodeInitialized': {
      const { wireVersion, bip32KeyVersion, chainHash } = event;
      return { ...state, node: { wireVersion, bip32KeyVersion, chainHash } };
    }
    case 'ChannelCreated':
      // new_channel for a dbid lightningd reuses starts that channel afresh.
      return withChannel(withoutHtlcs(state, event.channel), event.channel, () => newChannel(event.channel));
    case 'ChannelSetUp': {
      const { kind: _kind, channel, ...setup } = event;
      return withChannel(state, channel, (c) => channelState(c.ref, setup, c.lockedOutpoints, c.commitments, c.htlcs));
    }
    case 'ChannelForgotten': {
      const key = channelKey(event.channel);
      const forgotten = state.channels.get(key);
      // Keep what says which holder commitments were revoked: they must stay unsignable
      // after lightningd forgets the channel (policy-commitment-revoked-holder; found by
      // the property tests). Everything else about the channel goes.
      const channels =
        forgotten?.commitments?.holderRevokedThrough !== undefined
          ? state.channels.set(key, channelState(forgotten.ref, undefined, new Set(), forgotten.commitments, undefined))
          : state.channels.delete(key);
      const htlcIndex = forgotten?.htlcs ? reindex(state.htlcIndex, key, forgotten.htlcs, NO_HTLCS) : state.htlcIndex;
      return { ...state, channels, htlcIndex };
    }
    case 'OutpointLocked':
      return withChannel(state, event.channel, (c) =>
        channelState(c.ref, c.setup, new Set(c.lockedOutpoints).add(`${toHex(event.txid)}:${event.vout}`), c.commitments, c.htlcs),
      );
    case 'HolderCommitmentValidated':
    case 'HolderCommitmentTxidRecorded':
    case 'HolderCommitmentRevoked':
    case 'CounterpartyCommitmentSigned':
    case 'CounterpartySecretStored':
    case 'CommitmentBalanceRecorded':
      return withChannel(state, event.channel, (c) => channelState(c.ref, c.setup, c.lockedOutpoints, applyCommitmentEvent(c.commitments, event), c.htlcs));
    case 'CommitmentHtlcsRecorded': {
      const before = state.channels.get(channelKey(event.channel))?.htlcs ?? NO_HTLCS;
      const after = event.side === 'holder' ? { holder: event.htlcs, counterparty: before.counterparty } : { holder: before.holder, counterparty: event.htlcs };
      const htlcIndex = reindex(state.htlcIndex, channelKey(event.channel), before, after);
      return withChannel(state, event.channel, (c) => withHtlcs(c, after), htlcIndex);
    }
    case 'PaymentPreapproved':
      return { ...state, preapprovals: state.preapprovals + 1 };
    case 'PolicyWarned':
      return state; // a fact for the audit trail; decisions do not depend on it
    case 'ChainTipAdvanced':
    case 'ChainReorganized':
    case 'OutpointConfirmed':
    case 'OutpointSpent':
      return { ...state, chain: applyChainEvent(state.chain ?? chainStart(state), event) };
    case 'PolicyRefused':
      return state; // facts for the audit trail; decisions do not depend on them
    case 'PolicyChanged':
      return { ...state, policy: event.policy, policyFileDigest: event.fileDigest.length > 0 ? event.fileDigest : state.policyFileDigest };
    case 'ControlAccepted':
      return { ...state, controlNonce: event.nonce };
    case 'PaymentApprovalGranted':
      return { ...state, approvals: new Set(state.approvals).add(toHex(event.paymentHash)) };
    case 'PaymentAuthorized': {
      const kept = state.payments.after(event.at - event.windowSec);
      // Only payments within the limit count towards it; the others passed beyond it.
      const payments = event.via === 'limit' ? kept.add(event.at, event.amountMsat) : kept;
      const authorizedPayments = authorize(state.authorizedPayments, state.htlcIndex, event);
      if (event.via !== 'approval') return { ...state, payments, authorizedPayments };
      const approvals = new Set(state.approvals);
      approvals.delete(toHex(event.paymentHash));
      return { ...state, payments, approvals, authorizedPayments };
    }
  }
}

/** Replaces one channel, creating it if lightningd never sent new_channel for it. */
function withChannel(
  state: SignerState,
  ref: ChannelRef,
  update: (current: ChannelState) => ChannelState,
  htlcIndex = state.htlcIndex,
): SignerState {
  const channels = state.channels.update(channelKey(ref), (current) => update(current ?? newChannel(ref)));
  return withChannels(state, channels, htlcIndex);
}

/**
 * The state with new channels (and HTLC index), written field by field: the fold does this
 * once per channel event, and a literal of known shape costs less than a spread of twelve fields.
 */
const withChannels = (s: SignerState, channels: SignerState['channels'], htlcIndex: SignerState['htlcIndex']): SignerState => ({
  dev: s.dev,
  node: s.node,
  channels,
  preapprovals: s.preapprovals,
  chain: s.chain,
  policy: s.policy,
  policyFileDigest: s.policyFileDigest,
  controlNonce: s.controlNonce,
  approvals: s.approvals,
  payments: s.payments,
  authorizedPayments: s.authorizedPayments,
  htlcIndex,
});

/** The channel with these HTLCs; `htlcs` undefined while both commitments have none (so the snapshot need not say so). */
export const withHtlcs = (c: ChannelState, h: ChannelHtlcs): ChannelState =>
  channelState(c.ref, c.setup, c.lockedOutpoints, c.commitments, h.holder.length === 0 && h.counterparty.length === 0 ? undefined : h);

/** The state with a channel's HTLCs gone from the index and the channel (it is forgotten or starts afresh). */
function withoutHtlcs(state: SignerState, ref: ChannelRef): SignerState {
  const key = channelKey(ref);
  const c = state.channels.get(key);
  if (c?.htlcs === undefined) return state;
  return { ...state, htlcIndex: reindex(state.htlcIndex, key, c.htlcs, NO_HTLCS), channels: state.channels.set(key, withHtlcs(c, NO_HTLCS)) };
}

/** The view a first chain event starts from: the checkpoint of hsmd_init's network. */
function chainStart(state: SignerState): ChainView {
  const network = state.node && networkOfChainHash(state.node.chainHash);
  // decideChain refuses chain updates before this is known, so a journal never has them.
  if (!network) throw new Error('a chain event before hsmd_init named a known network');
  return startView(network.name);
}
