/**
 * The generated TLS files (SPHINX_TLS_GENERATE=1, docs/device-tls.md): a private CA and a
 * server certificate it signs, in SPHINX_DATA_DIR/tls. Made on first start and kept: the CA
 * (and so the fingerprint the devices pin) stays; the server certificate is made again, by
 * the same CA, when it lacks a name the devices use or is close to expiry.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { certificate, certificatePem, hasAuthorityKeyIdentifier } from './x509.js';

export interface TlsFiles {
  /** The server certificate followed by the CA's (the chain the listener presents). */
  readonly certFile: string;
  readonly keyFile: string;
  /** What the devices trust: `sphinx-signer --ca FILE`, or the SD card's ca.pem. */
  readonly caFile: string;
  /** SHA-256 of the CA certificate, AA:BB:… (`sphinx-signer --ca-fingerprint`). */
  readonly caFingerprint: string;
  readonly caCreated: boolean;
  /** The CA (made before 2026-12-05) has no authorityKeyIdentifier: Moddable's TLS refuses it. */
  readonly caLacksAuthorityKeyId: boolean;
  readonly serverCreated: boolean;
  readonly names: readonly string[];
}

const DAY_MS = 86_400_000;
const CA_DAYS = 20 * 365;
const SERVER_DAYS = 2 * 365;
/** A server certificate with less left than this is made again at start. */
const RENEW_DAYS = 30;

export const tlsDir = (dataDir: string): string => join(dataDir, 'tls');

/**
 * The names the server certificate covers: localhost, loopback, this host's name and
 * addresses, the TLS listener's address when it is a specific one, and SPHINX_TLS_NAMES.
 */
export function certificateNames(extra: readonly string[], listenHost: string | undefined): string[] {
  const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.replace(/%.*$/, '')));
  const listen = listenHost && !['0.0.0.0', '::'].includes(listenHost) ? [listenHost] : [];
  const names = ['localhost', hostname(), '127.0.0.1', '::1', ...addresses, ...listen, ...extra];
  return [...new Set(names.filter((n) => n.length > 0))];
}

export function ensureTlsFiles(dataDir: string, names: readonly string[], now = new Date()): TlsFiles {
  const dir = tlsDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const paths = {
    caCert: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca.key'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server.key'),
  };
  let caCreated = false;
  if (!existsSync(paths.caCert) || !existsSync(paths.caKey)) {
    if (existsSync(paths.caCert) !== existsSync(paths.caKey))
      throw new Error(`${dir}: ca.pem and ca.key go together; one is missing. Move the directory aside to make a new CA (devices must then trust the new one)`);
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const subject = `sphinx-hsmd CA ${randomBytes(4).toString('hex')}`;
    const der = certificate({
      subject, issuer: subject, publicKey, signingKey: privateKey, ca: true, serial: randomBytes(16),
      notBefore: new Date(now.getTime() - DAY_MS), notAfter: new Date(now.getTime() + CA_DAYS * DAY_MS),
    });
    writeAtomically(paths.caKey, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
    writeAtomically(paths.caCert, certificatePem(der), 0o644);
    caCreated = true;
  }
  const ca = new X509Certificate(readFileSync(paths.caCert));
  const caKey = createPrivateKey(readFileSync(paths.caKey));
  let serverCreated = false;
  if (caCreated || !serverCovers(paths.cert, ca, names, now)) {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const der = certificate({
      subject: 'sphinx-hsmd', issuer: ca.subject.replace(/^CN=/, ''), publicKey, signingKey: caKey, ca: false, names,
      serial: randomBytes(16), notBefore: new Date(now.getTime() - DAY_MS), notAfter: new Date(now.getTime() + SERVER_DAYS * DAY_MS),
    });
    writeAtomically(paths.key, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
    writeAtomically(paths.cert, certificatePem(der) + ca.toString(), 0o644);
    serverCreated = true;
  }
  return {
    certFile: paths.cert, keyFile: paths.key, caFile: paths.caCert, caFingerprint: ca.fingerprint256,
    caCreated, caLacksAuthorityKeyId: !hasAuthorityKeyIdentifier(ca.raw), serverCreated, names,
  };
}

/** The existing server certificate is the CA's, names it by key, covers every name and has time left. */
function serverCovers(file: string, ca: X509Certificate, names: readonly string[], now: Date): boolean {
  if (!existsSync(file)) return false;
  const cert = new X509Certificate(readFileSync(file));
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey) || !hasAuthorityKeyIdentifier(cert.raw)) return false;
  if (new Date(cert.validTo).getTime() - now.getTime() < RENEW_DAYS * DAY_MS) return false;
  return names.every((name) => (isIP(name) ? cert.checkIP(name) !== undefined : cert.checkHost(name) !== undefined));
}

function writeAtomically(path: string, text: string, mode: number): void {
  writeFileSync(path + '.tmp', text, { mode });
  renameSync(path + '.tmp', path);
}
