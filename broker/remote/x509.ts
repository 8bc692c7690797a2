/**
 * The few X.509 certificates sphinx-hsmd makes for its TLS listener (tls-files.ts): a private
 * CA and a server certificate it signs, written in DER by hand (RFC 5280 §4.1). node:crypto
 * makes the keys and the signatures but cannot build a certificate; this avoids depending on
 * an openssl binary the user's machine may lack (docs/device-tls.md). RSA 2048 with SHA-256:
 * what every embedded TLS stack verifies (Moddable's, mbedTLS).
 */
import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

// DER (X.690): tag, length, content.
function tlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Uint8Array.of(tag, ...length), content]);
}
const seq = (...items: Uint8Array[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Uint8Array[]) => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, item: Uint8Array) => tlv(0xa0 + n, item);
const bool = (v: boolean) => tlv(0x01, Uint8Array.of(v ? 0xff : 0));
const octets = (b: Uint8Array) => tlv(0x04, b);
const bits = (b: Uint8Array, unused = 0) => tlv(0x03, Buffer.concat([Uint8Array.of(unused), b]));
const utf8String = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));

/** A positive INTEGER from big-endian bytes (a leading 0x00 when the top bit is set). */
function positiveInteger(b: Uint8Array): Uint8Array {
  let start = 0;
  while (start < b.length - 1 && b[start] === 0) start++;
  const trimmed = b.subarray(start);
  return tlv(0x02, trimmed[0]! & 0x80 ? Buffer.concat([Uint8Array.of(0), trimmed]) : trimmed);
}

function oid(dotted: string): Uint8Array {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const arc of rest) {
    const groups = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) groups.unshift((v & 0x7f) | 0x80);
    out.push(...groups);
  }
  return tlv(0x06, Uint8Array.from(out));
}

/** UTCTime before 2050, GeneralizedTime from then on (RFC 5280 §4.1.2.5). */
function time(date: Date): Uint8Array {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'; // YYYYMMDDHHMMSSZ
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'ascii')) : tlv(0x18, Buffer.from(iso, 'ascii'));
}

const SHA256_WITH_RSA = seq(oid('1.2.840.113549.1.1.11'), tlv(0x05, new Uint8Array(0)));
const commonName = (cn: string) => seq(set(seq(oid('2.5.4.3'), utf8String(cn))));
const extension = (id: string, critical: boolean, value: Uint8Array) =>
  seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

/** subjectAltName entries: dNSName [2] or iPAddress [7] (4 or 16 bytes). */
function altName(name: string): Uint8Array {
  if (isIPv4(name)) return tlv(0x87, Uint8Array.from(name.split('.').map(Number)));
  if (isIPv6(name)) return tlv(0x87, ipv6Bytes(name));
  return tlv(0x82, Buffer.from(name, 'ascii'));
}

function ipv6Bytes(address: string): Uint8Array {
  const [head, tail] = address.split('::') as [string, string?];
  const words = (part: string | undefined) => (part ? part.split(':').map((w) => parseInt(w, 16)) : []);
  const left = words(head);
  const right = words(tail);
  const all = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
  const out = new Uint8Array(16);
  all.forEach((w, i) => out.set([w >> 8, w & 0xff], i * 2));
  return out;
}

export interface CertificateRequest {
  readonly subject: string;
  readonly issuer: string;
  /** The subject's public key. */
  readonly publicKey: KeyObject;
  /** The issuer's private key (the subject's own for a self-signed CA). */
  readonly signingKey: KeyObject;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** A CA (may sign certificates) or a TLS server certificate for `names`. */
  readonly ca: boolean;
  readonly names?: readonly string[];
  readonly serial: Uint8Array;
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the key as it stands in the SPKI (here: of the SPKI's DER). */
const keyIdentifier = (key: KeyObject): Uint8Array => createHash('sha1').update(key.export({ type: 'spki', format: 'der' })).digest();

/** The authorityKeyIdentifier extension's OID as DER: its bytes are in a certificate that has one. */
const AUTHORITY_KEY_ID_OID = oid('2.5.29.35');

/**
 * True if the DER certificate has an authorityKeyIdentifier. Moddable's TLS (the ESP32
 * firmware) needs one on the CA the server presents: it compares it with the trusted CA's
 * subjectKeyIdentifier and throws when there is none (docs/device-tls.md).
 */
export const hasAuthorityKeyIdentifier = (der: Uint8Array): boolean => Buffer.from(der).includes(Buffer.from(AUTHORITY_KEY_ID_OID));

/** A signed certificate, DER. */
export function certificate(request: CertificateRequest): Uint8Array {
  const spki = request.publicKey.export({ type: 'spki', format: 'der' });
  // keyIdentifier [0] of the issuer's key: the CA's own for the self-signed CA (RFC 5280 §4.2.1.1).
  const authorityKeyId = extension('2.5.29.35', false, seq(tlv(0x80, keyIdentifier(createPublicKey(request.signingKey)))));
  const extensions = request.ca
    ? [
        extension('2.5.29.19', true, seq(bool(true))), // basicConstraints: cA
        extension('2.5.29.15', true, bits(Uint8Array.of(0x06), 1)), // keyUsage: keyCertSign, cRLSign
        extension('2.5.29.14', false, octets(keyIdentifier(request.publicKey))), // subjectKeyIdentifier
        authorityKeyId,
      ]
    : [
        extension('2.5.29.19', true, seq()), // basicConstraints: not a CA
        extension('2.5.29.15', true, bits(Uint8Array.of(0xa0), 5)), // digitalSignature, keyEncipherment
        extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage: serverAuth
        extension('2.5.29.17', false, seq(...(request.names ?? []).map(altName))), // subjectAltName
        authorityKeyId,
      ];
  const tbs = seq(
    explicit(0, tlv(0x02, Uint8Array.of(2))), // v3
    positiveInteger(request.serial),
    SHA256_WITH_RSA,
    commonName(request.issuer),
    seq(time(request.notBefore), time(request.notAfter)),
    commonName(request.subject),
    spki,
    explicit(3, seq(...extensions)),
  );
  return seq(tbs, SHA256_WITH_RSA, bits(sign('sha256', tbs, request.signingKey)));
}

/** PEM armour of a DER certificate. */
export function certificatePem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}
