/**
 * policy-commitment-holder-validated (commitment-rules.ts holderSignRules) on the recorded
 * sessions: sign_commitment_tx signs the transaction lightningd keeps as the channel's last
 * only if the signer validated it as our commitment of that number (not revoked), or it is a
 * mutual close the close rules accept.
 * - the chain run's unilateral close (test/fixtures/chain/session-l1, request 181: our
 *   commitment 2 of the second channel, validated at 177) signs as CLN's hsmd did; with one
 *   output's value or script changed it is refused by name; commitment 1 (revoked at 178) is
 *   refused by its number and by its txid;
 * - session-basic-l1's sign_commitment_tx (seq 197) is the agreed mutual close (signed at
 *   196): it signs as CLN's hsmd did through the close rules; redirected, it is refused;
 * - a signer with no txid recorded for the channel, and local mode, sign as CLN's hsmd does.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { replayChainSession } from '../../test/chain-session.js';
import { editedTx } from '../../test/forged-tx.js';
import { recordedSession } from '../../test/recorded-chain.js';
import { sessionPolicy, sessionRequests, sessionSignerOptions } from '../../test/session-records.js';
import { toHex } from '../bytes.js';
import { parseTx, reverseTxid, txid, type Tx } from '../bolt3/tx.js';
import type { Decision } from '../decision.js';
import { decodeReply } from '../event-codec.js';
import type { SignerEvent } from '../events.js';
import { applyCommitmentEvent, MAX_HOLDER_TXIDS, type CommitmentState } from '../handlers/commitment-state.js';
import { Signer } from '../signer.js';
import { decodeAs, encodeMessage } from '../wire/messages.js';
import { LOCAL_POLICY, type PolicyConfig, type PolicyName } from './policy.js';

const RULE: PolicyName = 'policy-commitment-holder-validated';
const FOREIGN = Uint8Array.of(0x00, 0x14, ...new Array<number>(20).fill(0x77));

const refusedWith = (d: Decision, policy: PolicyName): string => {
  assert.equal(d.reply.kind, 'bad-request', JSON.stringify(d.reply));
  const text = (d.reply as { description: string }).description;
  assert.match(text, new RegExp(`(^|; )${policy}: `));
  assert.deepEqual(d.events, []);
  return text;
};
const frameOf = (d: Decision): string => {
  assert.equal(d.reply.kind, 'frame', JSON.stringify(d.reply));
  return toHex((d.reply as { frame: Uint8Array }).frame);
};

/** l1's chain run through request 180, and its request `id` (recorded reply frame in hex). */
function chainL1(policy?: PolicyConfig) {
  const { signer, mismatches } = replayChainSession('l1', { chain: false, untilId: 180n, ...(policy ? { policy } : {}) });
  assert.deepEqual(mismatches, []);
  const at = (id: bigint) => {
    const ex = recordedSession('l1').exchanges.find((e) => e.id === id)!;
    const reply = decodeReply(ex.reply);
    return { ...ex, recorded: reply.kind === 'frame' ? toHex(reply.frame) : reply.kind };
  };
  let next = 1000n;
  const send = (ex: ReturnType<typeof at>, message = ex.message): Decision => signer.handle({ id: next++, client: ex.client, at: 0, message });
  return { signer, at, send };
}

/** The output of largest value (an anchor has 330 sat). */
const largest = (tx: Tx) => tx.outputs.reduce((a, o) => (o.amountSat > a.amountSat ? o : a));

const signCommitmentEdited = (frame: Uint8Array, edit: (tx: Tx) => void): Uint8Array => {
  const m = decodeAs('hsmd_sign_commitment_tx', frame);
  return encodeMessage('hsmd_sign_commitment_tx', { ...m, tx: editedTx(m.tx, edit) });
};

test(`${RULE}: our validated commitment signs as CLN's hsmd; one output's value or script changed is refused`, () => {
  const { at, send } = chainL1();
  const unilateral = at(181n);
  assert.equal(frameOf(send(unilateral)), unilateral.recorded);
  const value = refusedWith(send(unilateral, signCommitmentEdited(unilateral.message, (tx) => void (largest(tx).amountSat -= 1000n))), RULE);
  // Commitment 1 was revoked (178): only 2 is kept, by the txid (display order) of the recorded request's tx.
  const validated = toHex(reverseTxid(txid(parseTx(decodeAs('hsmd_sign_commitment_tx', unilateral.message).tx.tx))));
  assert.match(value, new RegExp(`is not our commitment 2 as validated \\(not revoked: 2 ${validated}\\), nor a mutual close the close rules accept \\(policy-mutual-destination-allowlisted: `));
  const last = (tx: Tx) => tx.outputs[tx.outputs.length - 1]!;
  refusedWith(send(unilateral, signCommitmentEdited(unilateral.message, (tx) => void (last(tx).scriptPubKey = FOREIGN))), RULE);
});

test(`${RULE} and policy-commitment-revoked-holder: commitment 1, revoked, by its number and by its txid`, () => {
  const { at, send } = chainL1();
  const request = decodeAs('hsmd_sign_commitment_tx', at(181n).message);
  const revokedTx = decodeAs('hsmd_validate_commitment_tx', at(175n).message).tx; // our commitment 1
  const asNumber = (commit_num: bigint, tx = request.tx) => encodeMessage('hsmd_sign_commitment_tx', { ...request, commit_num, tx });
  const both = refusedWith(send(at(181n), asNumber(1n, revokedTx)), 'policy-commitment-revoked-holder');
  assert.match(both, new RegExp(`${RULE}: `), 'its txid was dropped when it was revoked');
  refusedWith(send(at(181n), asNumber(2n, revokedTx)), RULE);
  refusedWith(send(at(181n), asNumber(1n)), 'policy-commitment-revoked-holder');
});

test(`${RULE}: the agreed mutual close (session-basic-l1 seq 197) signs as CLN's hsmd; redirected it is refused, naming the close rule`, () => {
  const name = 'session-basic-l1.jsonl';
  const replay = (forge?: (frame: Uint8Array) => Uint8Array): Decision => {
    const signer = new Signer(sessionSignerOptions(name));
    for (const { exchange, envelope } of sessionRequests(name)) {
      if (exchange.seq === 197) return signer.handle(forge ? { ...envelope, message: forge(envelope.message) } : envelope);
      signer.handle(envelope);
    }
    throw new Error('no seq 197');
  };
  const recorded = sessionRequests(name).find((r) => r.exchange.seq === 197)!.exchange.rep;
  assert.equal(frameOf(replay()), recorded);
  const text = refusedWith(replay((f) => signCommitmentEdited(f, (tx) => void (tx.outputs[1]!.scriptPubKey = FOREIGN))), RULE);
  assert.match(text, /nor a mutual close the close rules accept \(policy-mutual-destination-allowlisted: /);
  assert.equal(sessionPolicy(name).off.size, 0);
});

test(`${RULE}: with no txid recorded for the channel (state begun after it) and in local mode, sign_commitment_tx signs as CLN's hsmd`, () => {
  // A signer that saw only hsmd_init: no channel history at all.
  const { exchanges, hsmSecret } = recordedSession('l1');
  const fresh = new Signer({ ...sessionSignerOptions('session-basic-l1.jsonl'), readHsmSecret: () => hsmSecret });
  const init = exchanges.find((e) => e.id === 1n)!;
  fresh.handle({ id: 1n, client: init.client, at: 0, message: init.message });
  const { at } = chainL1();
  const forged = signCommitmentEdited(at(181n).message, (tx) => void (largest(tx).amountSat -= 1000n));
  frameOf(fresh.handle({ id: 2n, client: at(181n).client, at: 0, message: forged }));
  // Local mode: the rule is off (docs/policies.md), as CLN's hsmd signs it.
  const local = chainL1(LOCAL_POLICY);
  frameOf(local.send(at(181n), forged));
});

test('the fold keeps the txids of the latest holder commitment and the one before, drops revoked ones, at most MAX_HOLDER_TXIDS', () => {
  const channel = { peer: new Uint8Array(33), dbid: 1n };
  const id = (k: number) => new Uint8Array(32).fill(k);
  const recorded = (n: bigint, k: number): SignerEvent & { kind: 'HolderCommitmentTxidRecorded' } => ({ kind: 'HolderCommitmentTxidRecorded', channel, commitNum: n, txid: id(k) });
  const fold = (events: readonly (SignerEvent & { kind: 'HolderCommitmentTxidRecorded' | 'HolderCommitmentRevoked' })[]) =>
    events.reduce<CommitmentState | undefined>((c, e) => applyCommitmentEvent(c, e), undefined);
  const listed = (c: CommitmentState | undefined) => c?.holderTxids?.map((t) => `${t.n}:${t.txid[0]}`);
  assert.deepEqual(listed(fold([recorded(0n, 1), recorded(1n, 2), recorded(2n, 3)])), ['1:2', '2:3']);
  assert.deepEqual(listed(fold([recorded(0n, 1), recorded(1n, 2), { kind: 'HolderCommitmentRevoked', channel, commitNum: 0n }])), ['1:2']);
  assert.deepEqual(listed(fold([recorded(1n, 2), recorded(1n, 2)])), ['1:2'], 'a repeat is kept once');
  const splices = Array.from({ length: MAX_HOLDER_TXIDS + 2 }, (_, k) => recorded(5n, k + 1));
  assert.deepEqual(listed(fold(splices)), splices.slice(2).map((e) => `5:${e.txid[0]}`));
  assert.deepEqual(listed(fold([recorded(0n, 1), { kind: 'HolderCommitmentRevoked', channel, commitNum: 0n }])), [], 'recorded, all revoked: not skipped');
});
