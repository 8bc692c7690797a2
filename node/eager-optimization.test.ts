/**
 * optimizingEagerly takes effect in a running process on this Node, and only while its warm-up
 * runs: V8's own status of a fresh function called 2,000 times says it is optimized (or on its
 * way) inside, and not optimized (interpreted, or baseline code) before and after. Asked in a
 * child process, as V8 answers only under --allow-natives-syntax. The default it restores is
 * the one this Node's V8 reports.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import test from 'node:test';
import { DEFAULT_INTERRUPT_BUDGET } from './eager-optimization.js';

/** Bits of V8's %GetOptimizationStatus: optimized, or marked for it, or being compiled. */
const OPTIMIZED_OR_ON_ITS_WAY = (1 << 4) | (1 << 8) | (1 << 9) | (1 << 10);
/**
 * Not optimized: interpreted, or in baseline code (Sparkplug compiles bytecode without
 * optimizing, and V8 may do so for a function run 2,000 times under its default budget: seen
 * once in a full run, 2026-12-06).
 */
const UNOPTIMIZED = (1 << 7) | (1 << 15);

test("the default restored is this Node's V8 default", () => {
  const options = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout;
  assert.match(options, new RegExp(`default: --interrupt-budget=${DEFAULT_INTERRUPT_BUDGET}\\n`));
});

test('a function run 2,000 times is optimized within optimizingEagerly, not before nor after it, failed or not', () => {
  const module = new URL('./eager-optimization.js', import.meta.url).href;
  const script = `import { optimizingEagerly } from ${JSON.stringify(module)};
let sources = 0; // a new source each time: V8 caches what new Function compiles, feedback included
const statusAfterRuns = () => {
  const f = new Function('a', \`return a + \${++sources}\`);
  for (let i = 0; i < 2000; i++) f(i);
  return %GetOptimizationStatus(f);
};
const before = statusAfterRuns();
const inside = await optimizingEagerly(async () => statusAfterRuns());
const after = statusAfterRuns();
await optimizingEagerly(async () => { throw new Error('a warm-up that fails'); }).catch(() => {});
console.log(JSON.stringify([before, inside, after, statusAfterRuns()]));`;
  const run = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const [before, inside, after, afterFailure] = JSON.parse(run.stdout) as number[];
  for (const [when, status] of [['before', before!], ['after', after!], ['after a warm-up that failed', afterFailure!]] as const) {
    assert.ok(status & UNOPTIMIZED && !(status & OPTIMIZED_OR_ON_ITS_WAY), `${when}: interpreted or baseline, not optimized (status ${status.toString(2)})`);
  }
  assert.ok(inside! & OPTIMIZED_OR_ON_ITS_WAY, `inside: optimized or on its way (status ${inside!.toString(2)})`);
});
