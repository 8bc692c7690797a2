/**
 * The platform-neutral part of the TLS adapters (broker-trust.ts): URL, fingerprint and PEM
 * parsing, and every refusal with its reason. PEM decoding and the fingerprint are checked
 * against node:crypto's X509Certificate on a certificate sphinx-hsmd generates.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureTlsFiles } from '../../broker/remote/tls-files.js';
import { toHex } from '../../signer/bytes.js';
import { brokerTrust, formatFingerprint, parseBrokerUrl, parseFingerprint, pemCertificates } from './broker-trust.js';

const dir = mkdtempSync(join(tmpdir(), 'sphinx-trust-'));
const files = ensureTlsFiles(dir, ['localhost']);
const caPem = readFileSync(files.caFile, 'utf8');
const ca = new X509Certificate(caPem);
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('broker URLs: scheme, host (IPv6 in brackets), default ports', () => {
  assert.deepEqual(parseBrokerUrl('mqtts://broker.lan'), { secure: true, host: 'broker.lan', port: 8883 });
  assert.deepEqual(parseBrokerUrl('mqtt://127.0.0.1:1884'), { secure: false, host: '127.0.0.1', port: 1884 });
  assert.deepEqual(parseBrokerUrl('mqtts://[fd00::2]:8884'), { secure: true, host: 'fd00::2', port: 8884 });
  for (const bad of ['http://x:1', 'mqtts://', 'mqtt://h:99999', 'mqtts://h:1/path'])
    assert.throws(() => parseBrokerUrl(bad), /not a broker URL|not a TCP port/, bad);
});

test('PEM decoding and the fingerprint agree with node:crypto', () => {
  const [der] = pemCertificates(caPem);
  assert.equal(toHex(der!), ca.raw.toString('hex'));
  assert.equal(pemCertificates(readFileSync(files.certFile, 'utf8')).length, 2, 'server.pem holds the chain');
  const trust = brokerTrust({ url: 'mqtts://broker.lan', caPem });
  assert.ok(trust.secure);
  assert.equal(formatFingerprint(trust.fingerprint), ca.fingerprint256);
  assert.equal(toHex(parseFingerprint(ca.fingerprint256)), toHex(parseFingerprint(ca.fingerprint256.replace(/:/g, '').toLowerCase())));
});

test('mqtts needs the CA or its fingerprint, and both must agree', () => {
  assert.throws(() => brokerTrust({ url: 'mqtts://broker.lan' }), /needs the broker's CA/);
  const pinned = brokerTrust({ url: 'mqtts://broker.lan', caFingerprint: ca.fingerprint256 });
  assert.ok(pinned.secure && pinned.ca === undefined);
  assert.ok(brokerTrust({ url: 'mqtts://broker.lan', caPem, caFingerprint: ca.fingerprint256 }).secure);
  // Another fingerprint: the first byte changed (whatever it is: this run's CA is new).
  const wrong = (ca.fingerprint256.startsWith('AA') ? 'AB' : 'AA') + ca.fingerprint256.slice(2);
  assert.throws(() => brokerTrust({ url: 'mqtts://broker.lan', caPem, caSource: 'ca.pem', caFingerprint: wrong }), /ca\.pem has fingerprint .*, not the pinned .*: wrong CA file, or wrong fingerprint/);
  assert.throws(() => brokerTrust({ url: 'mqtts://broker.lan', caFingerprint: 'abc' }), /not a SHA-256 fingerprint/);
  assert.throws(() => brokerTrust({ url: 'mqtts://broker.lan', caPem: readFileSync(files.certFile, 'utf8') }), /holds 2 certificates/);
  assert.throws(() => brokerTrust({ url: 'mqtts://broker.lan', caPem: 'no certificate here' }), /holds 0 certificates/);
});

test('plain MQTT: loopback yes, beyond only when allowed, never with a CA', () => {
  assert.deepEqual(brokerTrust({ url: 'mqtt://127.0.0.1:1883' }), { secure: false });
  assert.deepEqual(brokerTrust({ url: 'mqtt://localhost' }), { secure: false });
  assert.throws(() => brokerTrust({ url: 'mqtt://192.168.1.5:1883' }), /plain MQTT to another machine.*in the clear.*mqtts:\/\/192\.168\.1\.5:8883.*--allow-plain.*"allowPlain": true in config\.json/);
  assert.deepEqual(brokerTrust({ url: 'mqtt://192.168.1.5:1883', allowPlain: true }), { secure: false });
  assert.throws(() => brokerTrust({ url: 'mqtt://127.0.0.1:1883', caPem }), /is plain MQTT but a CA was given/);
});
