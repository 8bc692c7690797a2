/**
 * The generated TLS files: openssl (an independent X.509 implementation) verifies the chain and
 * the names; the CA is kept across starts and the server certificate made again, by the same
 * CA, when a name is missing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureTlsFiles } from './tls-files.js';

test('openssl verifies the generated chain for its names; the CA is kept, the server certificate follows the names', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-tlsfiles-'));
  try {
    const first = ensureTlsFiles(dir, ['localhost', '127.0.0.2', 'signer.lan']);
    assert.ok(first.caCreated && first.serverCreated);
    for (const [flag, name] of [['-verify_ip', '127.0.0.2'], ['-verify_hostname', 'signer.lan'], ['-verify_hostname', 'localhost']]) {
      const out = execFileSync('openssl', ['verify', '-purpose', 'sslserver', flag!, name!, '-CAfile', first.caFile, first.certFile], { encoding: 'utf8' });
      assert.match(out, /: OK/);
    }
    assert.throws(() => execFileSync('openssl', ['verify', '-verify_ip', '10.9.9.9', '-CAfile', first.caFile, first.certFile], { stdio: 'pipe' }));
    assert.equal(statSync(join(dir, 'tls', 'ca.key')).mode & 0o777, 0o600);
    assert.equal(statSync(first.keyFile).mode & 0o777, 0o600);
    const ca = new X509Certificate(readFileSync(first.caFile));
    assert.equal(ca.ca, true);
    assert.equal(first.caFingerprint, ca.fingerprint256);
    // Both name their issuer's key (Moddable's TLS needs it on the CA the server presents); openssl reads the same key id.
    const keyIds = (file: string) => execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectKeyIdentifier,authorityKeyIdentifier', '-in', file], { encoding: 'utf8' });
    const caIds = keyIds(first.caFile);
    const subjectKeyId = /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(caIds)?.[1];
    assert.ok(subjectKeyId, caIds);
    assert.match(caIds, new RegExp(`Authority Key Identifier:\\s*\\n\\s*(keyid:)?${subjectKeyId}`));
    assert.match(keyIds(first.certFile), new RegExp(`Authority Key Identifier:\\s*\\n\\s*(keyid:)?${subjectKeyId}`));
    assert.equal(first.caLacksAuthorityKeyId, false);

    const again = ensureTlsFiles(dir, ['localhost', '127.0.0.2']);
    assert.ok(!again.caCreated && !again.serverCreated, 'nothing is made when every name is covered');
    const renamed = ensureTlsFiles(dir, ['localhost', '10.9.9.9']);
    assert.ok(!renamed.caCreated && renamed.serverCreated);
    assert.equal(renamed.caFingerprint, first.caFingerprint, 'the devices keep their pin');
    execFileSync('openssl', ['verify', '-verify_ip', '10.9.9.9', '-CAfile', renamed.caFile, renamed.certFile]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a CA without an authorityKeyIdentifier (as made before 2026-12-05) is kept, its pin with it, and flagged as one Moddable refuses', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-tlsfiles-'));
  try {
    // openssl with a config that asks for no extensions: a CA certificate with no key identifiers.
    const tls = join(dir, 'tls');
    mkdirSync(tls, { mode: 0o700 });
    writeFileSync(join(dir, 'req.cnf'), '[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nCN=sphinx-hsmd CA old\n');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-config', join(dir, 'req.cnf'), '-days', '30', '-keyout', join(tls, 'ca.key'), '-out', join(tls, 'ca.pem')], { stdio: 'pipe' });
    const old = new X509Certificate(readFileSync(join(tls, 'ca.pem')));
    const files = ensureTlsFiles(dir, ['localhost']);
    assert.ok(!files.caCreated && files.serverCreated);
    assert.equal(files.caFingerprint, old.fingerprint256, 'the devices keep their pin');
    assert.equal(files.caLacksAuthorityKeyId, true);
    assert.match(execFileSync('openssl', ['x509', '-noout', '-ext', 'authorityKeyIdentifier', '-in', files.certFile], { encoding: 'utf8' }), /Authority Key Identifier/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
