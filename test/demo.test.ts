/**
 * `npm start` (demo/demo.ts) as a newcomer runs it: it ends 0 with every reply identical to
 * CLN's, says why init is slow, the sphinx-audit command it prints runs as printed and finds
 * no mismatch, and the device's output of a clean run ends without a lost connection.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { repoRoot } from './fixtures.js';

test('npm start: identical replies, the printed audit command passes, the device output has no lost connection', () => {
  const demo = spawnSync(process.execPath, [join(repoRoot, 'dist', 'demo', 'demo.js')], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  const work = /^logs \(kept\): (\S+)$/m.exec(demo.stdout)?.[1];
  try {
    assert.equal(demo.status, 0, demo.stdout + demo.stderr);
    assert.match(demo.stdout, /^(\d+)\/\1 replies byte-identical to Core Lightning's own hsmd\.$/m);
    assert.match(demo.stdout, /init's time includes the device starting and connecting/);
    const command = /^ {2}audit them: +(bin\/sphinx-audit .+)$/m.exec(demo.stdout)?.[1];
    assert.ok(command, demo.stdout);
    const [bin, ...args] = command.split(' ');
    const audit = spawnSync(process.execPath, [join(repoRoot, bin!), ...args], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(audit.status, 0, audit.stdout + audit.stderr);
    assert.match(audit.stdout, /^OK: no mismatch$/m);
    const device = readFileSync(/device output: (\S+)\)/.exec(demo.stdout)![1]!, 'utf8');
    assert.match(device, /INFO +stopped: MQTT closed\n$/);
    assert.doesNotMatch(device, /lost the connection/);
  } finally {
    if (work) rmSync(work, { recursive: true, force: true });
  }
});
