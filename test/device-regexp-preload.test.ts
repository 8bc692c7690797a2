/**
 * Regular expressions in flash (docs/device-memory.md): under the XS of SDK 8.2.3 (the newest
 * SDK source we hold), a RegExp that a preloaded module made at build time (a pattern
 * evaluated while the module body runs: a module-level constant, a static field) is kept in
 * flash without its match buffer, and every `exec` on it (`test`, `match`, `replace`, `split`
 * go through `exec`) gets a buffer from the C heap that the garbage collector then treats as
 * one of its own: a collection during the match corrupts memory. The preloaded firmware died
 * that way under the Linux simulator, in bolt11.ts's module-level pattern, at a
 * `preapprove_invoice_check`. A pattern written inside a function is compiled in RAM each time
 * it runs, with a buffer the collector owns, and is safe.
 *
 * So no module of the firmware's graph (ours and the packages it imports) may make a RegExp
 * while its body runs. This parses each module and reports every regular-expression literal and
 * every `RegExp(…)` / `new RegExp(…)` not inside a function (or inside one the body calls at
 * once: not followed; the Moddable lane, test/moddable-lin.test.ts, runs the firmware itself).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import ts from 'typescript';
import { firmwareGraphFiles } from './device-bundle.js';
import { repoRoot } from './fixtures.js';

/** Whether `node` makes a RegExp when it is evaluated. */
const makesRegExp = (node: ts.Node): boolean =>
  node.kind === ts.SyntaxKind.RegularExpressionLiteral ||
  ((ts.isNewExpression(node) || ts.isCallExpression(node)) && ts.isIdentifier(node.expression) && node.expression.text === 'RegExp');

/** Whether the code under `node` runs later than the module body: a function's body, or an instance field's initializer. */
const deferred = (node: ts.Node): boolean =>
  ts.isFunctionLike(node) || (ts.isPropertyDeclaration(node) && !(ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Static));

/** "name:line: text" of each RegExp that `text` (a module's source) makes while its body runs. */
function moduleLevelRegExps(name: string, text: string): string[] {
  const source = ts.createSourceFile(name, text, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (deferred(node)) return;
    if (makesRegExp(node)) {
      const { line } = source.getLineAndCharacterOfPosition(node.getStart());
      found.push(`${name}:${line + 1}: ${node.getText()}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

test('the detector finds the RegExps a module body makes, and not those of its functions (a control written to be found)', () => {
  const text = [
    'const HRP = /^ln(bc|tb)$/;',
    'export const TABLE = { hex: new RegExp("^[0-9a-f]+$"), plain: RegExp("x") };',
    'export class Parser { static readonly WORD = /\\w+/; readonly line = /\\n/; parse(s: string) { return /a/.test(s); } }',
    'export const isHex = (s: string) => /^[0-9a-f]*$/.test(s);',
    'export function split(s: string) { return s.split(new RegExp(",")); }',
    'const notOne = RegExpish("x"), alsoNot = "/not a pattern/";',
  ].join('\n');
  assert.deepEqual(moduleLevelRegExps('control.ts', text), [
    'control.ts:1: /^ln(bc|tb)$/',
    'control.ts:2: new RegExp("^[0-9a-f]+$")',
    'control.ts:2: RegExp("x")',
    'control.ts:3: /\\w+/',
  ]);
});

test('no module of the firmware graph makes a RegExp while its body runs (XS keeps it in flash, unsafe to match)', () => {
  const files = firmwareGraphFiles();
  assert.ok(files.length > 100 && files.some((f) => f.includes('@noble')), `the graph has our modules and the packages (${files.length})`);
  assert.deepEqual(files.flatMap((f) => moduleLevelRegExps(f, readFileSync(join(repoRoot, f), 'utf8'))), []);
});
