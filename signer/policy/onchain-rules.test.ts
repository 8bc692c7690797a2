/**
 * The on-chain policies on real requests: recorded session-basic-l1 requests (CLN's own
 * penalty sweep and mutual close) pass every rule; the same requests with one output
 * redirected, or with outputs above the input, are refused naming the rule, and with the
 * rule demoted (warnOnly) they are signed and a PolicyWarned event is emitted.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { fixturePath } from '../../test/fixtures.js';
import { loadTranscript, type Exchange } from '../../test/transcript.js';
import { fromHex, toHex } from '../bytes.js';
import { nobleCurve } from '../crypto/noble.js';
import type { Decision } from '../decision.js';
import type { DecideContext } from '../handlers/context.js';
import { onchainHandlers } from '../handlers/onchain.js';
import { openKeyRing } from '../keys/node-keys.js';
import type { Tx } from '../bolt3/tx.js';
import { editedTx } from '../../test/forged-tx.js';
import { initialState } from '../state.js';
import { decodeMessage } from '../wire/messages.js';
import { MUTUAL_DESTINATION } from './close-rules.js';
import { ONCHAIN_FEE_RANGE, SWEEP_DESTINATION } from './onchain-rules.js';
import { DEFAULT_POLICY, type PolicyConfig, type PolicyName } from './policy.js';

const { header, exchanges } = loadTranscript(fixturePath('transcripts/session-basic-l1.jsonl'));
const bySeq = (seq: number): Exchange => exchanges.find((e) => e.seq === seq)!;
const PENALTY = bySeq(104); // sign_penalty_to_us, sweeps to our wallet key m/0/0/4 (BIP 86 P2TR)
const MUTUAL = bySeq(196); // sign_mutual_close_tx, outputs: peer's wallet, ours (m/0/0/4)
const FOREIGN = fromHex('0014' + '77'.repeat(20));

const keys = openKeyRing(nobleCurve, fromHex(header.hsm_secret));
const ctxWith = (policy: Partial<PolicyConfig>): DecideContext => ({
  keys,
  curve: nobleCurve,
  developer: false,
  policy: { ...DEFAULT_POLICY, ...policy },
});

/** Runs the recorded request through its handler, with the tx edited. */
function run(ex: Exchange, ctx: DecideContext, edit: (tx: Tx) => void = () => {}): Decision {
  const msg = decodeMessage(fromHex(ex.req));
  const env = { id: 1n, client: { peer: fromHex(ex.peer!), dbid: BigInt(ex.dbid), permissions: BigInt(ex.perms) }, at: 0, message: new Uint8Array(0) };
  if (msg.name === 'hsmd_sign_penalty_to_us')
    return onchainHandlers.hsmd_sign_penalty_to_us!(ctx, initialState, env, { ...msg, tx: editedTx(msg.tx, edit) });
  if (msg.name === 'hsmd_sign_mutual_close_tx')
    return onchainHandlers.hsmd_sign_mutual_close_tx!(ctx, initialState, env, { ...msg, tx: editedTx(msg.tx, edit) });
  throw new Error(`unexpected ${msg.name}`);
}

const refusedWith = (d: Decision, policy: PolicyName): void => {
  assert.equal(d.reply.kind, 'bad-request');
  assert.match((d.reply as { description: string }).description, new RegExp(`^${policy}: `));
};
const warnedWith = (d: Decision, policy: PolicyName): void => {
  assert.equal(d.reply.kind, 'frame');
  assert.deepEqual(d.events.map((e) => e.kind === 'PolicyWarned' && e.policy), [policy]);
};

test('the recorded penalty sweep and mutual close pass every rule (byte-identical replies)', () => {
  for (const ex of [PENALTY, MUTUAL]) {
    const d = run(ex, ctxWith({}));
    assert.equal(d.reply.kind === 'frame' && toHex(d.reply.frame), ex.rep);
    assert.deepEqual(d.events, []);
  }
});

const cases: { name: PolicyName; ex: Exchange; edit: (tx: Tx) => void }[] = [
  { name: SWEEP_DESTINATION, ex: PENALTY, edit: (tx) => void (tx.outputs[0]!.scriptPubKey = FOREIGN) },
  { name: MUTUAL_DESTINATION, ex: MUTUAL, edit: (tx) => void (tx.outputs[1]!.scriptPubKey = FOREIGN) },
  { name: ONCHAIN_FEE_RANGE, ex: PENALTY, edit: (tx) => void (tx.outputs[0]!.amountSat = 20_000n) },
  { name: ONCHAIN_FEE_RANGE, ex: MUTUAL, edit: (tx) => void (tx.outputs[0]!.amountSat += 10_000_000n) },
];

for (const { name, ex, edit } of cases) {
  test(`${name} (seq ${ex.seq}): refused by default, a PolicyWarned event when warn-only`, () => {
    refusedWith(run(ex, ctxWith({}), edit), name);
    warnedWith(run(ex, ctxWith({ warnOnly: new Set([name]) }), edit), name);
  });
}

test('an allowlisted script is an accepted destination', () => {
  const edit = (tx: Tx): void => void (tx.outputs[0]!.scriptPubKey = FOREIGN);
  const d = run(PENALTY, ctxWith({ allowlist: [FOREIGN] }), edit);
  assert.equal(d.reply.kind, 'frame');
  assert.deepEqual(d.events, []);
});

test('a feerate above maxFeeratePerKw is refused', () => {
  refusedWith(run(PENALTY, ctxWith({ maxFeeratePerKw: 200 })), ONCHAIN_FEE_RANGE);
});
