/**
 * The recorded chain run replayed through one Signer (test/fixtures/chain/): every request
 * of a node's broker log in order, and, with a chain, each recorded block shown to the
 * device once the broker log's clock passes the end of the block's second (header times
 * have one-second resolution; a block is shown no later than the run could have): its header, then every transaction of it that creates or spends a watched
 * outpoint with its gettxoutproof proof. Which transactions those are is found with
 * bitcoinjs-lib, independently of the device's own parsing.
 */
import { sessionPolicy } from './session-records.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import { decideChain, watchedOutpoints, type ChainRefusal, type ChainRefusalName, type WatchedOutpoint } from '../signer/chain/track.js';
import type { ChainUpdate } from '../signer/chain/updates.js';
import { outpointKey } from '../signer/chain/view.js';
import { encodeReply } from '../signer/event-codec.js';
import type { ChainEvent } from '../signer/events.js';
import type { PolicyConfig } from '../signer/policy/policy.js';
import { Signer } from '../signer/signer.js';
import { branchBlock, forged, headerBytes, recordedChain, recordedSession, txoutProof, type RecordedBlock } from './recorded-chain.js';

/** The header of `b`, then each of its transactions that touches a watched outpoint, with a proof. */
export function blockUpdates(b: RecordedBlock, watched: ReadonlyMap<string, WatchedOutpoint>): ChainUpdate[] {
  const updates: ChainUpdate[] = [{ kind: 'headers', firstHeight: b.height, headers: [headerBytes(b)] }];
  for (const tx of b.block.transactions!) {
    const id = new Uint8Array(tx.getHash());
    const creates = tx.outs.some((_, vout) => watched.has(outpointKey(id, vout)));
    const spends = tx.ins.some((i) => watched.has(outpointKey(new Uint8Array(i.hash), i.index)));
    if (creates || spends) updates.push({ kind: 'transaction', height: b.height, proof: txoutProof(b.block, [tx.getId()]), tx: new Uint8Array(tx.toBuffer()) });
  }
  return updates;
}

/** One block as it was shown: where in the session, what the device was shown, what it accepted. */
export interface ShownBlock {
  readonly height: number;
  /** The id of the request it was shown before; undefined: after the session's last. */
  readonly beforeId: bigint | undefined;
  readonly updates: ChainUpdate[];
  /** The events of its decision (none when refused). */
  readonly events: readonly ChainEvent[];
}

export interface ChainSessionReplay {
  readonly signer: Signer;
  /** Requests whose reply differs from the recorded one. */
  readonly mismatches: string[];
  readonly chainEvents: ChainEvent[];
  readonly refusals: ChainRefusal[];
  /** Every block shown, in order. */
  readonly shown: ShownBlock[];
}

/**
 * Replays node `node`'s session (through request `untilId`), with its chain (every block
 * up to `throughHeight`; with `showAllFirst`, all of them right after hsmd_init) or without.
 */
export function replayChainSession(
  node: 'l1' | 'l2',
  options: { chain: boolean; policy?: PolicyConfig; throughHeight?: number; untilId?: bigint; showAllFirst?: boolean },
): ChainSessionReplay {
  const { hsmSecret, ...session } = recordedSession(node);
  const exchanges = session.exchanges.filter((ex) => options.untilId === undefined || ex.id <= options.untilId);
  // The device's defaults with the session's withdrawal destination allowlisted (session-records.ts).
  const policy = options.policy ?? sessionPolicy(`session-basic-${node}.jsonl`);
  const signer = new Signer({ curve: nobleCurve, developer: false, policy, readHsmSecret: () => hsmSecret });
  const blocks = options.chain ? recordedChain().slice(1, (options.throughHeight ?? Infinity) + 1) : [];
  const chainEvents: ChainEvent[] = [];
  const refusals: ChainRefusal[] = [];
  const shown: ShownBlock[] = [];
  const show = (b: RecordedBlock, beforeId: bigint | undefined) => {
    const updates = blockUpdates(b, watchedOutpoints(signer.state));
    const decision = decideChain(signer.state, updates);
    shown.push({ height: b.height, beforeId, updates, events: decision.ok ? decision.events : [] });
    if (!decision.ok) return refusals.push(decision.refusal);
    signer.apply(decision.events);
    chainEvents.push(...decision.events);
  };
  const mismatches: string[] = [];
  let next = 0;
  for (const ex of exchanges) {
    const due = (b: RecordedBlock) => options.showAllFirst || (b.block.timestamp + 1) * 1000 <= ex.at;
    while (next < blocks.length && due(blocks[next]!) && signer.initialized) show(blocks[next++]!, ex.id);
    const decision = signer.handle({ id: ex.id, client: ex.client, at: Math.floor(ex.at / 1000), message: ex.message });
    const got = Buffer.from(encodeReply(decision.reply)).toString('hex');
    const want = Buffer.from(ex.reply).toString('hex');
    if (got !== want) mismatches.push(`id ${ex.id} type ${(ex.message[0]! << 8) | ex.message[1]!}: ${JSON.stringify(decision.reply).slice(0, 300)}`);
  }
  while (next < blocks.length) show(blocks[next++]!, undefined);
  return { signer, mismatches, chainEvents, refusals, shown };
}

/**
 * A 2-block reorg on l1's chain: the device has followed it to height 104 with the first
 * channel's funding confirmed at 103 (l1's session through lock_outpoint, request 80);
 * a competing branch 103', 104', 105' from 102 has the funding transaction in 104'.
 * `updates` shows the branch's headers and the funding transaction's proof in 104'; `shown`
 * is what the device was shown up to 104.
 */
/** The last request of l1's session the reorg scenario's device has answered (lock_outpoint). */
export const REORG_UNTIL_ID = 80n;

export function reorgScenario() {
  const chain = recordedChain();
  const { signer, shown } = replayChainSession('l1', { chain: true, throughHeight: 104, untilId: REORG_UNTIL_ID });
  const funding = chain[103]!.block.transactions![1]!;
  const b103 = branchBlock(chain[102]!.block, chain[102]!.hash, 1);
  const b104 = branchBlock(chain[103]!.block, b103.getId(), 2);
  const b105 = branchBlock(chain[104]!.block, b104.getId(), 3);
  const updates: ChainUpdate[] = [
    { kind: 'headers', firstHeight: 103, headers: [b103, b104, b105].map((b) => headerBytes(b)) },
    { kind: 'transaction', height: 104, proof: txoutProof(b104, [funding.getId()]), tx: new Uint8Array(funding.toBuffer()) },
  ];
  return { state: signer.state, shown, funding, branch: [b103, b104, b105], updates };
}

/** A headers update from `firstHeight`. */
export const headersUpdate = (firstHeight: number, ...headers: Uint8Array[]): ChainUpdate => ({ kind: 'headers', firstHeight, headers });

/** Transaction `txIndex` of recorded block `height` with its proof (`txBytes` in its place when given). */
export function proofUpdate(height: number, txIndex: number, txBytes?: Uint8Array): Extract<ChainUpdate, { kind: 'transaction' }> {
  const b = recordedChain()[height]!.block;
  const t = b.transactions![txIndex]!;
  return { kind: 'transaction', height, proof: txoutProof(b, [t.getId()]), tx: txBytes ?? new Uint8Array(t.toBuffer()) };
}

/** A bad chain input: shown to the reorg scenario's device, or (`beforeInit`) to one before hsmd_init. */
export interface BadChainInput {
  readonly beforeInit?: boolean;
  readonly updates: ChainUpdate[];
}

/**
 * Each kind of bad chain input of docs/chain.md "Refusals", by the name it must be refused
 * with. All but chain-not-initialized are shown to the reorg scenario's device (l1 through
 * lock_outpoint, the chain followed to 104, the first funding confirmed at 103).
 */
export function badChainInputs(): Record<ChainRefusalName, BadChainInput> {
  const chain = recordedChain();
  const proofInvalid = proofUpdate(103, 1);
  const flipped = proofInvalid.proof.slice();
  flipped[80 + 4 + 1 + 5] ^= 1; // a hash of the partial tree
  return {
    'chain-not-initialized': { beforeInit: true, updates: [headersUpdate(1, headerBytes(chain[1]!))] },
    'chain-header-out-of-order': { updates: [headersUpdate(106, headerBytes(chain[106]!))] },
    'chain-header-not-linking': { updates: [headersUpdate(105, headerBytes(chain[106]!))] },
    'chain-header-bad-pow': { updates: [headersUpdate(105, forged(chain[105]!.block, () => {}, false))] },
    'chain-header-bad-difficulty': { updates: [headersUpdate(105, forged(chain[105]!.block, (x) => (x.bits = 0x207ffffe), true))] },
    'chain-header-bad-time': { updates: [headersUpdate(105, forged(chain[105]!.block, (x) => (x.timestamp = chain[98]!.block.timestamp), true))] },
    'chain-reorg-too-deep': { updates: [headersUpdate(2, headerBytes(branchBlock(chain[2]!.block, chain[1]!.hash, 9)))] },
    'chain-reorg-less-work': { updates: [headersUpdate(104, headerBytes(branchBlock(chain[104]!.block, chain[103]!.hash, 9)))] },
    'chain-proof-invalid': { updates: [{ ...proofInvalid, proof: flipped }] },
    'chain-proof-unknown-block': { updates: [proofUpdate(110, 1)] },
    'chain-tx-txid-mismatch': { updates: [proofUpdate(103, 1, new Uint8Array(chain[109]!.block.transactions![1]!.toBuffer()))] },
    'chain-tx-not-watched': { updates: [proofUpdate(103, 0)] },
    'chain-update-malformed': { updates: [headersUpdate(105, headerBytes(chain[105]!).subarray(0, 79))] },
  };
}
