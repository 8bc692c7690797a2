/**
 * bin/sphinx-hsmd's command line: `--version` must print lightningd's version() and a
 * newline (lightningd test_subdaemons, docs/hsmd-protocol.md#version-check), `--help` documents the settings.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { HSMD_BIN } from '../demo/sim-lightningd.js';
import { repoRoot } from './fixtures.js';

/** sphinx-hsmd's own version: package.json's, which --version cannot print (it must print lightningd's). */
const OWN_VERSION = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

function run(args: string[], env: Record<string, string | undefined>, viaShell = false) {
  const base = { ...process.env };
  delete base['SPHINX_CLN_VERSION'];
  const merged = { ...base, ...env };
  // Through a shell that stays the parent (the trailing echo keeps it from exec'ing us).
  const [cmd, argv] = viaShell ? ['/bin/sh', ['-c', `"${HSMD_BIN}" ${args.join(' ')}; echo exit=$?`]] : [HSMD_BIN, args];
  return spawnSync(cmd, argv as string[], { env: merged, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

test('--version prints SPHINX_CLN_VERSION and a newline, nothing else, exit 0', () => {
  const r = run(['--version'], { SPHINX_CLN_VERSION: 'v25.12.1' });
  assert.equal(r.stdout, 'v25.12.1\n');
  assert.equal(r.stderr, '');
  assert.equal(r.status, 0);
});

test('--version without SPHINX_CLN_VERSION asks the parent process: here node, so node --version', () => {
  const r = run(['--version'], {});
  assert.equal(r.stdout, `${process.version}\n`);
  assert.equal(r.status, 0);
});

test('--version under a parent that is not lightningd fails clearly, naming sphinx-hsmd\'s own version', () => {
  const r = run(['--version'], {}, true);
  assert.equal(r.stdout, 'exit=1\n');
  // dash fails `--version`; bash prints a banner that is not a version: both are refused.
  assert.match(r.stderr, /cannot tell lightningd's version: .*\nSet SPHINX_CLN_VERSION/);
  assert.ok(r.stderr.startsWith(`sphinx-hsmd ${OWN_VERSION}: `), r.stderr);
});

test('--help names sphinx-hsmd\'s own version, lists the options and the environment', () => {
  const r = run(['--help'], {});
  assert.equal(r.status, 0);
  assert.equal(r.stdout.split('\n')[0], `sphinx-hsmd ${OWN_VERSION}`);
  for (const word of ['--developer', '--log-trace', 'SPHINX_SIGNER', 'SPHINX_DATA_DIR', 'SPHINX_CLN_VERSION', 'SPHINX_LOG_STDERR']) {
    assert.ok(r.stdout.includes(word), word);
  }
});

test('--help lists the remote signer settings', () => {
  const r = run(['--help'], {});
  for (const word of ['SPHINX_MQTT_PORT', 'SPHINX_MQTT_URL', 'SPHINX_DEVICE_KEYS', 'SPHINX_TLS_CERT', 'SPHINX_TLS_KEY', 'SPHINX_MQTT_TLS_PORT']) {
    assert.ok(r.stdout.includes(word), word);
  }
  assert.match(r.stdout, /SPHINX_SIGNER +where signing happens: remote \(default/);
});

test('an unknown SPHINX_SIGNER is refused naming both choices; remote settings are checked at start', () => {
  const r = run([], { SPHINX_SIGNER: 'cloud', SPHINX_CLN_VERSION: 'v25.12.1' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /SPHINX_SIGNER=cloud: expected remote \(the default\) or local/);
  const url = run([], { SPHINX_MQTT_URL: 'http://example.org', SPHINX_CLN_VERSION: 'v25.12.1' });
  assert.equal(url.status, 1);
  assert.match(url.stderr, /SPHINX_MQTT_URL=http:\/\/example.org: expected mqtt:\/\/host:port/);
  const keys = run([], { SPHINX_SIGNER: 'remote', SPHINX_DEVICE_KEYS: 'abc', SPHINX_CLN_VERSION: 'v25.12.1' });
  assert.equal(keys.status, 1);
  assert.match(keys.stderr, /SPHINX_DEVICE_KEYS: "abc" is not a compressed public key/);
});

test('SPHINX_SIGNER=remote (the default) is accepted: without lightningd\'s fds it stops at those', () => {
  const r = run([], { SPHINX_SIGNER: 'remote', SPHINX_CLN_VERSION: 'v25.12.1' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /fd 0 and fd 3 must be the sockets lightningd passes/);
});
