#!/usr/bin/env node
// Incremental TypeScript build: tsc reuses dist/.tsbuildinfo, so a build with
// nothing changed takes a few seconds. Then every output in dist/ whose source is gone is removed,
// so a moved or deleted test never runs from a stale dist/ file (the reason the old build wiped dist/).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const dist = join(root, 'dist');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
try {
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json'), '--incremental', '--tsBuildInfoFile', join(dist, '.tsbuildinfo')], { stdio: 'inherit' });
} catch {
  process.exit(1);
}

/** The source of a dist file: dist/a/b.js(.map) or .d.ts → a/b.ts. */
const sourceOf = (file) => join(root, relative(dist, file).replace(/\.(js|js\.map|d\.ts)$/, '.ts'));
let removed = 0;
const prune = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      prune(path);
      if (readdirSync(path).length === 0) rmSync(path, { recursive: true });
    } else if (/\.(js|js\.map|d\.ts)$/.test(name) && !existsSync(sourceOf(path))) {
      rmSync(path);
      removed++;
    }
  }
};
if (existsSync(dist)) prune(dist);
if (removed > 0) console.error(`build: removed ${removed} output file(s) whose source is gone`);
