/**
 * Seeds and run counts of the property suites. `npm test` runs them with a fixed seed and
 * a modest number of runs; `npm run test:property:long` sets PROPERTY_RUNS (many runs) and
 * PROPERTY_SEED=random (a fresh seed, printed so a failure can be replayed with it).
 */
import fc from 'fast-check';

const FIXED_SEED = 20261122;

function seedFromEnv(): number {
  const raw = process.env.PROPERTY_SEED;
  if (raw === undefined || raw === '') return FIXED_SEED;
  if (raw === 'random') {
    const seed = (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;
    console.log(`property tests: PROPERTY_SEED=${seed} (replay with that seed)`);
    return seed;
  }
  const seed = Number(raw);
  if (!Number.isInteger(seed)) throw new Error(`PROPERTY_SEED must be an integer or "random", got ${raw}`);
  return seed;
}

export const SEED = seedFromEnv();
const RUNS = process.env.PROPERTY_RUNS ? Number(process.env.PROPERTY_RUNS) : undefined;

/** Asserts a property with the suite's seed; `fixedRuns` unless PROPERTY_RUNS says otherwise. */
export function assertProperty<T>(property: fc.IProperty<T>, fixedRuns: number): void {
  fc.assert(property, { seed: SEED, numRuns: RUNS ?? fixedRuns, includeErrorInReport: true });
}

/** assertProperty for an async property. */
export async function assertAsyncProperty<T>(property: fc.IAsyncProperty<T>, fixedRuns: number): Promise<void> {
  await fc.assert(property, { seed: SEED, numRuns: RUNS ?? fixedRuns, includeErrorInReport: true });
}
