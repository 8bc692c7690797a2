/**
 * The layout table of docs/design.md, enforced: every import of every .ts file (tests aside)
 * must be allowed by the "may import" column of the row that governs the file, and the entry
 * points must not pull in what they have no use for. The table is read from the document, so
 * the rule and its description cannot drift apart.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import test from 'node:test';
import { repoFiles, repoRoot } from './fixtures.js';

interface Rule {
  /** A folder (ending in /) or a file, relative to the repository root. */
  readonly path: string;
  readonly mayImport: readonly string[];
}

/** The rows of the table under "## Layout": `path` | what | `token`, `token`, ... */
function layoutRules(): Rule[] {
  const doc = readFileSync(join(repoRoot, 'docs', 'design.md'), 'utf8');
  const section = doc.split(/^## /m).find((s) => s.startsWith('Layout'));
  assert.ok(section, 'docs/design.md has a "## Layout" section');
  const rules: Rule[] = [];
  for (const line of section.split('\n')) {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const path = /^`([^`]+)`$/.exec(cells[0] ?? '')?.[1];
    if (cells.length !== 3 || path === undefined) continue;
    rules.push({ path, mayImport: [...cells[2]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!) });
  }
  return rules;
}

const tsFiles = (): Generator<string> => repoFiles(/\.ts$/);

/** Every module specifier in a source: static imports and re-exports, side-effect imports, import(). */
function specifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  for (const m of code.matchAll(/\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|\bimport\s+['"]([^'"]+)['"]/g))
    found.push((m[1] ?? m[2] ?? m[3])!);
  return found;
}

/** A relative specifier as the repository path of its source file; a package name as is. */
const target = (file: string, spec: string): string =>
  spec.startsWith('.') ? normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts') : spec;
const isPath = (t: string): boolean => existsSync(join(repoRoot, t));

const covers = (rulePath: string, path: string): boolean => (rulePath.endsWith('/') ? path.startsWith(rulePath) : path === rulePath);
const ruleOf = (rules: readonly Rule[], path: string): Rule | undefined =>
  rules.filter((r) => covers(r.path, path)).sort((a, b) => b.path.length - a.path.length)[0];

function allowed(rules: readonly Rule[], rule: Rule, t: string): boolean {
  if (isPath(t) && ruleOf(rules, t) === rule) return true; // its own folder
  return rule.mayImport.some((token) => {
    if (token === '*') return true;
    if (token === 'node:*') return t.startsWith('node:');
    if (token.endsWith('/*')) return t.startsWith(token.slice(0, -1));
    if (isPath(t)) return covers(token, t);
    return t === token || t.startsWith(`${token}/`);
  });
}

test('docs/design.md lists the may-import rule of every folder, and every path it names exists', () => {
  const rules = layoutRules();
  assert.ok(rules.length >= 10, `docs/design.md layout table has ${rules.length} rows`);
  const missing = rules.flatMap((r) => [r.path, ...r.mayImport.filter((t) => t.includes('/') && !t.includes('*') && /^[a-z]+\//.test(t) && !t.includes(':'))])
    .filter((p) => (p.endsWith('/') || p.endsWith('.ts')) && !existsSync(join(repoRoot, p)));
  assert.deepEqual(missing, [], 'paths named in docs/design.md that do not exist');
  const uncovered = [...tsFiles()].filter((f) => ruleOf(rules, f) === undefined);
  assert.deepEqual(uncovered, [], 'files no row of docs/design.md governs: add their folder to the layout table');
});

test('every import follows the may-import column of docs/design.md', () => {
  const rules = layoutRules();
  const violations: string[] = [];
  for (const file of tsFiles()) {
    if (file.endsWith('.test.ts')) continue;
    const rule = ruleOf(rules, file);
    if (rule === undefined) continue; // reported by the test above
    for (const spec of specifiers(readFileSync(join(repoRoot, file), 'utf8'))) {
      const t = target(file, spec);
      if (!allowed(rules, rule, t)) violations.push(`${file} imports ${t} (${rule.path} may import: ${rule.mayImport.join(', ') || 'only itself'})`);
    }
  }
  assert.deepEqual(violations, []);
});

/** The packages a module reaches through all its imports, static and dynamic. */
function packagesReached(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of specifiers(readFileSync(join(repoRoot, file), 'utf8'))) {
      const t = target(file, spec);
      if (spec.startsWith('.')) visit(t);
      else packages.add(t.startsWith('@') ? t.split('/').slice(0, 2).join('/') : t.split('/')[0]!);
    }
  };
  visit(entry);
  return packages;
}

test('the audit reaches no MQTT, the device host no broker parts', () => {
  const audit = packagesReached('audit/cli.ts');
  assert.ok(audit.has('level'), 'the audit reads the broker log (sanity check of the walk)');
  for (const name of ['aedes', 'aedes-persistence-level', 'mqtt']) assert.ok(!audit.has(name), `audit/cli.ts reaches ${name}`);
  const device = packagesReached('firmware/host/cli.ts');
  assert.ok(device.has('mqtt'), 'the device host speaks MQTT (sanity check of the walk)');
  for (const name of ['aedes', 'aedes-persistence-level', 'level']) assert.ok(!device.has(name), `firmware/host/cli.ts reaches ${name}`);
});
