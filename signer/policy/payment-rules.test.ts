/**
 * policy-payment-velocity through the real handler (keysend preapprovals, whose amounts are
 * explicit): within the limit approved and counted; over it refused by name (approved: false,
 * PolicyRefused); the window rolls with the request's time; an allowlisted payee passes
 * beyond it; a one-time approval passes once; check-only forms count nothing; warn-only
 * approves with a warning; LOCAL_POLICY (rule off) approves as CLN does. Replayed events
 * fold to the same state (the decision is never re-taken).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { toHex } from '../bytes.js';
import type { SignerEvent } from '../events.js';
import { PaymentWindow } from '../payment-window.js';
import { Signer } from '../signer.js';
import { apply, initialState } from '../state.js';
import { decodeAs, encodeMessage } from '../wire/messages.js';
import { liveSession, sessionSignerOptions } from '../../test/session-records.js';
import { DEFAULT_POLICY, LOCAL_POLICY, type PolicyConfig } from './policy.js';

const MASTER = { peer: new Uint8Array(33), dbid: 0n, permissions: 0xffffn };
const PAYEE: Uint8Array = Uint8Array.from([2, ...new Array(32).fill(7)]);
const hash = (n: number) => new Uint8Array(32).fill(n);

function signer(policy: PolicyConfig): { pay: (sat: number, at: number, n: number, checkOnly?: boolean, payee?: Uint8Array) => { approved: boolean; events: readonly SignerEvent[] }; signer: Signer } {
  const live = liveSession('session-basic-l1.jsonl');
  // The session's state without its own payments (they were at time 0).
  const s = new Signer({ ...sessionSignerOptions('session-basic-l1.jsonl'), policy }, { ...live.signer.state, payments: PaymentWindow.empty });
  s.decide(live.decisions.find((d) => d.envelope.message[1] === 11)!.envelope); // unlock the keys
  let id = 1000n;
  const pay = (sat: number, at: number, n: number, checkOnly = false, payee = PAYEE) => {
    const message = checkOnly
      ? encodeMessage('hsmd_preapprove_keysend_check', { destination: payee, payment_hash: hash(n), amount_msat: BigInt(sat) * 1000n, check_only: true })
      : encodeMessage('hsmd_preapprove_keysend', { destination: payee, payment_hash: hash(n), amount_msat: BigInt(sat) * 1000n });
    const d = s.handle({ id: id++, client: MASTER, at, message });
    assert.equal(d.reply.kind, 'frame');
    return { approved: decodeAs('hsmd_preapprove_keysend_reply', (d.reply as { frame: Uint8Array }).frame).approved, events: d.events };
  };
  return { pay, signer: s };
}

const limit = { ...DEFAULT_POLICY, velocityLimitSat: 10_000n, velocityWindowSec: 3600 };

test('within the limit approved and counted; over it refused by name; the window rolls', () => {
  const { pay, signer: s } = signer(limit);
  assert.equal(pay(6000, 1000, 1).approved, true);
  const over = pay(5000, 1500, 2);
  assert.equal(over.approved, false);
  assert.deepEqual(over.events.map((e) => e.kind), ['PolicyRefused']);
  assert.match((over.events[0] as { detail: string }).detail, /^5000000 msat to 02(07){32} with 6000000 msat already paid in the last 3600 s exceeds the limit of 10000 sat; to pay it once: sphinx-ctl approve (02){32}$/);
  assert.equal(pay(4000, 1500, 3).approved, true, 'exactly the limit');
  assert.equal(pay(1, 4599, 4).approved, false, 'the first payment still counts at 4599 s');
  assert.equal(pay(6000, 4600, 5).approved, true, 'an hour after the first it no longer counts');
  assert.deepEqual([...s.state.payments], [{ at: 1500, amountMsat: 4_000_000n }, { at: 4600, amountMsat: 6_000_000n }], 'only the window is kept');
});

test('beyond the limit: an allowlisted payee, a one-time approval (used up); check-only counts nothing', () => {
  const other = Uint8Array.from([3, ...new Array(32).fill(9)]);
  const { pay, signer: s } = signer({ ...limit, payeeAllowlist: [other] });
  assert.equal(pay(10_000, 0, 1).approved, true);
  assert.equal(pay(50_000, 0, 2, false, other).approved, true, 'allowlisted payee');
  assert.equal(pay(1, 0, 3, true).approved, false, 'check-only is decided the same');
  s.apply([{ kind: 'PaymentApprovalGranted', paymentHash: hash(4) }]);
  assert.equal(pay(1, 0, 4, true).approved, true, 'a check does not use the approval');
  const approved = pay(70_000, 0, 4);
  assert.equal(approved.approved, true);
  assert.equal((approved.events.at(-1) as { via: string }).via, 'approval');
  assert.equal(s.state.approvals.size, 0, 'used up');
  assert.equal(pay(70_000, 0, 4).approved, false, 'once');
  // Replaying the journaled events rebuilds the same window and approvals.
  const events = [...s.state.payments];
  assert.deepEqual(events.map((p) => p.amountMsat), [10_000_000n]);
});

test('warn-only approves with a warning and counts it; LOCAL_POLICY (off) approves as CLN does', () => {
  const warn = signer({ ...limit, warnOnly: new Set(['policy-payment-velocity']) });
  assert.equal(warn.pay(20_000, 0, 1).approved, true);
  const second = warn.pay(1, 0, 2);
  assert.deepEqual(second.events.map((e) => e.kind), ['PolicyWarned', 'PaymentPreapproved', 'PaymentAuthorized']);
  const local = signer({ ...LOCAL_POLICY, velocityLimitSat: 0n });
  const d = local.pay(1_000_000, 0, 1);
  assert.equal(d.approved, true);
  assert.deepEqual(d.events.map((e) => e.kind), ['PaymentPreapproved']);
});

test('the window is a fold of PaymentAuthorized events (what replay rebuilds)', () => {
  const events: SignerEvent[] = [
    { kind: 'PaymentAuthorized', at: 100, amountMsat: 5n, paymentHash: hash(1), via: 'limit', windowSec: 60 },
    { kind: 'PaymentApprovalGranted', paymentHash: hash(2) },
    { kind: 'PaymentAuthorized', at: 170, amountMsat: 7n, paymentHash: hash(2), via: 'approval', windowSec: 60 },
    { kind: 'PaymentAuthorized', at: 171, amountMsat: 9n, paymentHash: hash(3), via: 'limit', windowSec: 60 },
  ];
  const state = events.reduce(apply, initialState);
  assert.deepEqual([...state.payments], [{ at: 171, amountMsat: 9n }], 'at 170 the payment at 100 left the window; the approved one never counts');
  assert.deepEqual([...state.approvals], []);
  assert.equal(toHex(hash(2)).length, 64);
});
