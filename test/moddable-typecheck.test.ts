/**
 * firmware/moddable typechecks against @moddable/typings with its own tsconfig (no Node
 * types: the root build excludes it), together with the shared code it runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import test from 'node:test';
import { repoRoot } from './fixtures.js';

test('firmware/moddable and the code it shares typecheck under the Moddable typings', () => {
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const run = spawnSync(process.execPath, [tsc, '-p', join(repoRoot, 'firmware', 'moddable', 'tsconfig.json')], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stdout + run.stderr);
});
