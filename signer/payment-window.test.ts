/**
 * PaymentWindow against the array it replaces (every counted payment, filtered on every
 * PaymentAuthorized): after any sequence of payments, with times that go back as well as
 * forth and windows that change, the same msat counted after any time, the same payments
 * per second, earlier versions untouched, and one shape per content.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import { type CountedPayment, PaymentWindow } from './payment-window.js';
import { assertProperty } from '../property-tests/settings.js';

/** The model: what state.ts folded before, an array filtered and copied per payment. */
const modelAuthorize = (payments: readonly CountedPayment[], at: number, windowSec: number, amountMsat: bigint, counted: boolean) => {
  const kept = payments.filter((p) => p.at > at - windowSec);
  return counted ? [...kept, { at, amountMsat }] : kept;
};
const modelTotal = (payments: readonly CountedPayment[], since: number) =>
  payments.filter((p) => p.at > since).reduce((a, p) => a + p.amountMsat, 0n);
/** The model's payments summed per second, oldest first. */
function perSecond(payments: readonly CountedPayment[]): CountedPayment[] {
  const sums = new Map<number, bigint>();
  for (const p of payments) sums.set(p.at, (sums.get(p.at) ?? 0n) + p.amountMsat);
  return [...sums].sort(([a], [b]) => a - b).map(([at, amountMsat]) => ({ at, amountMsat }));
}

// Times in a small range (so seconds repeat and windows overlap), now and then far off.
const at = fc.oneof(fc.integer({ min: 0, max: 200 }), fc.constantFrom(1_700_000_000, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER - 1));
const payment = fc.record({
  at,
  windowSec: fc.integer({ min: 1, max: 120 }),
  amountMsat: fc.bigInt({ min: 0n, max: 10n ** 12n }),
  counted: fc.boolean(),
});

test('the same window as the filtered array after any payments; earlier versions unchanged', () => {
  assertProperty(
    fc.property(fc.array(payment, { maxLength: 200 }), fc.array(at, { minLength: 1, maxLength: 8 }), (payments, probes) => {
      let window = PaymentWindow.empty;
      let model: readonly CountedPayment[] = [];
      const versions: [PaymentWindow, CountedPayment[]][] = [];
      for (const p of payments) {
        const kept = window.after(p.at - p.windowSec);
        window = p.counted ? kept.add(p.at, p.amountMsat) : kept;
        model = modelAuthorize(model, p.at, p.windowSec, p.amountMsat, p.counted);
        versions.push([window, perSecond(model)]);
        for (const since of [p.at - p.windowSec, ...probes]) assert.equal(window.totalAfter(since), modelTotal(model, since), `after ${since}`);
        assert.equal(window.isEmpty, model.length === 0);
      }
      for (const [version, entries] of versions) {
        assert.deepEqual([...version], entries);
        assert.equal(version.size, entries.length);
      }
    }),
    200,
  );
});

test('one shape per content: the same payments in any order are deepEqual', () => {
  assertProperty(
    fc.property(fc.array(fc.record({ at, amountMsat: fc.bigInt({ min: 0n, max: 1000n }) }), { maxLength: 60 }), fc.integer(), (payments, since) => {
      const forward = PaymentWindow.from(payments);
      const backward = PaymentWindow.from([...payments].reverse());
      assert.deepEqual(forward, backward);
      assert.deepEqual(PaymentWindow.from(forward), forward, 'rebuilt from its own entries');
      assert.deepEqual(forward.after(since), PaymentWindow.from(payments.filter((p) => p.at > since)));
    }),
    200,
  );
});

test('a window with nothing to drop is the same object; times must be whole seconds', () => {
  const window = PaymentWindow.from([{ at: 100, amountMsat: 5n }, { at: 100, amountMsat: 7n }]);
  assert.equal(window.after(99), window);
  assert.deepEqual([...window], [{ at: 100, amountMsat: 12n }]);
  assert.equal(window.after(100), PaymentWindow.empty);
  assert.throws(() => window.add(1.5, 1n), /time 1.5 is not a whole number of seconds/);
});

test('a long window stays shallow: 100,000 seconds in order', () => {
  let window = PaymentWindow.empty;
  for (let s = 0; s < 100_000; s++) window = window.after(s - 86_400).add(s, 1n);
  const depth = (t: PaymentWindow['root']): number => (t === undefined ? 0 : 1 + Math.max(depth(t.left), depth(t.right)));
  assert.equal(window.totalAfter(-1), 86_400n);
  assert.ok(depth(window.root) < 64, `depth ${depth(window.root)} for 86,400 entries`);
});
