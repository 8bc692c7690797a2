/**
 * Bench plumbing: time-budgeted measurement and plain-text tables. Figures are printed,
 * never asserted (docs/design.md#checks: benchmarks inform, tests decide).
 */
import type { Floors } from './floors.js';

export interface Measurement {
  /** Calls made inside the timed window. */
  readonly iterations: number;
  readonly ms: number;
  readonly opsPerSec: number;
}

/**
 * Calls `f` in batches until `budgetMs` has passed (at least `minIterations` calls), after
 * a short warm-up so the JIT has seen it.
 */
export function measure(f: (i: number) => void, budgetMs: number, minIterations = 3): Measurement {
  const warmupEnd = performance.now() + Math.min(50, budgetMs / 4);
  let i = 0;
  do f(i++);
  while (performance.now() < warmupEnd);
  let iterations = 0;
  let batch = 1;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < budgetMs || iterations < minIterations) {
    for (let k = 0; k < batch; k++) f(i++);
    iterations += batch;
    elapsed = performance.now() - start;
    // Grow batches while calls are cheap, so the clock is read rarely.
    if (elapsed < budgetMs / 20) batch *= 2;
  }
  return { iterations, ms: elapsed, opsPerSec: (iterations * 1000) / elapsed };
}

/** Same-process reference speeds every figure is also given against. */
export interface Baseline {
  /** Raw @noble/curves secp256k1.sign (RFC 6979, no extra entropy) per second. */
  readonly nobleSign: Measurement;
  /** Raw @noble/hashes sha256 of 64 bytes per second. */
  readonly sha256: Measurement;
}

export interface BenchContext {
  readonly baseline: Baseline;
  /** The durability and transport floors, measured at the start of the run (bench/floors.ts). */
  readonly floors: Floors;
  /** Time budget per single measurement. */
  readonly budgetMs: number;
}

/** One bench module: prints its own tables (may be async: processes, disks). */
export interface Bench {
  readonly name: string;
  run(ctx: BenchContext): void | Promise<void>;
}

/**
 * How many rounds the process benches (session replay, remote path) make, each in fresh
 * processes with its floors measured again, the figures being the rounds' medians
 * (BENCH_ROUNDS, default 3): one run of a path moved by 2× between runs of the same build on
 * these machines (docs/performance.md "The targets").
 */
export function benchRounds(): number {
  const text = process.env['BENCH_ROUNDS'] ?? '3';
  const rounds = Number(text);
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new RangeError(`BENCH_ROUNDS must be a whole number ≥ 1, not ${JSON.stringify(text)}`);
  return rounds;
}

export const fmtOps = (ops: number): string =>
  ops >= 100 ? Math.round(ops).toLocaleString('en-US') : ops.toFixed(1);

export const fmtRatio = (r: number): string => (r >= 10 ? r.toFixed(1) : r >= 0.1 ? r.toFixed(2) : r.toExponential(1));

/** Prints rows under a header, columns padded; the first column left-aligned. */
export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}
