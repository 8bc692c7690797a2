/**
 * decideChain: what the broker shows the device (updates.ts) in, chain events out, or a
 * named refusal with nothing applied (docs/chain.md). Pure, like decide: the device
 * journals the events through its write-ahead core and folds them into the state.
 *
 * Refusals, by name:
 * - chain-not-initialized: no hsmd_init yet, or a chain hash of no known network;
 * - chain-header-out-of-order: a header above the tip + 1 (a gap);
 * - chain-header-not-linking: a header whose parent is not the header below it;
 * - chain-header-bad-pow / -bad-difficulty / -bad-time: difficulty.ts;
 * - chain-reorg-too-deep: a branch forking below the window (MAX_REORG_DEPTH);
 * - chain-reorg-less-work: a branch with no more work than the headers it would replace;
 * - chain-proof-invalid: a merkle proof that does not parse or hash to its header's root;
 * - chain-proof-unknown-block: a proof for a block not in the device's chain at that height;
 * - chain-tx-txid-mismatch: a transaction that is not the one the proof proves;
 * - chain-tx-not-watched: a transaction that neither creates nor spends a watched outpoint;
 * - chain-update-malformed: a header or transaction that does not parse.
 */
import { equal, toHex } from '../bytes.js';
import { parseTx, txid as txidOf, type Tx } from '../bolt3/tx.js';
import type { ChainEvent, SignerEvent } from '../events.js';
import type { SignerState } from '../state.js';
import { headerFault } from './difficulty.js';
import { bitsToTarget, parseHeader, workOf, type BlockHeader } from './header.js';
import { MerkleProofError, parseMerkleProof } from './merkle-proof.js';
import { NETWORKS, networkOfChainHash, type NetworkRules } from './networks.js';
import type { ChainUpdate } from './updates.js';
import { applyChainEvent, headerAt, MAX_REORG_DEPTH, outpointKey, startView, tipOf, type ChainView } from './view.js';

export const CHAIN_REFUSALS = [
  'chain-not-initialized',
  'chain-header-out-of-order',
  'chain-header-not-linking',
  'chain-header-bad-pow',
  'chain-header-bad-difficulty',
  'chain-header-bad-time',
  'chain-reorg-too-deep',
  'chain-reorg-less-work',
  'chain-proof-invalid',
  'chain-proof-unknown-block',
  'chain-tx-txid-mismatch',
  'chain-tx-not-watched',
  'chain-update-malformed',
] as const;
export type ChainRefusalName = (typeof CHAIN_REFUSALS)[number];

export interface ChainRefusal {
  readonly name: ChainRefusalName;
  readonly detail: string;
}

export type ChainDecision = { readonly ok: true; readonly events: readonly ChainEvent[] } | { readonly ok: false; readonly refusal: ChainRefusal };

/** An outpoint the device watches: a channel's funding outpoint from setup_channel. */
export interface WatchedOutpoint {
  readonly txid: Uint8Array;
  readonly vout: number;
}

/** The funding outpoints of the channels lightningd set up and has not forgotten, by outpointKey. */
export function watchedOutpoints(state: SignerState): ReadonlyMap<string, WatchedOutpoint> {
  const watched = new Map<string, WatchedOutpoint>();
  for (const c of state.channels.values()) {
    if (c.setup) watched.set(outpointKey(c.setup.fundingTxid, c.setup.fundingTxout), { txid: c.setup.fundingTxid, vout: c.setup.fundingTxout });
  }
  return watched;
}

/** What the broker follows for a device, as one comparable string: its network and watched outpoints. */
export const followedKey = (state: SignerState): string => `${chainRules(state)?.name}|${[...watchedOutpoints(state).keys()].sort().join(',')}`;

/**
 * Which events can change what the broker follows for a device (followedKey: chainRules and
 * watchedOutpoints): the node's chain hash, the chain view, a channel's setup (set by
 * ChannelSetUp, cleared when lightningd starts a dbid afresh with ChannelCreated) or the
 * channel itself (ChannelForgotten). Every kind says, so a new one does not compile until it
 * does; the device compares what it follows only after a request with one of these
 * (firmware/app/device.ts), instead of after every request.
 */
const CHANGES_FOLLOWING: Readonly<Record<SignerEvent['kind'], boolean>> = {
  DevPreinitialized: false,
  NodeInitialized: true,
  ChannelCreated: true,
  ChannelSetUp: true,
  ChannelForgotten: true,
  OutpointLocked: false,
  PaymentPreapproved: false,
  HolderCommitmentValidated: false,
  HolderCommitmentTxidRecorded: false,
  HolderCommitmentRevoked: false,
  CounterpartyCommitmentSigned: false,
  CounterpartySecretStored: false,
  CommitmentBalanceRecorded: false,
  CommitmentHtlcsRecorded: false,
  PolicyWarned: false,
  ChainTipAdvanced: true,
  ChainReorganized: true,
  OutpointConfirmed: true,
  OutpointSpent: true,
  PolicyChanged: false,
  ControlAccepted: false,
  PaymentApprovalGranted: false,
  PaymentAuthorized: false,
  PolicyRefused: false,
};

/** Whether `event` can change chainRules or watchedOutpoints (CHANGES_FOLLOWING). */
export const changesFollowing = (event: SignerEvent): boolean => CHANGES_FOLLOWING[event.kind];

class Refused extends Error {
  constructor(readonly refusal: ChainRefusal) {
    super(`${refusal.name}: ${refusal.detail}`);
  }
}
const refuse = (name: ChainRefusalName, detail: string): never => {
  throw new Refused({ name, detail });
};

/** The network of this state's chain view, or of hsmd_init's chain hash. */
export function chainRules(state: SignerState): NetworkRules | undefined {
  if (state.chain) return NETWORKS[state.chain.network];
  return state.node ? networkOfChainHash(state.node.chainHash) : undefined;
}

/** Checks every update in order; all of their events, or the first refusal and none. */
export function decideChain(state: SignerState, updates: readonly ChainUpdate[]): ChainDecision {
  const rules = chainRules(state);
  if (!rules) {
    const why = state.node ? `chain hash ${toHex(state.node.chainHash)} is no network this device knows` : 'hsmd_init has not named the network yet';
    return { ok: false, refusal: { name: 'chain-not-initialized', detail: why } };
  }
  const watched = watchedOutpoints(state);
  const step = new Stepper(rules, state.chain ?? startView(rules.name), watched);
  try {
    for (const u of updates) {
      if (u.kind === 'headers') step.headers(u.firstHeight, u.headers);
      else step.transaction(u.height, u.proof, u.tx);
    }
  } catch (e) {
    if (e instanceof Refused) return { ok: false, refusal: e.refusal };
    throw e;
  }
  return { ok: true, events: step.events };
}

/** Accumulates events over a working copy of the view. */
class Stepper {
  readonly events: ChainEvent[] = [];

  constructor(
    private readonly rules: NetworkRules,
    private view: ChainView,
    private readonly watched: ReadonlyMap<string, WatchedOutpoint>,
  ) {}

  #emit(e: ChainEvent): void {
    this.events.push(e);
    this.view = applyChainEvent(this.view, e);
  }

  headers(firstHeight: number, raws: readonly Uint8Array[]): void {
    const headers = raws.map((raw, i) => {
      try {
        return parseHeader(raw);
      } catch (e) {
        return refuse('chain-update-malformed', `header ${i}: ${(e as Error).message}`);
      }
    });
    // Headers the device already has at those heights are a resend: skip them.
    let i = 0;
    while (i < headers.length && equalAt(this.view, firstHeight + i, headers[i]!)) i++;
    if (i === headers.length) return;
    const height = firstHeight + i;
    const tip = tipOf(this.view);
    if (height > tip.height + 1) refuse('chain-header-out-of-order', `header for height ${height}, but the tip is at ${tip.height}`);
    const parent = headerAt(this.view, height - 1);
    if (!parent) refuse('chain-reorg-too-deep', `a branch from height ${height - 1}, below the ${this.view.recent.length} headers kept (tip ${tip.height})`);
    const branch = headers.slice(i).map((header, k) => ({ header, raw: raws[i + k]! }));
    if (height <= tip.height) this.#reorganize(height, branch);
    else branch.forEach((b, k) => this.#connect(height + k, b.header, b.raw));
  }

  #connect(height: number, header: BlockHeader, raw: Uint8Array): void {
    const parent = tipOf(this.view);
    if (!equal(header.prevHash, parent.hash)) {
      refuse('chain-header-not-linking', `header ${hashHex(header.hash)} at height ${height} names parent ${hashHex(header.prevHash)}, not ${hashHex(parent.hash)}`);
    }
    const fault = headerFault(this.rules, this.view, height, header);
    if (fault) refuse(fault.name, `header ${hashHex(header.hash)} at height ${height}: ${fault.detail}`);
    this.#emit({ kind: 'ChainTipAdvanced', height, header: raw.slice() });
  }

  #reorganize(height: number, branch: readonly { header: BlockHeader; raw: Uint8Array }[]): void {
    const tip = tipOf(this.view);
    const forkHeight = height - 1;
    const depth = tip.height - forkHeight;
    if (depth > MAX_REORG_DEPTH) refuse('chain-reorg-too-deep', `a branch from height ${forkHeight} gives up ${depth} headers (at most ${MAX_REORG_DEPTH})`);
    const oldWork = this.view.recent.filter((k) => k.height > forkHeight).reduce((w, k) => w + workOf(bitsToTarget(k.bits)!), 0n);
    const newWork = branch.reduce((w, b) => w + workOf(bitsToTarget(b.header.bits) ?? 0n), 0n);
    if (newWork <= oldWork) {
      refuse('chain-reorg-less-work', `a branch of ${branch.length} headers from height ${forkHeight} has no more work than the ${depth} it would replace`);
    }
    this.#emit({ kind: 'ChainReorganized', forkHeight, oldTipHash: tip.hash, disconnected: depth });
    branch.forEach((b, k) => this.#connect(height + k, b.header, b.raw));
  }

  transaction(height: number, proofBytes: Uint8Array, rawTx: Uint8Array): void {
    let proof;
    try {
      proof = parseMerkleProof(proofBytes);
    } catch (e) {
      if (e instanceof MerkleProofError || e instanceof RangeError) refuse('chain-proof-invalid', e.message);
      throw e;
    }
    const known = headerAt(this.view, height);
    if (!known || !equal(known.hash, proof.header.hash)) {
      refuse('chain-proof-unknown-block', `proof for block ${hashHex(proof.header.hash)}, which is not the device's block at height ${height}`);
    }
    if (!equal(proof.root, proof.header.merkleRoot)) {
      refuse('chain-proof-invalid', `the partial merkle tree hashes to ${hashHex(proof.root)}, not the block's root ${hashHex(proof.header.merkleRoot)}`);
    }
    let tx: Tx;
    try {
      tx = parseTx(rawTx);
    } catch (e) {
      return refuse('chain-update-malformed', `transaction: ${(e as Error).message}`);
    }
    const id = txidOf(tx);
    if (!proof.matched.some((m) => equal(m, id))) {
      refuse('chain-tx-txid-mismatch', `transaction ${hashHex(id)} is not among those the proof proves (${proof.matched.map(hashHex).join(', ')})`);
    }
    const blockHash = known!.hash;
    let involved = false;
    tx.outputs.forEach((o, vout) => {
      const key = outpointKey(id, vout);
      if (!this.watched.has(key)) return;
      involved = true;
      const c = this.view.outpoints.get(key)?.confirmed;
      if (c && c.height === height && equal(c.blockHash, blockHash)) return; // shown before
      this.#emit({ kind: 'OutpointConfirmed', txid: id, vout, height, blockHash, valueSat: o.amountSat });
    });
    for (const input of tx.inputs) {
      const key = outpointKey(input.prevTxid, input.prevVout);
      if (!this.watched.has(key)) continue;
      involved = true;
      const s = this.view.outpoints.get(key)?.spent;
      if (s && s.height === height && equal(s.blockHash, blockHash)) continue;
      this.#emit({ kind: 'OutpointSpent', txid: input.prevTxid, vout: input.prevVout, height, blockHash, spendingTxid: id });
    }
    if (!involved) refuse('chain-tx-not-watched', `transaction ${hashHex(id)} neither creates nor spends an outpoint this device watches`);
  }
}

const equalAt = (view: ChainView, height: number, header: BlockHeader): boolean => {
  const known = headerAt(view, height);
  return known !== undefined && equal(known.hash, header.hash);
};

/** Display order (as bitcoind prints hashes). */
export const hashHex = (hash: Uint8Array): string => toHex(hash.slice().reverse());

