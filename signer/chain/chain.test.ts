/**
 * The device's chain checks against the recorded regtest chain (test/fixtures/chain/):
 * bitcoinjs-lib parses the same blocks independently (hashes, targets, merkle roots,
 * which transactions create and spend the session's funding outputs).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { Block } from 'bitcoinjs-lib';
import { badChainInputs, blockUpdates, headersUpdate, proofUpdate, REORG_UNTIL_ID, reorgScenario, replayChainSession } from '../../test/chain-session.js';
import { display, headerBytes, internal, recordedChain, sessionFundings, txoutProof } from '../../test/recorded-chain.js';
import { decodeEvents, encodeEvents } from '../event-codec.js';
import { decodeState, encodeState } from '../../projections/signer-state.js';
import { bitsToTarget, hashToBigInt, parseHeader, targetToBits } from './header.js';
import { MerkleProofError, parseMerkleProof } from './merkle-proof.js';
import { CHAIN_REFUSALS, decideChain, watchedOutpoints } from './track.js';
import { decodeChainUpdates, encodeChainUpdates } from './updates.js';
import { outpointKey, tipOf } from './view.js';
import { apply as applyEvent } from '../state.js';

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
    const funded = sessionFundings(node);
    assert.equal(funded.length, 2);
    for (const { key, txid, vout, mined, spent } of funded) {
      const status = signer.state.chain!.outpoints.get(key)!;
      assert.equal(status.confirmed?.height, mined, `${txid}:${vout} confirmed`);
      assert.equal(status.spent?.height, spent, `${txid}:${vout} spent`);
    }
  });
}

// ---- bad input, each refused by name with nothing applied ----

/** l1 through lock_outpoint (request 80), the chain followed to 104: funding confirmed at 103. */
const base = replayChainSession('l1', { chain: true, throughHeight: 104, untilId: REORG_UNTIL_ID }).signer.state;

test('every kind of bad chain input is refused with its name, and nothing of the update is applied', () => {
  const bad = badChainInputs();
  assert.deepEqual(Object.keys(bad).sort(), [...CHAIN_REFUSALS].sort());
  const uninitialized = replayChainSession('l1', { chain: false, untilId: 0n }).signer.state;
  for (const [name, { beforeInit, updates }] of Object.entries(bad)) {
    const decision = decideChain(beforeInit ? uninitialized : base, updates);
    assert.equal(decision.ok, false, name);
    if (!decision.ok) assert.equal(decision.refusal.name, name, `${name}: ${decision.refusal.detail}`);
  }
  // A good block first, then a bad header: the whole message is refused (no events at all).
  const mixed = decideChain(base, [...blockUpdates(chain[105]!, watchedOutpoints(base)), headersUpdate(107, headerBytes(chain[107]!))]);
  assert.deepEqual(mixed.ok ? mixed.events : mixed.refusal.name, 'chain-header-out-of-order');
});

test('a resent header or proof is accepted with no new event', () => {
  const again = decideChain(base, [headersUpdate(103, headerBytes(chain[103]!), headerBytes(chain[104]!)), proofUpdate(103, 1)]);
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
