/**
 * docs/policies.md is the operator's list of the rules: every rule of the catalog
 * (signer/policy/catalog.ts) has one row saying where it runs and its default there, and every
 * setting of the device's policy (signer/policy/policy.ts DEFAULT_POLICY) has its default and
 * the rules it feeds. The document is checked against the code, so neither drifts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { isPolicyName, POLICIES } from '../signer/policy/catalog.js';
import { DEFAULT_POLICY, DEVICE_ONLY_RULES } from '../signer/policy/policy.js';
import { policyFromJson } from '../signer/policy/policy-codec.js';
import { MESSAGES, messageNameOf } from '../signer/wire/messages.js';
import { SETTINGS } from '../broker/config.js';
import { repoRoot } from './fixtures.js';

const doc = readFileSync(join(repoRoot, 'docs', 'policies.md'), 'utf8');

/** The rows of the markdown table whose header row starts with `| first |`, as trimmed cells. */
function table(first: string): string[][] {
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`| ${first} |`));
  assert.ok(start >= 0, `docs/policies.md has a table starting "| ${first} |"`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.slice(1, -1).split('|').map((c) => c.trim()));
  }
  return rows;
}

const codeNames = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

test('docs/policies.md has one row per rule of the catalog, saying where it runs and its default there', () => {
  const rows = table('rule');
  const named = rows.map((r) => codeNames(r[0]!)[0]!);
  assert.deepEqual([...named].sort(), Object.keys(POLICIES).sort(), 'the rules listed are the catalog\'s, each once');
  for (const [cell, , , where] of rows) {
    const name = codeNames(cell!)[0]!;
    assert.match(where!, /\bdevice\b[^|]*\bon\b/, `${name}: runs on the device`);
    const deviceOnly = (DEVICE_ONLY_RULES as readonly string[]).includes(name);
    if (deviceOnly) assert.match(where!, /local: off/, `${name} is off in local mode (DEVICE_ONLY_RULES)`);
    else assert.match(where!, /local: on|in local mode/, `${name}: what local mode does`);
  }
});

test("docs/policies.md's requests column names hsmd messages by their own numbers", () => {
  for (const [cell, requests] of table('rule')) {
    const rule = codeNames(cell!)[0]!;
    // `sign_withdrawal (7)`: the name and its number agree; `19, 35`: each number is a request.
    for (const [, name, type] of requests!.matchAll(/([a-z_]+) \((\d+)\)/g)) {
      const message = MESSAGES[`hsmd_${name}` as keyof typeof MESSAGES];
      assert.ok(message, `${rule}: hsmd_${name} is a message`);
      assert.equal(message.type, Number(type), `${rule}: hsmd_${name} is type ${message.type}`);
    }
    for (const [type] of requests!.replace(/\([^)]*\)/g, '').matchAll(/\d+/g))
      assert.ok(messageNameOf(Number(type)), `${rule}: ${type} is an hsmd message type`);
  }
});

test('docs/policies.md gives every setting of the device\'s policy with its default and the rules it feeds', () => {
  const rows = table('setting (`policy.json`, `sphinx-ctl policy set`)');
  const shown = (value: unknown): string =>
    value instanceof Set || Array.isArray(value) ? ([...(value as Iterable<unknown>)].length === 0 ? '`[]`' : 'a list') : BigInt(value as number | bigint).toLocaleString('en-US');
  const documented = new Map<string, string>();
  for (const [keys, defaults, rules] of rows) {
    const names = codeNames(keys!);
    const values = defaults!.split(', ');
    names.forEach((name, i) => documented.set(name, values.length === 1 ? values[0]! : values[i]!));
    for (const rule of codeNames(rules!)) assert.ok(isPolicyName(rule), `${names.join(', ')}: ${rule} is a rule of the catalog`);
  }
  assert.deepEqual([...documented.keys()].sort(), Object.keys(DEFAULT_POLICY).sort(), 'the settings listed are DEFAULT_POLICY\'s, each once');
  for (const [name, value] of Object.entries(DEFAULT_POLICY)) assert.equal(documented.get(name), shown(value), `${name}'s default`);
});

test("the defaults docs/policies.md gives beside SPHINX_POLICY_ settings are the ones sphinx-hsmd --help states", () => {
  const stated = (key: string): string => {
    const match = /\(default (\d+)\)/.exec(SETTINGS[key as keyof typeof SETTINGS] ?? '');
    assert.ok(match, `${key} states its default`);
    return match[1]!;
  };
  const number = (text: string): string => text.replace(/,/g, '');
  let checked = 0;
  // `SPHINX_POLICY_MAX_HTLCS` (1,000), and a range: [`SPHINX_POLICY_MIN_FEERATE`, `SPHINX_POLICY_MAX_FEERATE`] (253–150,000
  for (const [, key, value] of doc.matchAll(/`(SPHINX_POLICY_[A-Z_]+)` \(([\d,]+)/g)) {
    assert.equal(number(value!), stated(key!), `${key}'s default`);
    checked++;
  }
  for (const [, low, high, from, to] of doc.matchAll(/\[`(SPHINX_POLICY_[A-Z_]+)`, `(SPHINX_POLICY_[A-Z_]+)`\] \(([\d,]+)–([\d,]+)/g)) {
    assert.deepEqual([number(from!), number(to!)], [stated(low!), stated(high!)], `${low}, ${high}: defaults`);
    checked += 2;
  }
  assert.ok(checked >= 8, `${checked} defaults checked`);
});

test('the zero-conf fix docs/policies.md gives is a sphinx-ctl command and a policy.json the device applies', () => {
  const section = doc.slice(doc.indexOf('### Zero-conf channels'));
  assert.match(section, /policy-funding-confirmed/);
  const command = /^sphinx-ctl policy set (\S+)=(\S+)$/m.exec(section);
  assert.ok(command, 'a sphinx-ctl policy set KEY=VALUE line');
  const json = /`(\{"maxUnconfirmedHtlcSat": \d+\})` in the device's `policy.json`/.exec(section);
  assert.ok(json, "a policy.json object");
  // sphinx-ctl sends KEY=VALUE with VALUE parsed as JSON (ctl/cli.ts); the device applies
  // policy set and policy.json alike with policyFromJson (signer/control/commands.ts, firmware/app/control.ts).
  const fromCommand = policyFromJson({ [command[1]!]: JSON.parse(command[2]!) }, DEFAULT_POLICY, undefined);
  const fromFile = policyFromJson(JSON.parse(json[1]!), DEFAULT_POLICY, undefined);
  assert.equal(DEFAULT_POLICY.maxUnconfirmedHtlcSat, 0n);
  assert.equal(fromCommand.maxUnconfirmedHtlcSat, 1_000_000n);
  assert.equal(fromFile.maxUnconfirmedHtlcSat, 1_000_000n);
  const help = execFileSync(process.execPath, [join(repoRoot, 'bin', 'sphinx-ctl'), '--help'], { encoding: 'utf8' });
  assert.match(help, /policy set KEY=VALUE/, 'sphinx-ctl --help has the command');
});
