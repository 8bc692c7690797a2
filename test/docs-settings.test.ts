/**
 * The settings, flags and defaults docs/ names are the ones the tools have: every `SPHINX_*`
 * name the code uses is in a tool's --help, every one --help lists is in docs/, every one docs/
 * and examples/ name exists, every `--flag` docs/ names is a flag of one of the tools (or
 * lightningd's), the usage lines name every flag, and the defaults and exit codes docs/ and
 * examples/sphinx.conf state are the ones --help states. The --help texts are taken from the
 * real bins, so neither side drifts unnoticed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { SETTINGS } from '../broker/config.js';
import { repoFiles, repoRoot } from './fixtures.js';

function help(tool: string, ...args: string[]): string {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', tool), ...args, '--help'], { encoding: 'utf8', env: { ...process.env, SPHINX_CLN_VERSION: 'v25.12.1' } });
  assert.equal(r.status, 0, `${tool} ${args.join(' ')} --help exits 0: ${r.stderr}`);
  return r.stdout;
}

const AUDIT_COMMANDS = ['summary', 'verify', 'channel', 'state', 'report'];
const helps: Record<string, string> = {
  'sphinx-hsmd': help('sphinx-hsmd'),
  'sphinx-signer': help('sphinx-signer'),
  'sphinx-ctl': help('sphinx-ctl'),
  'sphinx-audit': [help('sphinx-audit'), ...AUDIT_COMMANDS.map((c) => help('sphinx-audit', c))].join('\n'),
};
const allHelp = Object.values(helps).join('\n');

/** `SPHINX_*` names in a text; a prefix (`SPHINX_POLICY_*`, `SPHINX_ACCEPT_`) is not a name. */
const settingNames = (text: string): Set<string> =>
  new Set([...text.matchAll(/\bSPHINX_[A-Z0-9_]+/g)].map((m) => m[0]).filter((n) => !n.endsWith('_')));

/** The measurement histories name the scratch switches of past experiments, not settings. */
const docs = [...repoFiles(/\.md$/, join(repoRoot, 'docs'))].filter((f) => !/performance/.test(f));
const docsText = docs.map((f) => readFileSync(join(repoRoot, f), 'utf8')).join('\n');

/** Names that are not a tool's setting, and why docs/ may still name them. */
const NOT_TOOL_SETTINGS: Record<string, string> = {
  SPHINX_XST: 'the XS engine for the tests and the bench (docs/device-memory.md "Under XS")',
  SPHINX_CLN_HSMD: 'CLN\'s own lightning_hsmd for the differential tests and the bench (docs/hsmd-protocol.md "The differential lane")',
  SPHINX_DIFFERENTIAL_FRAMES: 'how many malformed frames the differential lane sends (docs/hsmd-protocol.md "The differential lane")',
  SPHINX_ACCEPT_ROLLBACK: "SPHINX_ACCEPT_DEVICE_ROLLBACK's former name (docs/broker-log.md says so)",
};

/** Where the code of the tools is: every setting it reads or names must be in a --help. */
const TOOL_CODE = /^(bin|broker|firmware\/host|firmware\/app|ctl|audit|node|demo|log|core|signer|projections)\//;

test("every SPHINX_ name the tools' code uses is in a tool's --help", () => {
  const missing: string[] = [];
  for (const file of repoFiles(/\.ts$|^sphinx-/)) {
    if (!TOOL_CODE.test(file) || file.endsWith('.test.ts')) continue;
    for (const name of settingNames(readFileSync(join(repoRoot, file), 'utf8')))
      if (!allHelp.includes(name) && !(name in NOT_TOOL_SETTINGS)) missing.push(`${file}: ${name}`);
  }
  assert.deepEqual(missing, []);
});

test('every SPHINX_ setting a --help lists is described in docs/', () => {
  const undocumented = [...settingNames(allHelp)].filter((name) => !settingNames(docsText).has(name));
  assert.deepEqual(undocumented, []);
});

/** The operator's examples (a commented sphinx.conf, systemd units, Mosquitto's files) name settings too. */
const examples = [...repoFiles(/./, join(repoRoot, 'examples'))];

test('every SPHINX_ name in docs/ and examples/ is a setting of a tool (or named in NOT_TOOL_SETTINGS)', () => {
  const unknown: string[] = [];
  for (const file of [...docs, ...examples])
    for (const name of settingNames(readFileSync(join(repoRoot, file), 'utf8')))
      if (!allHelp.includes(name) && !(name in NOT_TOOL_SETTINGS)) unknown.push(`${file}: ${name}`);
  assert.deepEqual(unknown, []);
  for (const name of Object.keys(NOT_TOOL_SETTINGS)) assert.ok(!settingNames(allHelp).has(name), `${name} is a tool's setting now: drop it from NOT_TOOL_SETTINGS`);
});

/** Flags docs/ may name that belong to lightningd or Node, not to our tools. */
const OTHER_PROGRAMS_FLAGS = new Set(['--conf', '--daemon', '--dev-no-version-checks', '--hsm-passphrase', '--subdaemon', '--import', '--test']);

test("every --flag docs/ names is one of the tools' (or lightningd's or Node's)", () => {
  const flagsOf = (text: string): Set<string> => new Set([...text.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((m) => m[0]));
  const known = flagsOf(allHelp);
  const unknown: string[] = [];
  for (const file of docs)
    for (const flag of flagsOf(readFileSync(join(repoRoot, file), 'utf8')))
      if (!known.has(flag) && !OTHER_PROGRAMS_FLAGS.has(flag)) unknown.push(`${file}: ${flag}`);
  assert.deepEqual(unknown, []);
});

test("docs/device-tls.md's listener defaults are the ones sphinx-hsmd --help states", () => {
  const doc = readFileSync(join(repoRoot, 'docs', 'device-tls.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| `(SPHINX_[A-Z_]+)` \| `?([\w.]+)`? \|/gm)];
  assert.ok(rows.length >= 4, 'the listener table has its rows');
  for (const [, key, value] of rows) {
    const line = helps['sphinx-hsmd']!.split('\n').find((l) => l.startsWith(`  ${key} `));
    assert.ok(line, `${key} is in --help`);
    assert.match(line, new RegExp(`[Dd]efault:? ${value!.replace(/\./g, '\\.')}\\b`), `${key}: docs/device-tls.md says the default is ${value}`);
  }
});

test("sphinx-hsmd's and sphinx-signer's usage lines name every flag their --help explains", () => {
  for (const tool of ['sphinx-hsmd', 'sphinx-signer']) {
    const text = helps[tool]!;
    const usage = text.slice(0, text.indexOf('\n\n'));
    for (const [, flag] of text.matchAll(/^ {2}(--[a-z][a-z0-9-]*)/gm)) assert.match(usage, new RegExp(`${flag}\\b`), `${tool}: ${flag} in the usage lines`);
  }
});

test("docs/broker-log.md's table of sphinx-audit's exit codes has the codes its --help lists", () => {
  const doc = readFileSync(join(repoRoot, 'docs', 'broker-log.md'), 'utf8');
  const documented = [...doc.slice(doc.indexOf('| code | meaning |')).matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1]));
  const text = helps['sphinx-audit']!;
  const listed = [...text.slice(text.indexOf('Exit status:')).matchAll(/^ {2}(\d+) {2}/gm)].map((m) => Number(m[1]));
  assert.ok(listed.length >= 4, '--help lists its exit codes');
  assert.deepEqual(documented, listed);
});

// That it reads, and its keys are known: broker/config.test.ts.
test('examples/sphinx.conf shows every setting of sphinx-hsmd, with the default --help states', () => {
  const text = readFileSync(join(repoRoot, 'examples', 'sphinx.conf'), 'utf8');
  const shown = new Map([...text.matchAll(/^#?(SPHINX_[A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  for (const key of Object.keys(SETTINGS)) assert.ok(shown.has(key), `${key} is in examples/sphinx.conf`);
  // A number shown where --help states a numeric default is that default.
  for (const [key, value] of shown) {
    const stated = /\([Dd]efault (\d+)\)|[Dd]efault (\d+)[,.;)]/.exec(SETTINGS[key as keyof typeof SETTINGS] ?? '');
    if (stated && /^\d+$/.test(value)) assert.equal(value, stated[1] ?? stated[2], `${key}'s default`);
  }
});
