/**
 * Every document the code and docs cite is in this repository: no citation of the team's
 * shared notes (a clone does not have them), and every `docs/<file>.md`, `docs/<file>.md#anchor`
 * and `docs/<file>.md "Heading"` names a file and a heading (or bold label) that exist (docs/hsmd-protocol.md
 * explains the anchors). Every `<dir>/<name>.ts` a .ts file's comment names exists too.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import test from 'node:test';
import { repoFiles, repoRoot } from './fixtures.js';

const sources = (): Generator<string> => repoFiles(/\.(ts|mjs|md|c|gyp)$/);

/** Citations of documents a clone does not have; the fix goes in the message. */
const OUTSIDE: ReadonlyArray<[RegExp, string]> = [
  [/\bhsmd\.md\b|§A\.\d/, 'the shared hsmd notes: cite docs/hsmd-protocol.md#<section>'],
  [/\bDESIGN\b/, 'the shared design notes: cite docs/design.md#<section>'],
  [/prior-art/, 'the shared prior-art notes: cite docs/decisions.md'],
  [/\b[Ii]ssues? #?\d+/, 'an issue number: say what the code does, or cite docs/'],
  [/\.\.\/shared\b|\/work\/|\bshared\/(protocol|vectors|transcripts|chain|tools)\b/, 'the shared data directory: copy what is needed into test/fixtures/ or docs/'],
  [/docs\/[\w.-]+\.md[#\w-]*\/?§/, 'a section number of the shared notes after a docs/ citation: the anchor alone names the section'],
  [/\bmust[- ]show\b/i, "an issue's \"must show\" list: say what the test shows"],
];
/** Fixture READMEs and the script that copies fixtures name where the copies came from. */
const mayNameSources = (file: string): boolean => file.startsWith('test/fixtures/') || file.startsWith('scripts/export-');

/** GitHub's anchor of a heading: lower case, punctuation but - and _ dropped, spaces as dashes. */
const slug = (heading: string): string => heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');

const headingsCache = new Map<string, string[]>();
function headings(doc: string): string[] {
  let found = headingsCache.get(doc);
  if (found === undefined) {
    found = [...readFileSync(join(repoRoot, doc), 'utf8').matchAll(/^#{1,6} (.+)$/gm)].map((m) => m[1]!.trim());
    headingsCache.set(doc, found);
  }
  return found;
}

/** The names a quoted citation may point at: headings and bold labels (`**Init**`). */
function quotable(doc: string): string[] {
  const bold = [...readFileSync(join(repoRoot, doc), 'utf8').matchAll(/\*\*([^*]+)\*\*/g)].map((m) => m[1]!.trim());
  return [...headings(doc), ...bold].map((h) => h.toLowerCase());
}

/** A quoted name points at a heading that is that name, or starts with it and a space ("Broker (`broker/chain/`)"). */
const names = (heading: string, name: string): boolean => heading === name.toLowerCase() || heading.startsWith(`${name.toLowerCase()} `);

/** The docs/ references in a file: `docs/x.md`, `docs/x.md#a`, `docs/x.md "Heading"`, and markdown links inside docs/. */
function references(file: string, text: string): { doc: string; anchor?: string; heading?: string }[] {
  const refs: { doc: string; anchor?: string; heading?: string }[] = [];
  for (const m of text.matchAll(/\bdocs\/([\w.-]+\.md)(?:#([\w-]+)| "([^"]+)")?/g))
    refs.push({ doc: `docs/${m[1]}`, ...(m[2] ? { anchor: m[2] } : {}), ...(m[3] ? { heading: m[3] } : {}) });
  if (file.endsWith('.md')) {
    for (const m of text.matchAll(/\]\(([\w./-]+\.md)?(?:#([\w-]+))?\)/g)) {
      if (m[1] === undefined && m[2] === undefined) continue;
      const doc = m[1] === undefined ? file : relative(repoRoot, join(repoRoot, dirname(file), m[1]));
      refs.push({ doc, ...(m[2] ? { anchor: m[2] } : {}) });
    }
  }
  return refs;
}

/** `.ts` paths comments name that are another project's files, each with its file and why. */
const EXTERNAL_TS: ReadonlyArray<readonly [file: string, path: string, why: string]> = [
  ['node/curve-wasm.ts', 'lib/index.d.ts', "tiny-secp256k1's own typings, in its package"],
];

/**
 * The `<dir>/<name>.ts` paths (also ./ and ../ ones) named in the comments of a .ts file's text,
 * with their line numbers: block comment lines (`/*`, `/**`, ` *`) and `//` comments (at a
 * line's start or after a space, so `mqtt://` in a string is not one).
 */
function commentedTsPaths(text: string): { line: number; path: string }[] {
  const found: { line: number; path: string }[] = [];
  text.split('\n').forEach((line, i) => {
    const comment = (/^\s*(?:\/\*\*?|\*(?!\/)|\/\/)(.*)$/.exec(line) ?? /(?:^|\s)\/\/\s(.*)$/.exec(line))?.[1];
    for (const m of comment?.matchAll(/(?<![\w./-])((?:\.{1,2}\/)*(?:[\w-]+\/)+[\w.-]+\.ts)\b/g) ?? []) found.push({ line: i + 1, path: m[1]! });
  });
  return found;
}

/**
 * Where a path named in `file` may be: from the citing file's directory when it starts with
 * ./ or ../; else from the repository's root, or from the citing file's top directory (its
 * package: signer/'s comments name policy/close-rules.ts for signer/policy/close-rules.ts).
 */
function candidates(file: string, path: string): string[] {
  if (path.startsWith('.')) return [posix.join(posix.dirname(file), path)];
  const top = file.split('/')[0]!;
  return file.includes('/') && !path.startsWith(`${top}/`) ? [path, `${top}/${path}`] : [path];
}

test('every .ts file a comment names exists in the repository', () => {
  const inRepo = new Set(repoFiles(/./));
  const missing: string[] = [];
  let checked = 0;
  for (const file of repoFiles(/\.ts$/)) {
    if (file === 'test/citations.test.ts') continue;
    for (const { line, path } of commentedTsPaths(readFileSync(join(repoRoot, file), 'utf8'))) {
      checked++;
      if (EXTERNAL_TS.some(([f, p]) => f === file && p === path)) continue;
      const looked = candidates(file, path);
      if (!looked.some((c) => inRepo.has(c)))
        missing.push(`${file}:${line} names ${path}, which is not in the repository (looked for ${looked.join(', ')}): ` +
          "correct the path, or, if it is another project's file, add it to EXTERNAL_TS with why");
    }
  }
  assert.ok(checked > 100, `only ${checked} .ts paths found in comments: the scan is broken`);
  assert.deepEqual(missing, []);
});

test('no citation of a document outside the repository', () => {
  const found: string[] = [];
  for (const file of sources()) {
    if (mayNameSources(file) || file === 'test/citations.test.ts') continue;
    readFileSync(join(repoRoot, file), 'utf8').split('\n').forEach((line, i) => {
      for (const [pattern, fix] of OUTSIDE) if (pattern.test(line)) found.push(`${file}:${i + 1}: ${fix}: ${line.trim()}`);
    });
  }
  assert.deepEqual(found, []);
});

test('every docs/ citation names a file and a section that exist', () => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of sources()) {
    if (file === 'test/citations.test.ts') continue;
    for (const ref of references(file, readFileSync(join(repoRoot, file), 'utf8'))) {
      checked++;
      const where = `${file} cites ${ref.doc}${ref.anchor ? `#${ref.anchor}` : ''}${ref.heading ? ` "${ref.heading}"` : ''}`;
      if (!existsSync(join(repoRoot, ref.doc))) broken.push(`${where}: no such file`);
      else if (ref.anchor && !headings(ref.doc).some((h) => slug(h) === ref.anchor)) broken.push(`${where}: no such section (${headings(ref.doc).map(slug).join(', ')})`);
      else if (ref.heading && !quotable(ref.doc).some((h) => names(h, ref.heading!))) broken.push(`${where}: no such heading or bold label`);
    }
  }
  assert.ok(checked > 50, `only ${checked} citations found: the scan is broken`);
  assert.deepEqual(broken, []);
});

test('the checks catch what they are for', () => {
  assert.equal(slug('hsm_secret formats'), 'hsm_secret-formats');
  assert.equal(slug('The way a request travels'), 'the-way-a-request-travels');
  // The samples are joined at run time so that this file does not itself cite them.
  const sample = (...parts: string[]) => parts.join('');
  assert.ok(OUTSIDE.some(([p]) => p.test(sample('// hsmd', '.md §A.4'))));
  assert.ok(OUTSIDE.some(([p]) => p.test(sample('(DESIGN', ' §2)'))));
  assert.ok(OUTSIDE.some(([p]) => p.test(sample('see ../sha', 'red/proto', 'col/prior', '-art.md'))));
  assert.ok(OUTSIDE.some(([p]) => p.test(sample('(issue', ' 6 item 5)'))));
  assert.ok(OUTSIDE.some(([p]) => p.test('where docs/design.md#durability-rules/§4 is silent')));
  assert.ok(OUTSIDE.some(([p]) => p.test('after the must-show session')));
  assert.ok(OUTSIDE.some(([p]) => p.test('as issues #12 asks')));
  assert.deepEqual(commentedTsPaths(sample(' * the (audit', '/state.ts) copy\n', "const u = 'mqtt://h/x.ts'; // see log/x.ts\n", "import { a } from './b.ts';")),
    [{ line: 1, path: sample('audit', '/state.ts') }, { line: 2, path: 'log/x.ts' }]);
  assert.deepEqual(candidates('signer/handlers/onchain.ts', 'psbt/psbt.ts'), ['psbt/psbt.ts', 'signer/psbt/psbt.ts']);
  assert.deepEqual(candidates('broker/remote/a.ts', '../b.ts'), ['broker/b.ts']);
  assert.deepEqual(candidates('log/file-port.ts', 'log/x.ts'), ['log/x.ts']);
  assert.deepEqual(references('x.ts', 'docs/design.md#nope and docs/remote-protocol.md "Connecting"'),
    [{ doc: 'docs/design.md', anchor: 'nope' }, { doc: 'docs/remote-protocol.md', heading: 'Connecting' }]);
});
