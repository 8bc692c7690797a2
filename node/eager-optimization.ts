/**
 * V8 optimizes a function once it has run a budget of bytecode a few times over (its
 * `--interrupt-budget`, 66 KiB on this Node). A function lightningd calls a few times a session
 * reaches that only after many sessions, and a hot one after hundreds of requests: a fresh
 * hsmd kept compiling in the background through its first ten sessions, on the cores the
 * requests need (docs/performance.md "Warm start"). During the local hsmd's warm start the
 * budget is lowered, so the code it runs is optimized then, before anyone waits on it;
 * afterwards V8's default is back, as optimizing everything early while serving cost more than
 * it saved (docs/performance-history-local.md).
 */
import { setFlagsFromString } from 'node:v8';

/** V8's default `--interrupt-budget` in Node 20 (66 KiB of bytecode); the test holds it to the running Node's. */
export const DEFAULT_INTERRUPT_BUDGET = 66 * 1024;
/** During a warm start: a function is optimized after running ~3 × this much bytecode. */
export const EAGER_INTERRUPT_BUDGET = 2048;

/**
 * Runs `warm` with V8 optimizing eagerly, then restores the default once it settles, failed or
 * not. V8 reads the flag whenever it resets a function's budget, so it takes effect in a running
 * process (node/eager-optimization.test.ts checks that on this Node).
 */
export async function optimizingEagerly<T>(warm: () => Promise<T>): Promise<T> {
  setFlagsFromString(`--interrupt-budget=${EAGER_INTERRUPT_BUDGET}`);
  try {
    return await warm();
  } finally {
    setFlagsFromString(`--interrupt-budget=${DEFAULT_INTERRUPT_BUDGET}`);
  }
}
