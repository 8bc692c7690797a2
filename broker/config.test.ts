/**
 * Settings from sphinx.conf and the environment, and the policy they configure.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { toHex } from '../signer/bytes.js';
import { DEFAULT_POLICY, LOCAL_POLICY } from '../signer/policy/policy.js';
import { HSMD_BIN } from '../demo/sim-lightningd.js';
import { repoRoot } from '../test/fixtures.js';
import { ConfigError, loadSettings, policyOf, remoteOf, signerKindOf } from './config.js';

function withConf(text: string | undefined, f: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-conf-'));
  try {
    if (text !== undefined) writeFileSync(join(dir, 'sphinx.conf'), text);
    f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('sphinx.conf is read, comments ignored, and the environment wins', () => {
  withConf('# a comment\nSPHINX_DATA_DIR = /var/sphinx  # trailing\nSPHINX_POLICY_MAX_HTLCS=30\n', (dir) => {
    const s = loadSettings({ SPHINX_POLICY_MAX_HTLCS: '40', PATH: '/bin' }, dir);
    assert.equal(s.SPHINX_DATA_DIR, '/var/sphinx');
    assert.equal(s.SPHINX_POLICY_MAX_HTLCS, '40');
  });
  // As `set -a; . sphinx.conf` reads it: a `#` inside a word is part of the value.
  withConf('SPHINX_BITCOIND_PASSWORD=pa#ss # comment\nSPHINX_BITCOIND_USER=#\n', (dir) => {
    const s = loadSettings({}, dir);
    assert.equal(s.SPHINX_BITCOIND_PASSWORD, 'pa#ss');
    assert.equal(s.SPHINX_BITCOIND_USER, '#');
  });
});

test('sphinx.conf values may be quoted as in an EnvironmentFile: the quotes are not part of the value', () => {
  const conf = [
    'SPHINX_POLICY_WARN_ONLY="policy-feerate-range"',
    "SPHINX_DATA_DIR='/var/lib/sphinx key' # a comment after the quotes",
    'SPHINX_HTTP_HOST="127.0.0.1#not-a-comment"',
    'SPHINX_MQTT_URL="mqtt://u:p\\"q@h:1"',
  ].join('\n');
  withConf(conf, (dir) => {
    const s = loadSettings({}, dir);
    assert.equal(s.SPHINX_POLICY_WARN_ONLY, 'policy-feerate-range');
    assert.deepEqual([...policyOf(s).warnOnly], ['policy-feerate-range']);
    assert.equal(s.SPHINX_DATA_DIR, '/var/lib/sphinx key');
    assert.equal(s.SPHINX_HTTP_HOST, '127.0.0.1#not-a-comment');
    assert.equal(s.SPHINX_MQTT_URL, 'mqtt://u:p"q@h:1');
  });
  withConf('SPHINX_DATA_DIR="/x\n', (dir) =>
    assert.throws(() => loadSettings({}, dir), (e: Error) => e instanceof ConfigError && /sphinx\.conf:1: .*no closing "/.test(e.message)));
  withConf("SPHINX_DATA_DIR='/x' /y\n", (dir) =>
    assert.throws(() => loadSettings({}, dir), /sphinx\.conf:1: .*unexpected "\/y" after the closing '/));
});

test('unknown keys: refused in sphinx.conf (naming the line), a warning in the environment', () => {
  withConf('SPHINX_DATA_DIR=/x\nSPHINX_MAX_HTLC=3\n', (dir) => {
    assert.throws(() => loadSettings({}, dir), (e: Error) => e instanceof ConfigError && /sphinx\.conf:2: .*SPHINX_MAX_HTLC/.test(e.message));
  });
  withConf(undefined, (dir) => {
    const warnings: string[] = [];
    assert.deepEqual(loadSettings({ SPHINX_SINGER: 'local' }, dir, (w) => warnings.push(w)), {});
    assert.match(warnings.join('\n'), /ignoring unknown setting SPHINX_SINGER/);
  });
});

test('no settings: the local default policy, everything enforced but the device-only rules (off: CLN checks neither)', () => {
  withConf(undefined, (dir) => assert.deepEqual(policyOf(loadSettings({}, dir)), LOCAL_POLICY));
  assert.deepEqual([...LOCAL_POLICY.off], ['policy-onchain-destination', 'policy-onchain-sighash-all', 'policy-holder-shutdown-script', 'policy-mutual-value-matches-commitment', 'policy-payment-velocity', 'policy-htlc-payment-approved', 'policy-commitment-holder-validated', 'policy-htlc-tx-locktime']);
  assert.deepEqual(LOCAL_POLICY, { ...DEFAULT_POLICY, off: LOCAL_POLICY.off });
});

test('remote mode: any SPHINX_POLICY_* setting is refused, saying the policy belongs to the device and how to set it there', () => {
  withConf('SPHINX_POLICY_MAX_CHANNEL_VALUE_SAT=1000\n', (dir) => {
    const s = loadSettings({}, dir);
    assert.throws(() => remoteOf(s), /SPHINX_POLICY_MAX_CHANNEL_VALUE_SAT set, but with SPHINX_SIGNER=remote the policy belongs to the device[^]*policy\.json in its data directory[^]*sphinx-ctl policy set maxChannelValueSat=1000/);
    assert.equal(policyOf({ ...s, SPHINX_SIGNER: 'local' }).maxChannelValueSat, 1000n, 'local mode keeps them');
  });
});

test('policy settings: warn-only names, limits and allowlist; mistakes name the fix', () => {
  const p = policyOf({
    SPHINX_POLICY_WARN_ONLY: 'policy-feerate-range, policy-htlc-count',
    SPHINX_POLICY_MAX_FEERATE: '5000',
    SPHINX_POLICY_MAX_CHANNEL_VALUE_SAT: '16777215',
    SPHINX_POLICY_ALLOWLIST: '0014' + '11'.repeat(20),
  });
  assert.deepEqual([...p.warnOnly], ['policy-feerate-range', 'policy-htlc-count']);
  assert.equal(p.maxFeeratePerKw, 5000);
  assert.equal(p.maxChannelValueSat, 16777215n);
  assert.deepEqual(p.allowlist.map(toHex), ['0014' + '11'.repeat(20)]);
  assert.throws(() => policyOf({ SPHINX_POLICY_WARN_ONLY: 'policy-everything' }), /unknown policy "policy-everything"; known: policy-/);
  assert.throws(() => policyOf({ SPHINX_POLICY_MAX_HTLCS: 'lots' }), /SPHINX_POLICY_MAX_HTLCS=lots: expected a whole number/);
  assert.throws(() => policyOf({ SPHINX_POLICY_ALLOWLIST: 'bc1qxyz' }), /not a hex scriptPubKey/);
});

test('SPHINX_ACCEPT_DEVICE_ROLLBACK names one device and one last id (u64); anything else is refused with the form expected', () => {
  const device = '02' + 'ab'.repeat(32);
  assert.equal(remoteOf({}).acceptRollback, undefined);
  assert.deepEqual(remoteOf({ SPHINX_ACCEPT_DEVICE_ROLLBACK: `${device}:7` }).acceptRollback, { device, lastId: 7n });
  for (const bad of [device, `${device}:`, `${device}:-1`, `${device}:18446744073709551616`, `${device.toUpperCase()}:7`, 'ab:7'])
    assert.throws(() => remoteOf({ SPHINX_ACCEPT_DEVICE_ROLLBACK: bad }), /SPHINX_ACCEPT_DEVICE_ROLLBACK=.*: expected DEVICE_ID:LAST_ID/);
});

test('SPHINX_WARM_UP_MS: 1000 by default, 0 turns the warm start off, anything but a whole number is refused', () => {
  assert.equal(remoteOf({}).warmUpMs, 1000);
  assert.equal(remoteOf({ SPHINX_WARM_UP_MS: '0' }).warmUpMs, 0);
  for (const bad of ['-1', '1.5', 'soon']) assert.throws(() => remoteOf({ SPHINX_WARM_UP_MS: bad }), new RegExp(`SPHINX_WARM_UP_MS=${bad}: expected a whole number \\(default 1000\\)`));
});

test('sphinx-hsmd in remote mode with SPHINX_POLICY_MAX_CHANNEL_VALUE_SAT=1000 in sphinx.conf does not start, saying the policy belongs to the device', () => {
  withConf('SPHINX_POLICY_MAX_CHANNEL_VALUE_SAT=1000\n', (dir) => {
    const r = spawnSync(HSMD_BIN, [], { cwd: dir, env: { ...process.env, SPHINX_CLN_VERSION: 'v25.12.1' }, encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /SPHINX_POLICY_MAX_CHANNEL_VALUE_SAT set, but with SPHINX_SIGNER=remote the policy belongs to the device/);
  });
});

test('sphinx-hsmd refuses to start on a bad setting, saying which (exit 1)', () => {
  withConf('SPHINX_POLICY_WARN_ONLY=policy-nope\n', (dir) => {
    const r = spawnSync(HSMD_BIN, [], { cwd: dir, env: { ...process.env, SPHINX_CLN_VERSION: 'v25.12.1' }, encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /SPHINX_POLICY_WARN_ONLY: unknown policy "policy-nope"/);
  });
});

test('--help lists every setting', () => {
  const r = spawnSync(HSMD_BIN, ['--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  for (const key of ['SPHINX_SIGNER', 'SPHINX_DATA_DIR', 'SPHINX_POLICY_WARN_ONLY', 'SPHINX_POLICY_ALLOWLIST', 'sphinx.conf'])
    assert.ok(r.stdout.includes(key), key);
});

test('listener addresses: plain MQTT on loopback unless allowed explicitly; TLS generation conflicts with given files', () => {
  const defaults = remoteOf({});
  assert.equal(defaults.mqttHost, '127.0.0.1');
  assert.equal(defaults.tls, undefined);
  assert.equal(defaults.generateTls, undefined);
  assert.equal(remoteOf({ SPHINX_MQTT_HOST: '127.0.0.3' }).mqttHost, '127.0.0.3');
  assert.throws(() => remoteOf({ SPHINX_MQTT_HOST: '0.0.0.0' }), (e: Error) =>
    e instanceof ConfigError && /plain MQTT .* in the clear/.test(e.message) && /SPHINX_TLS_GENERATE=1/.test(e.message) && /SPHINX_MQTT_PLAIN_REMOTE=1/.test(e.message));
  assert.equal(remoteOf({ SPHINX_MQTT_HOST: '0.0.0.0', SPHINX_MQTT_PLAIN_REMOTE: '1' }).mqttHost, '0.0.0.0');
  assert.deepEqual(remoteOf({ SPHINX_TLS_GENERATE: '1', SPHINX_MQTT_TLS_HOST: '192.168.1.2', SPHINX_TLS_NAMES: 'node.lan, 10.0.0.2' }).generateTls,
    { port: 8883, host: '192.168.1.2', givesWay: true, names: ['node.lan', '10.0.0.2'] });
  // Only a default port gives way to a free one when taken (a second node on this machine).
  assert.equal(defaults.mqttPortGivesWay, true);
  assert.equal(remoteOf({ SPHINX_MQTT_PORT: '1883' }).mqttPortGivesWay, false);
  assert.equal(remoteOf({ SPHINX_TLS_GENERATE: '1', SPHINX_MQTT_TLS_PORT: '8883' }).generateTls?.givesWay, false);
  assert.equal(remoteOf({ SPHINX_TLS_GENERATE: '1' }).generateTls?.host, '0.0.0.0');
  assert.throws(() => remoteOf({ SPHINX_TLS_GENERATE: '1', SPHINX_TLS_CERT: 'c.pem', SPHINX_TLS_KEY: 'k.pem' }), /makes its own certificate/);
  assert.throws(() => remoteOf({ SPHINX_TLS_GENERATE: 'yes' }), /SPHINX_TLS_GENERATE=yes: expected 1/);
});

test('examples/sphinx.conf reads as it is, and every setting it shows commented out is a known key', () => {
  const example = readFileSync(join(repoRoot, 'examples', 'sphinx.conf'), 'utf8');
  withConf(example, (dir) => assert.equal(signerKindOf(loadSettings({}, dir)), 'remote'));
  const shown = [...example.matchAll(/^#(SPHINX_[A-Z_]+)=/gm)].map((m) => m[1]!);
  assert.ok(shown.length >= 10, `${shown.length} settings shown`);
  withConf(shown.map((key) => `${key}=1`).join('\n'), (dir) => assert.deepEqual(Object.keys(loadSettings({}, dir)).sort(), [...new Set(shown)].sort()));
});
