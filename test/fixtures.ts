/**
 * Locates files under test/fixtures/ from source or compiled (dist/) tests alike.
 * Every fixture is a copy of a file from the team's shared data; test/fixtures/README.md
 * says where each came from.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest directory above this file holding package.json. */
export const repoRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
})();

/** Absolute path of test/fixtures/<name>. */
export const fixturePath = (name: string): string => join(repoRoot, 'test', 'fixtures', name);

/** Parsed JSON of test/fixtures/<name>. */
export const readJsonFixture = <T = any>(name: string): T =>
  JSON.parse(readFileSync(fixturePath(name), 'utf8')) as T;

const NOT_SOURCES = new Set(['node_modules', 'dist', 'build', '.git']);

/** The repository's own files whose names match `pattern`, as paths from the root (for tests that read every source). */
export function* repoFiles(pattern: RegExp, dir: string = repoRoot): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (NOT_SOURCES.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* repoFiles(pattern, path);
    else if (pattern.test(name)) yield relative(repoRoot, path);
  }
}

/** SHA-256 of every file under `dir` by relative path: what a read-only tool must leave as it was. */
export function fileHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[relative(dir, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
  }
  return out;
}
