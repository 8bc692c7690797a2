/**
 * The device's chain checks against the recorded regtest chain (test/fixtures/chain/):
 * bitcoinjs-lib parses the same blocks independently (hashes, targets, merkle roots,
 * which transactions create and spend the session's funding outputs).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { Block } from 'bitcoinjs-lib';
import { blockUpdates, replayChainSession } from '../../test/chain-session.js';
import { branchBlock, display, forged, headerBytes, internal, recordedChain, recordedSession, txoutProof } from '../../test/recorded-chain.js';
import { decodeMessage } from '../wire/messages.js';
import { decodeEvents, encodeEvents } from '../event-codec.js';
import { decodeState, encodeState } from '../../projections/signer-state.js';
import { bitsToTarget, hashToBigInt, parseHeader, targetToBits } from './header.js';
import { MerkleProofError, parseMerkleProof } from './merkle-proof.js';
import { CHAIN_REFUSALS, decideChain, watchedOutpoints, type ChainRefusalName } from './track.js';
import type { ChainUpdate } from './updates.js';
import { decodeChainUpdates, encodeChainUpdates } from './updates.js';
import { outpointKey, tipOf } from './view.js';
import { apply as applyEvent } from '../state.js';
import { reorgScenario } from '../../test/chain-session.js';

const chain = recordedChain();

test('headers parse as bitcoinjs-lib parses them: hash, parent, root, time, target', () => {
  for (const b of chain) {
    const h = parseHeader(headerBytes(b));
    assert.equal(display(h.hash), b.hash);
    assert.equal(display(h.prevHash), b.height === 0 ? '0'.repeat(64) : chain[b.height - 1]!.hash);
    assert.deepEqual(h.merkleRoot, new Uint8Array(b.block.merkleRoot!));
    assert.equal(h.time, b.block.timestamp);
    assert.equal(bitsToTarget(h.bits), hashToBigInt(Block.calculateTarget(h.bits).reverse()));
    assert.equal(targetToBits(bitsToTarget(h.bits)!), h.bits);
  }
});

test('a proof of every transaction of every recorded block hashes to the block root, matching only that txid', () => {
  let proofs = 0;
  for (const b of chain) {
    for (const tx of b.block.transactions!) {
      const proof = parseMerkleProof(txoutProof(b.block, [tx.getId()]));
      assert.deepEqual(proof.root, new Uint8Array(b.block.merkleRoot!));
      assert.deepEqual(proof.matched.map(display), [tx.getId()]);
      proofs++;
    }
  }
  assert.ok(proofs > chain.length);
});

test('a proof with a flipped hash, a dropped byte or an extra byte is refused', () => {
  const b = chain.find((x) => x.block.transactions!.length > 1)!;
  const good = txoutProof(b.block, [b.block.transactions![1]!.getId()]);
  const flipped = good.slice();
  flipped[80 + 4 + 1 + 3] ^= 1;
  assert.notDeepEqual(parseMerkleProof(flipped).root, new Uint8Array(b.block.merkleRoot!));
  assert.throws(() => parseMerkleProof(good.subarray(0, good.length - 1)), MerkleProofError);
  assert.throws(() => parseMerkleProof(new Uint8Array([...good, 0])), MerkleProofError);
});

// ---- following the chain with the recorded sessions ----

/** Heights (found by bitcoinjs-lib) where a txid is mined and where outpoint txid:vout is spent. */
function minedAndSpent(txidDisplay: string, vout: number): { mined: number; spent: number } {
  const mined = chain.find((b) => b.block.transactions!.some((t) => t.getId() === txidDisplay))!.height;
  const spent = chain.find((b) => b.block.transactions!.some((t) => t.ins.some((i) => display(new Uint8Array(i.hash)) === txidDisplay && i.index === vout)))!.height;
  return { mined, spent };
}

for (const node of ['l1', 'l2'] as const) {
  test(`${node}: following the recorded chain block by block, the tip is the chain's and every funding outpoint confirms and is spent at its heights`, () => {
    const { signer, chainEvents, refusals, mismatches } = replayChainSession(node, { chain: true });
    assert.deepEqual(refusals, []);
    assert.deepEqual(mismatches, []);
    const tip = tipOf(signer.state.chain!);
    assert.equal(tip.height, chain.length - 1);
    assert.equal(display(tip.hash), chain.at(-1)!.hash);
    assert.equal(chainEvents.filter((e) => e.kind === 'ChainTipAdvanced').length, chain.length - 1);
    // The funding outpoints are those of the session's setup_channel requests.
    const funded = new Map<string, { txid: string; vout: number }>();
    for (const ex of recordedSession(node).exchanges) {
      const m = decodeMessage(ex.message);
      if (m.name === 'hsmd_setup_channel') funded.set(outpointKey(m.funding_txid, m.funding_txout), { txid: display(m.funding_txid), vout: m.funding_txout });
    }
    assert.equal(funded.size, 2);
    for (const [key, { txid, vout }] of funded) {
      const { mined, spent } = minedAndSpent(txid, vout);
      const status = signer.state.chain!.outpoints.get(key)!;
      assert.equal(status.confirmed?.height, mined, `${txid}:${vout} confirmed`);
      assert.equal(status.spent?.height, spent, `${txid}:${vout} spent`);
    }
  });
}

// ---- bad input, each refused by name with nothing applied ----

/** l1 through lock_outpoint (request 80), the chain followed to 104: funding confirmed at 103. */
const base = replayChainSession('l1', { chain: true, throughHeight: 104, untilId: 80n }).signer.state;

const headers = (firstHeight: number, ...hs: Uint8Array[]): ChainUpdate => ({ kind: 'headers', firstHeight, headers: hs });
const proofOf = (height: number, txIndex: number, txBytes?: Uint8Array): ChainUpdate => {
  const t = chain[height]!.block.transactions![txIndex]!;
  return { kind: 'transaction', height, proof: txoutProof(chain[height]!.block, [t.getId()]), tx: txBytes ?? new Uint8Array(t.toBuffer()) };
};

const BAD: Record<ChainRefusalName, () => { state?: typeof base; updates: ChainUpdate[] }> = {
  'chain-not-initialized': () => ({ state: replayChainSession('l1', { chain: false, untilId: 0n }).signer.state, updates: [headers(1, headerBytes(chain[1]!))] }),
  'chain-header-out-of-order': () => ({ updates: [headers(106, headerBytes(chain[106]!))] }),
  'chain-header-not-linking': () => ({ updates: [headers(105, headerBytes(chain[106]!))] }),
  'chain-header-bad-pow': () => ({ updates: [headers(105, forged(chain[105]!.block, () => {}, false))] }),
  'chain-header-bad-difficulty': () => ({ updates: [headers(105, forged(chain[105]!.block, (x) => (x.bits = 0x207ffffe), true))] }),
  'chain-header-bad-time': () => ({ updates: [headers(105, forged(chain[105]!.block, (x) => (x.timestamp = chain[98]!.block.timestamp), true))] }),
  'chain-reorg-too-deep': () => ({ updates: [headers(2, headerBytes(branchBlock(chain[2]!.block, chain[1]!.hash, 9)))] }),
  'chain-reorg-less-work': () => ({ updates: [headers(104, headerBytes(branchBlock(chain[104]!.block, chain[103]!.hash, 9)))] }),
  'chain-proof-invalid': () => {
    const u = proofOf(103, 1) as Extract<ChainUpdate, { kind: 'transaction' }>;
    const proof = u.proof.slice();
    proof[80 + 4 + 1 + 5] ^= 1; // a hash of the partial tree
    return { updates: [{ ...u, proof }] };
  },
  'chain-proof-unknown-block': () => ({ updates: [proofOf(110, 1)] }),
  'chain-tx-txid-mismatch': () => ({ updates: [proofOf(103, 1, new Uint8Array(chain[109]!.block.transactions![1]!.toBuffer()))] }),
  'chain-tx-not-watched': () => ({ updates: [proofOf(103, 0)] }),
  'chain-update-malformed': () => ({ updates: [headers(105, headerBytes(chain[105]!).subarray(0, 79))] }),
};

test('every kind of bad chain input is refused with its name, and nothing of the update is applied', () => {
  assert.deepEqual(Object.keys(BAD).sort(), [...CHAIN_REFUSALS].sort());
  for (const [name, make] of Object.entries(BAD)) {
    const { state = base, updates } = make();
    const decision = decideChain(state, updates);
    assert.equal(decision.ok, false, name);
    if (!decision.ok) assert.equal(decision.refusal.name, name, `${name}: ${decision.refusal.detail}`);
  }
  // A good block first, then a bad header: the whole message is refused (no events at all).
  const mixed = decideChain(base, [...blockUpdates(chain[105]!, watchedOutpoints(base)), headers(107, headerBytes(chain[107]!))]);
  assert.deepEqual(mixed.ok ? mixed.events : mixed.refusal.name, 'chain-header-out-of-order');
});

test('a resent header or proof is accepted with no new event', () => {
  const again = decideChain(base, [headers(103, headerBytes(chain[103]!), headerBytes(chain[104]!)), proofOf(103, 1)]);
  assert.deepEqual(again, { ok: true, events: [] });
});

test('a 2-block reorg: the funding moves from 103 to 104 of the competing branch', () => {
  const { state, branch, updates, funding } = reorgScenario();
  const decision = decideChain(state, updates);
  assert.ok(decision.ok, decision.ok ? '' : decision.refusal.detail);
  const kinds = decision.events.map((e) => e.kind);
  assert.deepEqual(kinds, ['ChainReorganized', 'ChainTipAdvanced', 'ChainTipAdvanced', 'ChainTipAdvanced', 'OutpointConfirmed']);
  const reorg = decision.events[0]!;
  assert.ok(reorg.kind === 'ChainReorganized' && reorg.forkHeight === 102 && reorg.disconnected === 2 && display(reorg.oldTipHash) === chain[104]!.hash);
  const s = decision.events.reduce(applyEvent, state);
  const tip = tipOf(s.chain!);
  assert.equal(tip.height, 105);
  assert.equal(display(tip.hash), branch[2]!.getId());
  const status = s.chain!.outpoints.get(outpointKey(internal(funding.getId()), 0))!;
  assert.equal(status.confirmed?.height, 104);
  assert.equal(display(status.confirmed!.blockHash), branch[1]!.getId());
  // Without the proof in the new branch, the reorg leaves the funding unconfirmed.
  const headersOnly = decideChain(state, updates.slice(0, 1));
  assert.ok(headersOnly.ok);
  const after = (headersOnly.ok ? headersOnly.events : []).reduce(applyEvent, state);
  assert.equal(after.chain!.outpoints.get(outpointKey(internal(funding.getId()), 0))!.confirmed, undefined);
});

test('chain events, chain updates and a state with a chain view round-trip through their codecs', () => {
  const { chainEvents, signer } = replayChainSession('l2', { chain: true });
  const { state, updates } = reorgScenario();
  const reorg = decideChain(state, updates);
  const events = [...chainEvents, ...(reorg.ok ? reorg.events : [])];
  assert.deepEqual(decodeEvents(encodeEvents(events)), events);
  assert.deepEqual(decodeChainUpdates(encodeChainUpdates(updates)), updates);
  const bytes = encodeState(signer.state);
  assert.deepEqual(encodeState(decodeState(bytes)), bytes);
  assert.deepEqual(decodeState(bytes).chain, signer.state.chain);
});
