#!/usr/bin/env node
// `npm test`: every dist/**/*.test.js under node --test, with TMPDIR set to a fresh directory
// of its own. Tests (and the processes they start) must remove what they create there: whatever
// is left at the end is listed and fails the run, then removed. Arguments are passed to
// node --test (e.g. --test-name-pattern).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const find = (dir) => readdirSync(dir).flatMap((name) => {
  const path = join(dir, name);
  return statSync(path).isDirectory() ? find(path) : name.endsWith('.test.js') ? [relative(root, path)] : [];
});
const files = find(join(root, 'dist')).sort();
const scratch = mkdtempSync(join(tmpdir(), 'sphinx-test-run-'));
const run = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...process.argv.slice(2), ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TMPDIR: scratch },
});
const left = readdirSync(scratch);
rmSync(scratch, { recursive: true, force: true });
if (left.length > 0) {
  console.error(`\n✖ tests left ${left.length} entries in their temporary directory (each test must remove what it creates):\n  ${left.sort().join('\n  ')}`);
  process.exit(run.status === 0 ? 1 : run.status ?? 1);
}
process.exit(run.status ?? 1);
