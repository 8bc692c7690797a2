/**
 * The systemd units in examples/systemd as shipped, run against the real bins: the device's
 * unit names its placeholders by their settings and does not restart the exits that need an
 * operator (the codes sphinx-signer --help states); lightningd's unit runs this sphinx-hsmd,
 * by an absolute path, and it answers the version the unit names.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import test from 'node:test';
import { BROKER_ID, dataDirWith } from './device-driver.js';
import { fixturePath, repoRoot } from './fixtures.js';
import { loadTranscript } from './transcript.js';

/** A recorded node's seed: the unit's data directory needs one to get as far as its settings. */
const secret = Uint8Array.from(Buffer.from(loadTranscript(fixturePath('transcripts/session-basic-l1.jsonl')).header.hsm_secret, 'hex'));

test('examples/systemd/sphinx-signer.service as shipped: its placeholder broker id and then its CA file are named by their settings', (t) => {
  const unit = readFileSync(join(repoRoot, 'examples', 'systemd', 'sphinx-signer.service'), 'utf8');
  const env: Record<string, string> = Object.fromEntries([...unit.matchAll(/^Environment=(\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  const args = /^ExecStart=\S+ \S+\/bin\/sphinx-signer(.*)$/m.exec(unit)![1]!.trim().split(/\s+/);
  env.SPHINX_SIGNER_DATA = dataDirWith(secret, t);
  const run = () => spawnSync(process.execPath, [join(repoRoot, 'bin', 'sphinx-signer'), ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 20_000 });
  const shipped = run();
  assert.equal(shipped.status, 1);
  assert.match(shipped.stderr, /^sphinx-signer: SPHINX_SIGNER_BROKER_ID=REPLACE-WITH-THE-BROKER-ID is not a broker id \(32 hex digits\)/);
  env.SPHINX_SIGNER_BROKER_ID = BROKER_ID;
  const filled = run();
  assert.equal(filled.status, 1);
  assert.match(filled.stderr, new RegExp(`^sphinx-signer: SPHINX_SIGNER_CA=${env.SPHINX_SIGNER_CA}: no such file \\(sphinx-hsmd's SPHINX_DATA_DIR/tls/ca\\.pem\\)\\n$`));
  // Those setup errors, and every other exit --help says needs the operator, are not restarted.
  const help = spawnSync(process.execPath, [join(repoRoot, 'bin', 'sphinx-signer'), '--help'], { encoding: 'utf8' }).stdout;
  const codes = /Exits (\d) on a setup problem, (\d) if the journal cannot be written, (\d) if the broker refused/.exec(help.replace(/\s+/g, ' '));
  assert.ok(codes, 'sphinx-signer --help states its exit codes');
  const prevented = /^RestartPreventExitStatus=(.*)$/m.exec(unit)![1]!.trim().split(/\s+/);
  assert.deepEqual(prevented, codes.slice(1, 4));
  assert.ok(prevented.includes(String(shipped.status)));
  assert.match(unit, /^Restart=always$/m);
});

test('examples/systemd/lightningd.service runs this sphinx-hsmd as its hsmd, which answers lightningd\'s --version', () => {
  const unit = readFileSync(join(repoRoot, 'examples', 'systemd', 'lightningd.service'), 'utf8');
  const exec = /^ExecStart=((?:.*\\\n)*.*)$/m.exec(unit)![1]!.replace(/\\\n\s*/g, ' ');
  const hsmd = /--subdaemon=hsmd:(\S+)/.exec(exec)![1]!;
  assert.ok(isAbsolute(hsmd), 'lightningd takes a relative --subdaemon path from its own directory');
  assert.match(hsmd, /^\/opt\/sphinx-key\/bin\/sphinx-hsmd$/, 'the install path the signer unit uses too');
  // The version lightningd checks its hsmd with: the one the unit's commented setting names.
  const cln = /^#Environment=SPHINX_CLN_VERSION=(\S+)$/m.exec(unit)![1]!;
  const version = spawnSync(process.execPath, [join(repoRoot, 'bin', 'sphinx-hsmd'), '--version'], { encoding: 'utf8', env: { PATH: process.env.PATH, SPHINX_CLN_VERSION: cln } });
  assert.equal(version.status, 0);
  assert.equal(version.stdout.trim(), cln);
  assert.match(unit, /^Restart=on-failure$/m);
});
