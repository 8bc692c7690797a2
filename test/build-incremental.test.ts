/**
 * `npm start` and `npm test` build first; with nothing changed since the last build the build
 * must not run tsc at all (scripts/build.mjs), which is what makes a second `npm start` start the
 * demo within seconds. Checked with the script's `--check`, which says whether tsc would run and
 * changes nothing: right after the build this test runs from, it would not; with one source made
 * newer than that build, it would, and it names the file. (How long either takes is not asserted.)
 */
import { execFileSync } from 'node:child_process';
import { statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
const script = join(root, 'scripts', 'build.mjs');

function check(): { status: number; output: string } {
  try {
    return { status: 0, output: execFileSync(process.execPath, [script, '--check'], { encoding: 'utf8' }) };
  } catch (e) {
    const failed = e as { status: number; stdout: string };
    return { status: failed.status, output: failed.stdout };
  }
}

test('with nothing changed since the build, the next build does not run tsc', () => {
  const { status, output } = check();
  assert.equal(status, 0, output);
  assert.match(output, /up to date, tsc would not run/);
});

test('a source newer than the build makes the next build run tsc, naming it', () => {
  const source = join(root, 'signer', 'bytes.ts');
  const { atime, mtime } = statSync(source);
  utimesSync(source, atime, new Date(Date.now() + 60_000));
  try {
    const { status, output } = check();
    assert.equal(status, 1, output);
    assert.match(output, /tsc would run: signer\/bytes\.ts is newer than the last build/);
  } finally {
    utimesSync(source, atime, mtime);
  }
  assert.equal(check().status, 0, 'the source put back as it was: up to date again');
});
