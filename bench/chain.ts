/**
 * Chain tracking on the device core (signer/chain/), on Node: the recorded regtest chain
 * (test/fixtures/chain/) shown to a state that hsmd_init has initialised.
 * - headers/s: decideChain on one header at a time (parse, SHA256d, proof of work,
 *   difficulty and median-time rules, linkage) with the event applied, along all 296
 *   recorded headers; and the same headers as one 296-header update;
 * - proofs/s: gettxoutproof proofs of every transaction of every recorded block, parsed
 *   and walked to the root (parseMerkleProof); and decideChain of the first funding
 *   transaction with its proof (proof, txid, watched outputs) on a state that watches it.
 * Each figure also as a ratio to the run's raw sha256(64 B) rate: a header costs at least
 * two SHA-256 blocks of hashing, so that ratio shows what the checks around it cost.
 */
import { replayChainSession, blockUpdates } from '../test/chain-session.js';
import { headerBytes, recordedChain, txoutProof } from '../test/recorded-chain.js';
import { parseMerkleProof } from '../signer/chain/merkle-proof.js';
import { decideChain, watchedOutpoints } from '../signer/chain/track.js';
import { apply } from '../signer/state.js';
import { type Bench, fmtOps, fmtRatio, measure, printTable } from './harness.js';

export const chainBench: Bench = {
  name: 'chain tracking: headers and merkle proofs checked by the device core',
  run({ baseline, budgetMs }) {
    const chain = recordedChain();
    const initialised = replayChainSession('l1', { chain: false, untilId: 1n }).signer.state;
    const headers = chain.slice(1).map((b) => headerBytes(b));
    const oneByOne = measure(() => {
      let s = initialised;
      headers.forEach((h, k) => {
        const d = decideChain(s, [{ kind: 'headers', firstHeight: k + 1, headers: [h] }]);
        if (!d.ok) throw new Error(d.refusal.detail);
        s = d.events.reduce(apply, s);
      });
    }, budgetMs);
    const batch = measure(() => {
      const d = decideChain(initialised, [{ kind: 'headers', firstHeight: 1, headers }]);
      if (!d.ok) throw new Error(d.refusal.detail);
    }, budgetMs);
    const proofs = chain.flatMap((b) => b.block.transactions!.map((t) => txoutProof(b.block, [t.getId()])));
    const walk = measure(() => proofs.forEach((p) => parseMerkleProof(p)), budgetMs);
    // l1 through lock_outpoint with the chain to 104: the first funding is watched and confirmed at 103.
    const watching = replayChainSession('l1', { chain: true, throughHeight: 104, untilId: 80n }).signer.state;
    const unconfirmed = replayChainSession('l1', { chain: true, throughHeight: 102, untilId: 80n }).signer.state;
    const withBlock = decideChain(unconfirmed, blockUpdates(chain[103]!, new Map()));
    if (!withBlock.ok) throw new Error(withBlock.refusal.detail);
    const before = withBlock.events.reduce(apply, unconfirmed);
    const fundingUpdate = blockUpdates(chain[103]!, watchedOutpoints(watching)).filter((u) => u.kind === 'transaction');
    const confirm = measure(() => {
      const d = decideChain(before, fundingUpdate);
      if (!d.ok || d.events.length !== 1) throw new Error('the funding proof was not accepted');
    }, budgetMs);

    const sha = baseline.sha256.opsPerSec;
    const rows = [
      ['headers one at a time (decideChain + apply)', headers.length * oneByOne.opsPerSec, oneByOne.iterations],
      [`headers as one ${headers.length}-header update`, headers.length * batch.opsPerSec, batch.iterations],
      [`merkle proofs walked (${proofs.length} proofs)`, proofs.length * walk.opsPerSec, walk.iterations],
      ['funding transaction with its proof (decideChain)', confirm.opsPerSec, confirm.iterations],
    ] as const;
    printTable(['checked by the device core', 'per second', 'rounds', 'sha256(64 B) ÷ this'], rows.map(([what, ops, n]) => [what, fmtOps(ops), String(n), fmtRatio(sha / ops)]));
  },
};
