/**
 * The latency histogram's buckets: every value lies in its bucket's bounds, buckets are
 * exact below 16 µs and at most 1/8 of their lower bound wide above, and consecutive
 * buckets tile the line without gaps (so percentiles are at most 12.5 % high).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { bucketBounds, bucketOf, emptyLatency, percentile, recordLatency } from './latency-histogram.js';

const values = [
  ...Array.from({ length: 5000 }, (_, i) => i),
  ...Array.from({ length: 50 }, (_, e) => [2 ** e - 1, 2 ** e, 2 ** e + 1]).flat(),
  123_456_789, 9_007_199_254_740_991,
];

test('each value falls in its bucket; buckets tile the line and are at most 1/8 wide', () => {
  for (const v of values) {
    const [low, high] = bucketBounds(bucketOf(v));
    assert.ok(low <= v && v < high, `${v} in [${low}, ${high})`);
    assert.ok(v < 16 ? high - low === 1 : (high - low) * 8 <= low, `${v}: [${low}, ${high})`);
  }
  for (let i = 0; i < 400; i++) assert.equal(bucketBounds(i)[1], bucketBounds(i + 1)[0], `bucket ${i}`);
});

test('percentiles: empty is undefined; otherwise within 12.5 % above the exact value, never above the maximum', () => {
  assert.equal(percentile(emptyLatency, 0.5), undefined);
  const sample = Array.from({ length: 1000 }, (_, i) => 100 + ((i * 7919) % 100_000));
  const h = sample.reduce(recordLatency, emptyLatency);
  const sorted = [...sample].sort((a, b) => a - b);
  for (const p of [0.01, 0.5, 0.9, 0.99, 1]) {
    const exact = sorted[Math.ceil(p * sorted.length) - 1]!;
    const got = percentile(h, p)!;
    assert.ok(got >= exact && got <= Math.min(exact * 1.125, h.maxMicros!), `p${p}: ${got} vs ${exact}`);
  }
  assert.equal(h.count, 1000);
});
