/**
 * bin/sphinx-ctl as an owner meets it: a file, nonce, URL or id typed wrong is a usage error
 * (exit 2, as --help says) whose message names the mistake, never a stack trace; a flag beats
 * the environment. The signed commands themselves against a device: test/device-policy.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { repoRoot } from './fixtures.js';

const CTL = join(repoRoot, 'bin', 'sphinx-ctl');
const DEVICE = '02' + '11'.repeat(32);
const root = mkdtempSync(join(tmpdir(), 'sphinx-ctl-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const KEY = join(root, 'owner.key');
const env = { ...process.env, SPHINX_CTL_KEY: KEY, SPHINX_CTL_DEVICE: DEVICE, SPHINX_CTL_BROKER: undefined };

function ctl(args: readonly string[], extraEnv: Record<string, string> = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CTL, ...args], { encoding: 'utf8', env: { ...env, ...extraEnv } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test.before(() => assert.equal(ctl(['keygen', '--key', KEY]).code, 0));

/** A usage error: exit 2, one message matching `message`, the pointer to --help, no stack. */
function assertUsage(r: { code: number | null; err: string }, message: RegExp): void {
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, message);
  assert.match(r.err, /^sphinx-ctl: .*\n\(sphinx-ctl --help\)\n$/);
}

test('files that are missing or not JSON, a bad nonce or URL, an unwritable key: usage errors naming them, exit 2', () => {
  const notJson = join(root, 'not.json');
  writeFileSync(notJson, '{bad');
  const list = join(root, 'list.json');
  writeFileSync(list, '[1]');
  const missing = join(root, 'missing.json');
  assertUsage(ctl(['policy', 'set', '--file', missing]), /cannot read policy file .*missing\.json: ENOENT/);
  assertUsage(ctl(['policy', 'set', '--file', notJson]), /policy file .*not\.json is not JSON/);
  assertUsage(ctl(['send', missing]), /cannot read signed command .*missing\.json: ENOENT/);
  assertUsage(ctl(['send', notJson]), /signed command .*not\.json is not JSON/);
  assertUsage(ctl(['send', list]), /list\.json is not a command printed by sphinx-ctl sign/);
  assertUsage(ctl(['--nonce', 'abc', 'status']), /--nonce abc is not a whole number/);
  assertUsage(ctl(['--broker', 'localhost:8735', 'status']), /"localhost:8735" is not a URL: .*--broker http:\/\/127\.0\.0\.1:8735\//);
  assertUsage(ctl(['--broker', 'mqtt://127.0.0.1:1883', 'status']), /mqtt:\/\/127\.0\.0\.1:1883 is not the broker's status page: --broker takes its http:\/\/ URL/);
  assertUsage(ctl(['--key', root, 'status']), /cannot read owner key .*: EISDIR/);
  assertUsage(ctl(['keygen', '--key', join(root, 'no-such-dir', 'k')]), /cannot write .*no-such-dir\/k: ENOENT/);
});

test('--version anywhere on the line prints the version, as --help does', () => {
  const r = ctl(['--key', KEY, 'status', '--version']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^sphinx-ctl \d+\.\d+\.\d+\n$/);
});

test('a device id typed wrong is named; one in capitals is the same id; approve of a short hex is refused here', () => {
  assertUsage(ctl(['--device', '02abc', 'status']), /--device 02abc is not a node id \(66 hex digits starting 02 or 03\)/);
  const signed = ctl(['--device', DEVICE.toUpperCase(), 'sign', 'status']);
  assert.equal(signed.code, 0, signed.err);
  assert.equal(JSON.parse(JSON.parse(signed.out).body).device, DEVICE);
  assertUsage(ctl(['approve', '00ff']), /approve: 00ff is neither a payment hash \(64 hex digits\) nor an invoice/);
  const hash = 'AB'.repeat(32);
  const approve = JSON.parse(JSON.parse(ctl(['sign', 'approve', hash]).out).body);
  assert.deepEqual(approve.args, { paymentHash: hash.toLowerCase() });
});

test('limits set --window that is not a number is sent as typed (the device\'s refusal quotes it), not as null', () => {
  const r = ctl(['sign', 'limits', 'set', '--window', 'abc']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(JSON.parse(r.out).body).args, { velocityWindowSec: 'abc' });
  assert.deepEqual(JSON.parse(JSON.parse(ctl(['sign', 'limits', 'set', '--window', '600']).out).body).args, { velocityWindowSec: 600 });
});

test('--broker-dir on the command line beats SPHINX_CTL_BROKER in the environment', async () => {
  const hits: string[] = [];
  const server = (name: string): Promise<http.Server> => new Promise((resolve) => {
    const s = http.createServer((req, res) => {
      hits.push(`${name} ${req.method} ${req.url}`);
      res.writeHead(400).end('not a command');
    });
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
  const [fromDir, fromEnv] = [await server('dir'), await server('env')];
  const urlOf = (s: http.Server): string => `http://127.0.0.1:${(s.address() as AddressInfo).port}/`;
  const brokerDir = join(root, 'broker');
  mkdirSync(brokerDir);
  writeFileSync(join(brokerDir, 'status-url'), urlOf(fromDir) + '\n');
  try {
    const child = spawn(process.execPath, [CTL, '--broker-dir', brokerDir, 'status'], { env: { ...env, SPHINX_CTL_BROKER: urlOf(fromEnv) } });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(code, 2);
    assert.match(err, /the broker answered 400: not a command/);
    assert.deepEqual(hits, ['dir POST /control']);
  } finally {
    fromDir.close();
    fromEnv.close();
  }
});
