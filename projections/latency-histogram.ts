/**
 * Latency distribution of replies (broker log `latencyMicros`), immutable. Log-linear
 * buckets: exact below 16 µs, then 8 buckets per power of two, so a percentile read from
 * the histogram is the upper bound of its bucket, at most 12.5 % above the true value
 * (and never above the exact maximum, which is kept with the exact minimum and sum).
 */
import { bump } from './chain.js';

export interface LatencyHistogram {
  readonly count: number;
  readonly sumMicros: number;
  readonly minMicros: number | undefined;
  readonly maxMicros: number | undefined;
  /** Count per bucket index (see bucketOf); only buckets that were hit. */
  readonly buckets: ReadonlyMap<number, number>;
}

export const emptyLatency: LatencyHistogram = {
  count: 0,
  sumMicros: 0,
  minMicros: undefined,
  maxMicros: undefined,
  buckets: new Map(),
};

const EXACT = 16;
const SUB_BITS = 3; // 8 sub-buckets per power of two

/** The bucket of a latency (µs, a non-negative integer). */
export function bucketOf(micros: number): number {
  if (micros < EXACT) return micros;
  let e = Math.floor(Math.log2(micros));
  if (2 ** e > micros) e--; // log2 rounds up just below a large power of two
  const sub = Math.floor(micros / 2 ** (e - SUB_BITS)) - (1 << SUB_BITS);
  return EXACT + (e - 4) * (1 << SUB_BITS) + sub;
}

/** [low, high) in µs of bucket `i`. */
export function bucketBounds(i: number): readonly [number, number] {
  if (i < EXACT) return [i, i + 1];
  const k = i - EXACT;
  const e = 4 + Math.floor(k / (1 << SUB_BITS));
  const sub = k % (1 << SUB_BITS);
  const width = 2 ** (e - SUB_BITS);
  const low = 2 ** e + sub * width;
  return [low, low + width];
}

export function recordLatency(h: LatencyHistogram, micros: number): LatencyHistogram {
  return {
    count: h.count + 1,
    sumMicros: h.sumMicros + micros,
    minMicros: h.minMicros === undefined || micros < h.minMicros ? micros : h.minMicros,
    maxMicros: h.maxMicros === undefined || micros > h.maxMicros ? micros : h.maxMicros,
    buckets: bump(h.buckets, bucketOf(micros)),
  };
}

/** Non-empty buckets in ascending order, with their bounds. */
export const histogramRows = (h: LatencyHistogram): { lowMicros: number; highMicros: number; count: number }[] =>
  [...h.buckets.keys()].sort((a, b) => a - b).map((i) => {
    const [lowMicros, highMicros] = bucketBounds(i);
    return { lowMicros, highMicros, count: h.buckets.get(i)! };
  });

/** The p-quantile (0 < p ≤ 1) as its bucket's upper bound, capped at the maximum; undefined when empty. */
export function percentile(h: LatencyHistogram, p: number): number | undefined {
  if (h.count === 0) return undefined;
  const rank = Math.max(1, Math.ceil(p * h.count));
  let seen = 0;
  for (const row of histogramRows(h)) {
    seen += row.count;
    if (seen >= rank) return Math.min(row.highMicros - 1, h.maxMicros!);
  }
  return h.maxMicros;
}

export interface LatencySummary {
  readonly count: number;
  readonly minMicros: number | undefined;
  readonly meanMicros: number | undefined;
  readonly p50Micros: number | undefined;
  readonly p90Micros: number | undefined;
  readonly p99Micros: number | undefined;
  readonly maxMicros: number | undefined;
}

export const summarizeLatency = (h: LatencyHistogram): LatencySummary => ({
  count: h.count,
  minMicros: h.minMicros,
  meanMicros: h.count === 0 ? undefined : h.sumMicros / h.count,
  p50Micros: percentile(h, 0.5),
  p90Micros: percentile(h, 0.9),
  p99Micros: percentile(h, 0.99),
  maxMicros: h.maxMicros,
});
