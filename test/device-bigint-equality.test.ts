/**
 * BigInts in flash (docs/device-memory.md): under XS 8.2.3, `===` (and `!==`, `==`, `!=`,
 * `switch`) between a BigInt that a preloaded module made at build time (a module-level
 * constant, or a property of a module-level object: kept in flash) and an equal BigInt made at
 * run time is false. No module of the firmware's graph may compare a module-level BigInt that
 * way; order comparisons (`<`, `>=`, …) and arithmetic are right, and so is `===` against a
 * literal written in the expression (the engine makes it in RAM each time).
 *
 * This finds the direct form: an operand that names a module-level BigInt (or a property of a
 * module-level object), in our TypeScript. A constant passed through a function and compared
 * there is not followed; the Moddable lane (test/moddable-lin.test.ts) runs the preloaded
 * firmware itself.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import test from 'node:test';
import ts from 'typescript';
import { firmwareGraphFiles } from './device-bundle.js';
import { repoRoot } from './fixtures.js';

const EQUALITY = new Set([
  ts.SyntaxKind.EqualsEqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsEqualsToken,
  ts.SyntaxKind.EqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsToken,
]);

const OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  types: [],
};

/** "file:line: text" of each equality that compares a module-level BigInt, in `files`. */
function flashBigIntEqualities(program: ts.Program, files: readonly string[]): string[] {
  const checker = program.getTypeChecker();
  const isBigInt = (e: ts.Expression) => (checker.getTypeAtLocation(e).flags & ts.TypeFlags.BigIntLike) !== 0;
  /** The declaration `e` names, through imports; for `a.b.c`, the one `a` names. */
  const rootDeclaration = (e: ts.Expression): ts.Declaration | undefined => {
    let root = e;
    while (ts.isPropertyAccessExpression(root) || ts.isParenthesizedExpression(root)) root = root.expression;
    if (!ts.isIdentifier(root)) return undefined;
    let symbol = checker.getSymbolAtLocation(root);
    if (symbol !== undefined && (symbol.flags & ts.SymbolFlags.Alias) !== 0) symbol = checker.getAliasedSymbol(symbol);
    return symbol?.valueDeclaration;
  };
  const isModuleLevel = (d: ts.Declaration | undefined): boolean =>
    d !== undefined && ts.isVariableDeclaration(d) && ts.isVariableDeclarationList(d.parent) && ts.isVariableStatement(d.parent.parent) && ts.isSourceFile(d.parent.parent.parent);
  const stored = (e: ts.Expression) => isBigInt(e) && isModuleLevel(rootDeclaration(e));
  const found: string[] = [];
  for (const file of files) {
    const source = program.getSourceFile(file);
    assert.ok(source, `${file} is in the program`);
    const report = (node: ts.Node) => {
      const { line } = source.getLineAndCharacterOfPosition(node.getStart());
      found.push(`${file.slice(repoRoot.length + 1)}:${line + 1}: ${node.getText()}`);
    };
    const visit = (node: ts.Node): void => {
      if (ts.isBinaryExpression(node) && EQUALITY.has(node.operatorToken.kind) && (stored(node.left) || stored(node.right))) report(node);
      if (ts.isSwitchStatement(node)) {
        const clauses = node.caseBlock.clauses.filter(ts.isCaseClause);
        if (stored(node.expression) || clauses.some((c) => stored(c.expression))) report(node.expression);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

test('the detector finds a module-level BigInt compared with === (a control written to be found)', () => {
  const file = join(repoRoot, 'test', 'bigint-equality-control.ts');
  const text = [
    'const LIMIT = 7n;',
    'const TABLE = { max: 9n };',
    'export const a = (x: bigint) => x === LIMIT;',
    'export const b = (x: bigint) => TABLE.max !== x;',
    'export const ok = (x: bigint) => x === 7n || x >= LIMIT || x < TABLE.max;',
    'export function c(x: bigint) { switch (x) { case LIMIT: return 1; default: return 0; } }',
  ].join('\n');
  const host = ts.createCompilerHost(OPTIONS);
  const read = host.readFile.bind(host);
  host.readFile = (name) => (name === file ? text : read(name));
  host.fileExists = ((exists) => (name: string) => name === file || exists(name))(host.fileExists.bind(host));
  const getSource = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language) => (name === file ? ts.createSourceFile(name, text, language) : getSource(name, language));
  const program = ts.createProgram([file], OPTIONS, host);
  assert.deepEqual(flashBigIntEqualities(program, [file]), [
    'test/bigint-equality-control.ts:3: x === LIMIT',
    'test/bigint-equality-control.ts:4: TABLE.max !== x',
    'test/bigint-equality-control.ts:6: x',
  ]);
});

test('no module of the firmware graph compares a module-level BigInt with === (XS 8.2.3 keeps it in flash)', () => {
  const files = firmwareGraphFiles()
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(repoRoot, f));
  assert.ok(files.length > 100, `the graph has our modules (${files.length})`);
  const program = ts.createProgram(files, OPTIONS);
  assert.deepEqual(flashBigIntEqualities(program, files), []);
});
