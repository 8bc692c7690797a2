/**
 * The chain policies, each broken once with the recorded chain run (test/fixtures/chain/):
 * the same real requests, a chain view that makes the rule refuse, and the refusal names
 * the rule. With the whole recorded chain, or with none, nothing is refused and every
 * reply is the recorded one.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { replayChainSession } from '../../test/chain-session.js';
import { DEFAULT_POLICY } from './policy.js';

/** The refusals of a replay: "id type: policy-...: detail" for each reply that differs. */
const refusalsOf = (mismatches: readonly string[]) => mismatches.filter((m) => m.includes('bad-request'));

for (const node of ['l1', 'l2'] as const) {
  test(`${node}: the recorded session replays byte for byte with its whole chain and with none`, () => {
    assert.deepEqual(replayChainSession(node, { chain: true }).mismatches, []);
    assert.deepEqual(replayChainSession(node, { chain: false }).mismatches, []);
  });
}

test('policy-htlc-cltv-range: HTLC expiries further above the tip than allowed are refused', () => {
  const { mismatches } = replayChainSession('l1', { chain: true, policy: { ...DEFAULT_POLICY, maxHtlcCltvDelta: 5 } });
  const refused = refusalsOf(mismatches);
  assert.ok(refused.length > 0);
  assert.match(refused[0]!, /policy-htlc-cltv-range: HTLC expiries \d+ outside \[\d+, \d+\] \(tip \d+\)/);
});

test('policy-htlc-cltv-range: HTLC expiries long below the tip are refused', () => {
  // The chain shown to the device runs far ahead of the payments' expiries (the whole chain before the first request).
  const { mismatches } = replayChainSession('l1', { chain: true, policy: { ...DEFAULT_POLICY, htlcExpiredGraceBlocks: 0 }, showAllFirst: true });
  assert.match(refusalsOf(mismatches)[0] ?? '', /policy-htlc-cltv-range/);
});

test('policy-forget-channel-closed: forgetting a channel whose close is not deep enough is refused', () => {
  // l1 forgets its first channel (mutual close at 110) last; the device has seen up to 112.
  const { mismatches } = replayChainSession('l1', { chain: true, throughHeight: 112 });
  assert.equal(mismatches.length, 1);
  assert.match(mismatches[0]!, /type 34: .*policy-forget-channel-closed: the funding was spent at height 110, 3 deep \(at least 6 needed\)/);
});

test('policy-forget-channel-closed: forgetting a live channel is refused', () => {
  // l2 forgets its second channel (unilaterally closed at 117); the device has seen up to 116.
  const { mismatches } = replayChainSession('l2', { chain: true, throughHeight: 116 });
  assert.ok(mismatches.some((m) => /type 34: .*policy-forget-channel-closed: the funding confirmed at height 111 is unspent: the channel is live/.test(m)), mismatches.join('\n'));
});

test('policy-funding-confirmed: HTLCs on a channel whose funding the device has not seen confirmed are refused', () => {
  // The device is shown the chain up to 102: the first channel's funding (103) never.
  const { mismatches } = replayChainSession('l1', { chain: true, throughHeight: 102 });
  assert.match(refusalsOf(mismatches)[0] ?? '', /policy-funding-confirmed: HTLCs total \d+ sat > 0 while the funding is not seen confirmed \(tip 102\)/);
  // Allowed up to the configured amount.
  const generous = replayChainSession('l1', { chain: true, throughHeight: 102, policy: { ...DEFAULT_POLICY, maxUnconfirmedHtlcSat: 10_000_000n } });
  assert.ok(!generous.mismatches.some((m) => m.includes('policy-funding-confirmed')));
});
