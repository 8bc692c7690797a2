/**
 * The authorizations policy-htlc-payment-approved keeps (htlc-ledger.ts) stay within
 * MAX_AUTHORIZED_PAYMENTS: past it, those whose window passed and whose HTLCs are gone are
 * forgotten, then the oldest; and the index by payment hash follows the channels' HTLCs, as a
 * property against the index computed afresh from every channel's HTLCs.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import { assertProperty } from '../property-tests/settings.js';
import { toHex } from './bytes.js';
import type { PaymentAuthorized, SeenHtlc, SignerEvent } from './events.js';
import { type ChannelShare, MAX_AUTHORIZED_PAYMENTS } from './htlc-ledger.js';
import { apply, initialState, type SignerState } from './state.js';

const hash = (n: number): Uint8Array => {
  const h = new Uint8Array(32);
  new DataView(h.buffer).setUint32(28, n);
  return h;
};
const paid = (n: number, at: number, windowSec: number): PaymentAuthorized => ({ kind: 'PaymentAuthorized', at, amountMsat: 1000n, paymentHash: hash(n), via: 'limit', windowSec });
const channel = { peer: new Uint8Array(33).fill(2), dbid: 1n };
const offered = (n: number): SignerEvent => ({
  kind: 'CommitmentHtlcsRecorded', channel, side: 'counterparty', commitNum: 1n,
  htlcs: [{ offered: true, amountMsat: 1000n, paymentHash: hash(n), cltvExpiry: 119 }],
});

test('past the cap, authorizations whose window passed and whose HTLCs are gone are forgotten; one with HTLCs stays', () => {
  let state = apply(initialState, offered(0));
  for (let n = 0; n < MAX_AUTHORIZED_PAYMENTS; n++) state = apply(state, paid(n, n, 10));
  assert.equal(state.authorizedPayments.size, MAX_AUTHORIZED_PAYMENTS);
  state = apply(state, paid(MAX_AUTHORIZED_PAYMENTS, MAX_AUTHORIZED_PAYMENTS, 10));
  const kept = [...state.authorizedPayments.keys()].sort();
  // Windows ending at or before 1000 passed (authorized at 0..990); hash 0 still has an HTLC;
  // 991..1000 (the new one) are within theirs.
  assert.deepEqual(kept, [0, ...Array.from({ length: 10 }, (_, i) => 991 + i)].map((n) => toHex(hash(n))).sort());
});

test('past the cap with every window open, the oldest is forgotten', () => {
  let state = initialState;
  for (let n = 0; n <= MAX_AUTHORIZED_PAYMENTS; n++) state = apply(state, paid(n, n, 86_400));
  assert.equal(state.authorizedPayments.size, MAX_AUTHORIZED_PAYMENTS);
  assert.ok(!state.authorizedPayments.has(toHex(hash(0))));
  assert.ok(state.authorizedPayments.has(toHex(hash(1))));
});

test('the index by payment hash follows the latest commitments, and a forgotten channel leaves it', () => {
  let state = apply(initialState, offered(7));
  assert.deepEqual(state.htlcIndex.get(toHex(hash(7))), [{ channel: `${'02'.repeat(33)}/1`, offeredMsat: 1000n, receivedMsat: 0n }]);
  state = apply(state, { kind: 'CommitmentHtlcsRecorded', channel, side: 'counterparty', commitNum: 2n, htlcs: [] });
  assert.equal(state.htlcIndex.size, 0);
  assert.equal(state.channels.get(`${'02'.repeat(33)}/1`)!.htlcs, undefined);
  state = apply(apply(state, offered(8)), { kind: 'ChannelForgotten', channel });
  assert.equal(state.htlcIndex.size, 0);
});

/** The index as its definition says, from every channel's latest HTLCs: per hash, each channel's larger commitment sum, each way. */
function indexAfresh(state: SignerState): Map<string, ChannelShare[]> {
  const out = new Map<string, ChannelShare[]>();
  for (const [key, c] of state.channels) {
    if (!c.htlcs) continue;
    const hashes = new Set([...c.htlcs.holder, ...c.htlcs.counterparty].map((h) => toHex(h.paymentHash)));
    for (const hex of hashes) {
      const sum = (list: readonly SeenHtlc[], offered: boolean) => list.filter((h) => toHex(h.paymentHash) === hex && h.offered === offered).reduce((a, h) => a + h.amountMsat, 0n);
      const max = (a: bigint, b: bigint) => (a > b ? a : b);
      const share = { channel: key, offeredMsat: max(sum(c.htlcs.holder, true), sum(c.htlcs.counterparty, true)), receivedMsat: max(sum(c.htlcs.holder, false), sum(c.htlcs.counterparty, false)) };
      out.set(hex, [...(out.get(hex) ?? []), share].sort((a, b) => (a.channel < b.channel ? -1 : 1)));
    }
  }
  return out;
}

test('property: after any commitments and forgets over three channels, the index is the one computed afresh', () => {
  const channels = [1n, 2n, 3n].map((dbid) => ({ peer: new Uint8Array(33).fill(2), dbid }));
  const htlc = fc.record({ offered: fc.boolean(), amountMsat: fc.constantFrom(0n, 1000n, 2500n), paymentHash: fc.integer({ min: 0, max: 3 }).map(hash), cltvExpiry: fc.constant(119) });
  const event: fc.Arbitrary<SignerEvent> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ c: fc.integer({ min: 0, max: 2 }), side: fc.constantFrom('holder' as const, 'counterparty' as const), htlcs: fc.array(htlc, { maxLength: 4 }) }).map(({ c, side, htlcs }) => ({ kind: 'CommitmentHtlcsRecorded' as const, channel: channels[c]!, side, commitNum: 1n, htlcs })) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 }).map((c) => ({ kind: 'ChannelForgotten' as const, channel: channels[c]! })) },
  );
  assertProperty(
    fc.property(fc.array(event, { maxLength: 40 }), (events) => {
      let state = initialState;
      for (const e of events) {
        state = apply(state, e);
        assert.deepEqual(new Map(state.htlcIndex), indexAfresh(state));
      }
    }),
    200,
  );
});
