/**
 * compileBaselineAtFirstCall takes effect in a running process on this Node: V8's own status of
 * a function called once after it says baseline code (Sparkplug), where without it the function
 * is still interpreted. Asked in a child process, as V8 answers only under --allow-natives-syntax.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import test from 'node:test';

/** Bits of V8's %GetOptimizationStatus (docs/performance.md "Baseline code at first call"). */
const INTERPRETED = 1 << 7;
const BASELINE = 1 << 15;

/** The status of a function called once, after compileBaselineAtFirstCall() if `call`. */
function statusOfFreshFunction(call: boolean): number {
  const module = new URL('./baseline-code.js', import.meta.url).href;
  const script = `import { compileBaselineAtFirstCall } from ${JSON.stringify(module)};
${call ? 'compileBaselineAtFirstCall();' : ''}
const f = new Function('a', 'return a + 1');
f(1);
console.log(%GetOptimizationStatus(f));`;
  const run = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return Number(run.stdout.trim());
}

test('a function first called after compileBaselineAtFirstCall runs baseline code, not the interpreter', () => {
  const before = statusOfFreshFunction(false);
  assert.ok(before & INTERPRETED && !(before & BASELINE), `without it: interpreted (status ${before.toString(2)})`);
  const after = statusOfFreshFunction(true);
  assert.ok(after & BASELINE && !(after & INTERPRETED), `with it: baseline (status ${after.toString(2)})`);
});
