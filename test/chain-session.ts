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
import { decideChain, watchedOutpoints, type ChainRefusal, type WatchedOutpoint } from '../signer/chain/track.js';
import type { ChainUpdate } from '../signer/chain/updates.js';
import { outpointKey } from '../signer/chain/view.js';
import { encodeReply } from '../signer/event-codec.js';
import type { ChainEvent } from '../signer/events.js';
import type { PolicyConfig } from '../signer/policy/policy.js';
import { Signer } from '../signer/signer.js';
import { branchBlock, headerBytes, recordedChain, recordedSession, txoutProof, type RecordedBlock } from './recorded-chain.js';

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

export interface ChainSessionReplay {
  readonly signer: Signer;
  /** Requests whose reply differs from the recorded one. */
  readonly mismatches: string[];
  readonly chainEvents: ChainEvent[];
  readonly refusals: ChainRefusal[];
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
  const show = (b: RecordedBlock) => {
    const decision = decideChain(signer.state, blockUpdates(b, watchedOutpoints(signer.state)));
    if (!decision.ok) return refusals.push(decision.refusal);
    signer.apply(decision.events);
    chainEvents.push(...decision.events);
  };
  const mismatches: string[] = [];
  let next = 0;
  for (const ex of exchanges) {
    const due = (b: RecordedBlock) => options.showAllFirst || (b.block.timestamp + 1) * 1000 <= ex.at;
    while (next < blocks.length && due(blocks[next]!) && signer.initialized) show(blocks[next++]!);
    const decision = signer.handle({ id: ex.id, client: ex.client, at: Math.floor(ex.at / 1000), message: ex.message });
    const got = Buffer.from(encodeReply(decision.reply)).toString('hex');
    const want = Buffer.from(ex.reply).toString('hex');
    if (got !== want) mismatches.push(`id ${ex.id} type ${(ex.message[0]! << 8) | ex.message[1]!}: ${JSON.stringify(decision.reply).slice(0, 300)}`);
  }
  while (next < blocks.length) show(blocks[next++]!);
  return { signer, mismatches, chainEvents, refusals };
}

/**
 * A 2-block reorg on l1's chain: the device has followed it to height 104 with the first
 * channel's funding confirmed at 103 (l1's session through lock_outpoint, request 80);
 * a competing branch 103', 104', 105' from 102 has the funding transaction in 104'.
 * `updates` shows the branch's headers and the funding transaction's proof in 104'.
 */
export function reorgScenario() {
  const chain = recordedChain();
  const { signer } = replayChainSession('l1', { chain: true, throughHeight: 104, untilId: 80n });
  const funding = chain[103]!.block.transactions![1]!;
  const b103 = branchBlock(chain[102]!.block, chain[102]!.hash, 1);
  const b104 = branchBlock(chain[103]!.block, b103.getId(), 2);
  const b105 = branchBlock(chain[104]!.block, b104.getId(), 3);
  const updates: ChainUpdate[] = [
    { kind: 'headers', firstHeight: 103, headers: [b103, b104, b105].map((b) => headerBytes(b)) },
    { kind: 'transaction', height: 104, proof: txoutProof(b104, [funding.getId()]), tx: new Uint8Array(funding.toBuffer()) },
  ];
  return { state: signer.state, funding, branch: [b103, b104, b105], updates };
}
