/**
 * The Transport port on mqtt.js (docs/design.md#firmware firmware/host): MQTT 3.1.1, QoS 1, clean
 * session false, TCP_NODELAY on the socket (Nagle costs ~88 ms a round trip here),
 * no reconnect of mqtt.js's own (the device loop reconnects with fresh credentials).
 * mqtt.js sends PUBACK after the 'message' listeners return, as the port requires.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import tls, { type DetailedPeerCertificate } from 'node:tls';
import mqtt, { type MqttClient } from 'mqtt';
import { formatFingerprint, parseBrokerUrl, type BrokerAddress, type BrokerTrust } from '../app/broker-trust.js';
import { tokenRefusalAdvice } from '../app/clock-sync.js';
import type { ConnectOptions, PublishOptions, Transport, TransportHandlers } from '../app/ports.js';

export class MqttTransport implements Transport {
  #client: MqttClient | undefined;

  /**
   * `trust` from brokerTrust(): plain, or TLS pinned to the broker's CA (docs/device-tls.md);
   * `password`, if given, is sent instead of the signed token: an external server's password file
   * (examples/mosquitto.conf).
   */
  constructor(
    private readonly trust: BrokerTrust = { secure: false },
    private readonly password?: string,
  ) {}

  connect(options: ConnectOptions, handlers: TransportHandlers): void {
    const trust = this.trust;
    if (!trust.secure) return this.#open(options, handlers, undefined);
    const address = parseBrokerUrl(options.url);
    const ca = trust.ca ? Promise.resolve(trust.ca) : pinnedCaFrom(address, trust.fingerprint);
    ca.then(
      (der) => this.#open(options, handlers, { der, address, fingerprint: trust.fingerprint }),
      (e: Error) => handlers.disconnected(e.message),
    );
  }

  #open(options: ConnectOptions, handlers: TransportHandlers, secure: { der: Uint8Array; address: BrokerAddress; fingerprint: Uint8Array } | undefined): void {
    let lastError = 'connection closed';
    let ended = false;
    let connectedOnce = false;
    const client = mqtt.connect(options.url, {
      ...(secure ? { ca: derToPem(secure.der), rejectUnauthorized: true } : {}),
      protocolVersion: 4,
      clientId: options.clientId,
      username: options.username,
      password: this.password ?? options.password,
      clean: false,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      keepalive: 30,
      ...(options.will ? { will: { topic: options.will.topic, payload: Buffer.from(options.will.payload), qos: 1, retain: true } } : {}),
    });
    this.#client = client;
    noDelay(client);
    client.on('connect', () => {
      connectedOnce = true;
      noDelay(client);
      handlers.connected();
    });
    client.on('message', (topic, payload) => handlers.message(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.length)));
    client.on('error', (e) => {
      lastError = secure ? tlsRefusal(e as NodeJS.ErrnoException, secure.address, secure.fingerprint) : e.message || String((e as NodeJS.ErrnoException).code);
    });
    client.on('close', () => {
      if (ended) return;
      ended = true;
      if (this.#client === client) this.#client = undefined;
      client.end(true);
      // Closed before any answer, on plain MQTT: most often the broker's TLS port.
      if (!secure && !connectedOnce && lastError === 'connection closed') lastError = `connection closed before an answer: ${WRONG_SCHEME_HINT}`;
      handlers.disconnected(tokenRefusalAdvice(lastError, Date.now()));
    });
  }

  subscribe(topics: readonly string[]): Promise<void> {
    const client = this.#connected();
    return new Promise((resolve, reject) =>
      client.subscribe([...topics], { qos: 1 }, (err, granted) => {
        if (err) return reject(err);
        const refused = granted?.filter((g) => g.qos === 128) ?? [];
        if (refused.length) return reject(new Error(`subscription refused: ${refused.map((g) => g.topic).join(', ')}`));
        resolve();
      }),
    );
  }

  publish(topic: string, payload: Uint8Array, options: PublishOptions = {}): Promise<void> {
    const client = this.#connected();
    return new Promise((resolve, reject) =>
      client.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.length), { qos: options.qos ?? 1, retain: options.retain ?? false }, (err) => (err ? reject(err) : resolve())),
    );
  }

  end(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (!client) return Promise.resolve();
    // force false: waits for in-flight QoS 1 publishes to be acknowledged.
    return new Promise((resolve) => client.end(false, {}, () => resolve()));
  }

  #connected(): MqttClient {
    if (!this.#client) throw new Error('not connected');
    return this.#client;
  }
}

/** The message for a TLS handshake the pinned CA refused; other errors as they are. */
function tlsRefusal(e: NodeJS.ErrnoException, address: BrokerAddress, fingerprint: Uint8Array): string {
  const where = `${address.host}:${address.port}`;
  if (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `TLS: the certificate of ${where} does not name ${address.host}: add it to sphinx-hsmd's SPHINX_TLS_NAMES (its certificate is then made again), or connect by a name it has (${e.message})`;
  if (e.code && /CERT|SELF_SIGNED|UNABLE_TO|SIGNATURE/.test(e.code))
    return `TLS: refused ${where}: its certificate is not issued by the pinned CA (SHA-256 ${formatFingerprint(fingerprint)}): ${e.message}. ` +
      'Wrong --ca / --ca-fingerprint, or this is not your broker';
  if (notTls(e)) return `TLS: ${where} closed the connection before the handshake (${e.message}): ${WRONG_SCHEME_HINT}`;
  return e.message || String(e.code);
}

/** A server that drops a TLS hello unanswered: not a TLS listener, as a plain MQTT port. */
const notTls = (e: NodeJS.ErrnoException): boolean => e.code === 'ECONNRESET' || /before secure TLS connection/.test(e.message);

const WRONG_SCHEME_HINT =
  "is the port the broker's other listener? mqtt:// goes to its plain port, mqtts:// to its TLS port; sphinx-hsmd's SPHINX_DATA_DIR/mqtt-url lists both";

/**
 * The CA certificate with the pinned fingerprint, from the chain the broker presents (a
 * handshake that sends nothing); the MQTT connection then verifies against it as with --ca.
 */
function pinnedCaFrom(address: BrokerAddress, fingerprint: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: address.host, port: address.port, rejectUnauthorized: false, ...(isIP(address.host) ? {} : { servername: address.host }) });
    socket.setTimeout(10_000, () => socket.destroy(new Error(`TLS: no answer from ${address.host}:${address.port} in 10 s`)));
    socket.once('error', (e) => reject(new Error(`TLS: cannot reach ${address.host}:${address.port}: ${e.message}${notTls(e) ? `: ${WRONG_SCHEME_HINT}` : ''}`)));
    socket.once('secureConnect', () => {
      const presented: string[] = [];
      let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      let found: Uint8Array | undefined;
      while (cert?.raw && found === undefined) {
        const digest = createHash('sha256').update(cert.raw).digest();
        presented.push(formatFingerprint(digest));
        if (digest.equals(fingerprint)) found = new Uint8Array(cert.raw);
        cert = cert.issuerCertificate === cert ? undefined : cert.issuerCertificate;
      }
      socket.destroy();
      if (found) resolve(found);
      else reject(new Error(`TLS: refused ${address.host}:${address.port}: no certificate in its chain has the pinned fingerprint ` +
        `${formatFingerprint(fingerprint)} (it presented ${presented.join(', ') || 'none'}). Wrong --ca-fingerprint, or this is not your broker`));
    });
  });
}

const derToPem = (der: Uint8Array): string =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;

function noDelay(client: MqttClient): void {
  const stream = client.stream as { setNoDelay?: (on: boolean) => void } | undefined;
  stream?.setNoDelay?.(true);
}
