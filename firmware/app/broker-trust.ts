/**
 * How a device trusts its broker (docs/device-tls.md), the same on Node (`sphinx-signer --ca
 * FILE` / `--ca-fingerprint`) and on the ESP32 (SD card `ca.pem`, `caFingerprint` in
 * config.json): `mqtts://` with the broker's CA, pinned by its certificate or its SHA-256
 * fingerprint; plain `mqtt://` only to this machine, unless the owner allows it explicitly.
 * Platform-neutral (no Buffer, no atob): both transports use it.
 */
import { equal, toHex } from '../../signer/bytes.js';
import { sha256 } from '../../signer/crypto/signatures.js';
import { DeviceSetupError } from './ports.js';

export interface BrokerAddress {
  readonly secure: boolean;
  readonly host: string;
  readonly port: number;
}

/** What the transport checks the broker's certificate chain against. */
export type BrokerTrust =
  | { readonly secure: false }
  | {
      readonly secure: true;
      /** The CA certificate (DER), when the owner gave one. */
      readonly ca?: Uint8Array;
      /** SHA-256 of the CA certificate (32 bytes). */
      readonly fingerprint: Uint8Array;
    };

export interface TrustSettings {
  readonly url: string;
  /** PEM text of the CA certificate (sphinx-hsmd's SPHINX_DATA_DIR/tls/ca.pem). */
  readonly caPem?: string;
  /** Where caPem came from, for messages. */
  readonly caSource?: string;
  /** The CA's SHA-256 fingerprint, as sphinx-hsmd logs it (AA:BB:…) or plain hex. */
  readonly caFingerprint?: string;
  /** Allow plain MQTT to a host beyond loopback. */
  readonly allowPlain?: boolean;
}

export function parseBrokerUrl(url: string): BrokerAddress {
  const match = /^(mqtts?):\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]+)(?::(\d{1,5}))?\/?$/.exec(url);
  if (!match) throw new DeviceSetupError(`"${url}" is not a broker URL: expected mqtts://host:port (TLS) or mqtt://host:port`);
  const secure = match[1] === 'mqtts';
  const port = match[3] === undefined ? (secure ? 8883 : 1883) : Number(match[3]);
  if (port < 1 || port > 65535) throw new DeviceSetupError(`"${url}": port ${port} is not a TCP port`);
  return { secure, host: match[2]!.replace(/^\[|\]$/g, ''), port };
}

export const isLoopbackHost = (host: string): boolean =>
  /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1' || host === 'localhost';

/** 32 bytes from "AA:BB:…" or 64 hex digits. */
export function parseFingerprint(text: string): Uint8Array {
  const hex = text.trim().replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new DeviceSetupError(`"${text}" is not a SHA-256 fingerprint: expected 32 bytes in hex, as sphinx-hsmd logs it (AA:BB:…:FF)`);
  return Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
}

/** AA:BB:… (as sphinx-hsmd and `openssl x509 -fingerprint -sha256` print it). */
export const formatFingerprint = (fingerprint: Uint8Array): string => toHex(fingerprint).toUpperCase().match(/../g)!.join(':');

/** The DER certificates in a PEM text, in order. */
export function pemCertificates(pem: string): Uint8Array[] {
  const blocks = [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)];
  return blocks.map((m) => base64Bytes(m[1]!.replace(/\s+/g, '')));
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function base64Bytes(text: string): Uint8Array {
  const body = text.replace(/=+$/, '');
  if (/[^A-Za-z0-9+/]/.test(body) || body.length % 4 === 1) throw new DeviceSetupError('a PEM certificate block is not base64');
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let at = 0;
  for (const c of body) {
    acc = ((acc << 6) | BASE64.indexOf(c)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/**
 * The trust for `settings.url`, or a DeviceSetupError that says what to give: mqtts needs the
 * CA or its fingerprint (and both must agree); plain mqtt beyond loopback needs allowPlain.
 */
export function brokerTrust(settings: TrustSettings): BrokerTrust {
  const address = parseBrokerUrl(settings.url);
  const source = settings.caSource ?? 'the CA file';
  if (!address.secure) {
    if (settings.caPem !== undefined || settings.caFingerprint !== undefined)
      throw new DeviceSetupError(`${settings.url} is plain MQTT but a CA was given: use mqtts://${address.host}:<TLS port> (sphinx-hsmd's SPHINX_MQTT_TLS_PORT, default 8883)`);
    if (!isLoopbackHost(address.host) && !settings.allowPlain)
      throw new DeviceSetupError(`${settings.url} is plain MQTT to another machine: the token and every request would cross the network in the clear. ` +
        `Use mqtts://${address.host}:8883 with the broker's CA (sphinx-hsmd SPHINX_TLS_GENERATE=1 makes one), or allow plain MQTT explicitly (sphinx-signer --allow-plain; on the ESP32, "allowPlain": true in config.json)`);
    return { secure: false };
  }
  const pinned = settings.caFingerprint === undefined ? undefined : parseFingerprint(settings.caFingerprint);
  if (settings.caPem === undefined) {
    if (pinned === undefined)
      throw new DeviceSetupError(`${settings.url} needs the broker's CA: give its certificate (sphinx-hsmd's SPHINX_DATA_DIR/tls/ca.pem) or its SHA-256 fingerprint (sphinx-hsmd logs it at start)`);
    return { secure: true, fingerprint: pinned };
  }
  const certificates = pemCertificates(settings.caPem);
  if (certificates.length !== 1)
    throw new DeviceSetupError(`${source} holds ${certificates.length} certificates; expected exactly the broker's CA certificate (SPHINX_DATA_DIR/tls/ca.pem)`);
  const ca = certificates[0]!;
  const fingerprint = sha256(ca);
  if (pinned !== undefined && !equal(pinned, fingerprint))
    throw new DeviceSetupError(`${source} has fingerprint ${formatFingerprint(fingerprint)}, not the pinned ${formatFingerprint(pinned)}: wrong CA file, or wrong fingerprint`);
  return { secure: true, ca, fingerprint };
}
