#!/usr/bin/env node
// Incremental TypeScript build. When no source, tsconfig.json or package.json is newer than the
// last build and every source has its output, tsc is not run at all (a fraction of a second);
// otherwise tsc reuses dist/.tsbuildinfo (a few seconds when little changed). Then every output in
// dist/ whose source is gone is removed, so a moved or deleted test never runs from a stale dist/
// file (the reason the old build wiped dist/). `--check` changes nothing: it says whether tsc
// would run and why, exit 0 when it would not (test/build-incremental.test.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const dist = join(root, 'dist');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const buildInfo = join(dist, '.tsbuildinfo');
const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8'));
const excluded = new Set((tsconfig.exclude ?? []).map((p) => join(root, p)));

/** Every .ts file tsconfig.json includes. */
const sources = (dir) => (excluded.has(dir) || !existsSync(dir) ? [] : readdirSync(dir).flatMap((name) => {
  const path = join(dir, name);
  return statSync(path).isDirectory() ? sources(path) : name.endsWith('.ts') ? [path] : [];
}));

const inputs = () => [join(root, 'tsconfig.json'), join(root, 'package.json'), ...tsconfig.include.flatMap((d) => sources(join(root, d)))];
const outputOf = (source) => join(dist, relative(root, source)).replace(/\.ts$/, '.js');
/** Sources (not .d.ts) without their output in dist/. */
const missingOutputs = () => inputs().filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts') && !existsSync(outputOf(file)));

/** Why the last build is not current (something newer than it, a source without its output: a moved file keeps its mtime), or undefined. */
function staleBecause() {
  if (!existsSync(buildInfo)) return 'no build yet (dist/.tsbuildinfo)';
  const built = statSync(buildInfo).mtimeMs;
  const newer = inputs().find((file) => statSync(file).mtimeMs > built);
  if (newer) return `${relative(root, newer)} is newer than the last build`;
  const missing = missingOutputs()[0];
  return missing && `${relative(root, missing)} has no output in dist/`;
}

if (process.argv.includes('--check')) {
  const why = staleBecause();
  console.log(why ? `build: tsc would run: ${why}` : 'build: up to date, tsc would not run');
  process.exit(why ? 1 : 0);
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

const tscBuild = () => {
  try {
    execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json'), '--incremental', '--tsBuildInfoFile', buildInfo], { stdio: 'inherit' });
  } catch {
    process.exit(1);
  }
};

// A removed source may break what imported it: that needs tsc too.
if (removed > 0 || staleBecause() !== undefined) {
  const started = new Date();
  tscBuild();
  // tsc emits by what .tsbuildinfo says it emitted: an output deleted behind its back (its
  // source unchanged) is not written again, and its test would silently not run. Then: all anew.
  const missing = missingOutputs();
  if (missing.length > 0) {
    console.error(`build: ${missing.length} output(s) missing though tsc had them as built (${relative(root, outputOf(missing[0]))}${missing.length > 1 ? ', …' : ''}): building everything again`);
    rmSync(buildInfo, { force: true });
    tscBuild();
  }
  // tsc leaves .tsbuildinfo alone when nothing needed emitting; stamp it with the start of this
  // build, so a source saved while tsc ran still counts as newer next time.
  if (existsSync(buildInfo)) utimesSync(buildInfo, started, started);
}
