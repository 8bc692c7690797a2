/**
 * The embedded MQTT server (docs/remote-protocol.md "Connecting"): aedes with its sessions in
 * memory, on 127.0.0.1:SPHINX_MQTT_PORT and optionally a TLS listener (a default port gives
 * way to a free one when taken: listen below). In memory, because
 * nothing the broker relies on is in them (docs/remote-protocol.md "Sessions"): every request
 * is in the broker log and resent until answered, and a device subscribes again on every
 * connection; LevelDB sessions cost ~1.8 ms per round trip (npm run bench, floors). TCP_NODELAY on every accepted socket. It lets in:
 * - the broker's own client (a per-process random password; exempt from the ACL), and
 * - devices whose username is their key and whose password is a fresh token signed over the
 *   broker id (signer/remote/auth-token.ts), from a known key, not used before (identity.ts).
 * A device may publish and subscribe only under `sphinx/v1/<its id>/` (withinDevice), and not
 * publish its `refused`. A device whose token's last id is behind what the broker answered
 * (keepStaleApart) is let in apart, without taking the active device's session over, only to
 * be told why (docs/remote-protocol.md "Rollback"). Every refusal is logged with its reason.
 * Memory limits before and after authentication: mqtt-limits.ts.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { Aedes, type Client } from 'aedes';
import type { Curve } from '../../signer/crypto/curve.js';
import { checkCredentials, claimedLastId, TOKEN_MAX_AGE_MS, TOKEN_MAX_SKEW_MS } from '../../signer/remote/auth-token.js';
import { parseTopic, topic, withinDevice } from '../../signer/remote/topics.js';
import { hostPort, listenOrGiveWay, recordedPort } from '../../node/listen.js';
import { type KnownDevices, UsedTokens } from './identity.js';
import { type BrokerMqtt, localClient } from './local-client.js';
import { CONNECT_TIMEOUT_MS, DEVICE_MAX_PACKET, gatedStream, MAX_CLIENT_ID_LENGTH, MAX_CONNECTIONS, MAX_WAITING, MqttGate } from './mqtt-limits.js';

/** The file under SPHINX_DATA_DIR with the URLs a device's --mqtt takes, one a line (open-remote.ts). */
export const MQTT_URL_FILE = 'mqtt-url';

export type ServerLog = (level: 'debug' | 'info' | 'unusual' | 'broken', text: string) => void;

/**
 * Whether `device`, its journal ending at `lastId`, is stale (its hello would be refused: hello.ts
 * rollbackVerdict): undefined if not; else the line to log and the refusal to tell it.
 */
export type StaleRule = (device: string, lastId: bigint) => { readonly text: string; readonly refusal: Uint8Array } | undefined;
/** Told, once the stale device has authenticated, that it was kept apart: `text` is its rule's line. */
export type StaleKept = (device: string, text: string) => void;

export interface MqttServerOptions {
  /** SPHINX_DATA_DIR: the used tokens (identity.ts UsedTokens). */
  readonly dataDir: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** True for the default port (SPHINX_MQTT_PORT not set): a free one is taken when it is in use. */
  readonly givesWay?: boolean;
  /** The TLS listener; `givesWay` likewise for SPHINX_MQTT_TLS_PORT. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly port: number; readonly host?: string; readonly givesWay?: boolean };
  readonly brokerId: string;
  readonly curve: Curve;
  readonly devices: KnownDevices;
  readonly log: ServerLog;
  readonly now?: () => number;
}

export interface MqttServer {
  /** The plain listener's port (the real one when 0 was asked). */
  readonly port: number;
  /** An address this machine reaches the plain listener on (loopback for 0.0.0.0 / ::). */
  readonly host: string;
  readonly tlsPort: number | undefined;
  /** What the broker's own clients present over TCP (the chain relay's). */
  readonly internalCredentials: { readonly username: string; readonly password: string };
  /** The broker's own client inside this process: aedes' own publish and subscribe (local-client.ts). */
  localClient(): BrokerMqtt;
  /**
   * From now on, a device connecting under its own client id (the session a takeover would
   * take) whose version 2 token says a last id `rule` finds stale gets in apart: client id
   * `<device id>-refused`, no session kept, no will, no publish, no subscription but its
   * `refused`, on which it is told why at once. The active device keeps its session; `kept`
   * reports it (lightningd's log, the broker log).
   */
  keepStaleApart(rule: StaleRule, kept: StaleKept): void;
  /** Accepted sockets still open (tests check their TCP_NODELAY). */
  sockets(): readonly net.Socket[];
  close(): Promise<void>;
}

const INTERNAL_USERNAME = 'sphinx-broker';
/** The device id a client authenticated as; absent for the broker's own client. */
const deviceOf = new WeakMap<Client, string>();
const internal = new WeakSet<Client>();
/** Clients let in apart (keepStaleApart): what they are told. */
const apart = new WeakMap<Client, { readonly text: string; readonly refusal: Uint8Array }>();

export async function startMqttServer(options: MqttServerOptions): Promise<MqttServer> {
  const { log, devices } = options;
  const now = options.now ?? Date.now;
  const internalPassword = randomBytes(32).toString('hex');
  /** Tokens seen, until they expire (protocol: a token is accepted once). */
  const usedTokens = new UsedTokens(options.dataDir, TOKEN_MAX_AGE_MS + TOKEN_MAX_SKEW_MS);

  const aedes = new Aedes({
    id: `sphinx-${options.brokerId}`,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxClientsIdLength: MAX_CLIENT_ID_LENGTH,
  });
  /** Each client's gate (mqtt-limits.ts): its limit rises once it authenticates. */
  const gateOf = new WeakMap<Client, MqttGate>();
  const socketOf = new WeakMap<Client, net.Socket>();
  /** Sockets open and not yet authenticated, oldest first. */
  const waiting = new Set<net.Socket>();
  const admitted = (client: Client, maxPacket: number): void => {
    gateOf.get(client)?.authenticated(maxPacket);
    waiting.delete(socketOf.get(client)!);
  };
  await aedes.listen();

  const refuse = (what: string, reason: string): void => log('unusual', `MQTT: refused ${what}: ${reason}`);

  let staleRule: StaleRule | undefined;
  let staleKept: StaleKept | undefined;
  // Before aedes takes the client id: a stale device must not take the active device's session.
  // Its token's last id is read unverified here; authenticate verifies it with the token.
  aedes.preConnect = (client, packet, done) => {
    const { username, password } = packet;
    const lastId = staleRule && username !== undefined && packet.clientId === username && password ? claimedLastId(password.toString('utf8')) : undefined;
    const verdict = lastId === undefined ? undefined : staleRule!(username!, lastId);
    if (verdict) {
      apart.set(client, verdict);
      Object.assign(packet, { clientId: `${username}-refused`, clean: true, will: undefined });
    }
    done(null, true);
  };
  aedes.on('clientReady', (client) => {
    const verdict = apart.get(client);
    const device = deviceOf.get(client);
    if (!verdict || device === undefined) return;
    // QoS 0: straight to this connection, kept in no session; a device that misses it connects again.
    client.publish({ cmd: 'publish', topic: topic(device, 'refused'), payload: Buffer.from(verdict.refusal), qos: 0, retain: false, dup: false }, () => {});
  });

  aedes.authenticate = (client, username, password, done) => {
    const fail = (reason: string, code: 2 | 4 | 5): void => {
      // A client kept apart as stale has the client id preConnect gave it: say whose it was.
      const who = apart.has(client) ? `${username} (kept apart as stale before its token was checked)` : `${client.id ?? '?'} (username ${username ?? 'none'})`;
      refuse(`connection from ${who}`, reason);
      done(Object.assign(new Error(reason), { returnCode: code }), false);
    };
    if ((client.id ?? '').length > MAX_CLIENT_ID_LENGTH) return fail(`a client id of ${client.id.length} characters (at most ${MAX_CLIENT_ID_LENGTH})`, 2);
    const secret = password?.toString('utf8') ?? '';
    if (username === INTERNAL_USERNAME) {
      const ok = secret.length === internalPassword.length && timingSafeEqual(Buffer.from(secret), Buffer.from(internalPassword));
      if (!ok) return fail('wrong password for the broker\'s own user', 4);
      internal.add(client);
      admitted(client, Infinity);
      return done(null, true);
    }
    if (username === undefined || password === undefined) return fail('no username/password (a device signs a token)', 4);
    const at = now();
    const check = checkCredentials(options.curve, username, secret, options.brokerId, at);
    if (!check.ok) return fail(check.reason, 4);
    const verdict = devices.admit(username);
    if (!verdict.known) return fail(verdict.reason, 5);
    if (!usedTokens.claim(username, check.issuedAt, at)) return fail('token already used (a device signs a fresh one per connection)', 4);
    if (verdict.pinned) {
      log('unusual', `MQTT: PINNED DEVICE ${username}: no SPHINX_DEVICE_KEYS configured, so the first device that ` +
        `authenticated is now the only one allowed (${devices.pinnedFile}). If this is not your device, stop now, ` +
        'delete that file and set SPHINX_DEVICE_KEYS.');
    }
    deviceOf.set(client, username);
    admitted(client, DEVICE_MAX_PACKET);
    const stale = apart.get(client);
    log('info', `MQTT: device ${username} authenticated (client id ${client.id}${stale ? ', kept apart as stale: no will, told why on its refused topic' : ''})`);
    if (stale) staleKept?.(username, stale.text);
    done(null, true);
  };

  aedes.authorizePublish = (client, packet, done) => {
    if (client === null || internal.has(client)) return done(null);
    const device = deviceOf.get(client);
    if (apart.has(client)) return done(new Error(`device ${device} kept apart as stale: it may not publish`));
    // `refused` is the broker's word to a stale device (docs/remote-protocol.md "Rollback"): no device says it.
    const own = device !== undefined && withinDevice(device, packet.topic);
    if (own && parseTopic(packet.topic)?.suffix !== 'refused') return done(null);
    const reason = own ? `device ${device} may not publish ${packet.topic}: only the broker says a device is refused` : `device ${device} may publish only under sphinx/v1/${device}/, not to ${packet.topic}`;
    refuse(`publish from ${client.id}`, reason);
    done(new Error(reason));
  };

  aedes.authorizeSubscribe = (client, subscription, done) => {
    if (internal.has(client)) return done(null, subscription);
    const device = deviceOf.get(client);
    if (apart.has(client) && subscription.topic !== topic(device!, 'refused')) return done(null, null); // SUBACK failure: it gets only its refusal
    if (device !== undefined && withinDevice(device, subscription.topic)) return done(null, subscription);
    refuse(`subscription from ${client.id}`, `device ${device} may subscribe only under sphinx/v1/${device}/, not to ${subscription.topic}`);
    done(null, null); // SUBACK 0x80 (failure) for this filter, MQTT 3.1.1 §3.9.3
  };

  aedes.on('clientError', (client, err) => log('debug', `MQTT: client ${client.id}: ${err.message}`));
  aedes.on('connectionError', (client, err) => log('debug', `MQTT: connection ${client.id ?? '?'}: ${err.message}`));

  const open = new Set<net.Socket>();
  const accept = (socket: net.Socket): void => {
    socket.setNoDelay(true); // Nagle would hold small replies back for the peer's delayed ACK
    if (open.size >= MAX_CONNECTIONS) {
      refuse(`connection from ${socket.remoteAddress}`, `${MAX_CONNECTIONS} connections are open already`);
      socket.destroy();
      return;
    }
    if (waiting.size >= MAX_WAITING) {
      const oldest = waiting.values().next().value!;
      waiting.delete(oldest);
      refuse(`connection from ${oldest.remoteAddress}`, `closed to make room: ${MAX_WAITING} connections were waiting to authenticate, this the oldest`);
      oldest.destroy();
    }
    open.add(socket);
    waiting.add(socket);
    socket.once('close', () => {
      open.delete(socket);
      waiting.delete(socket);
    });
    const gate = new MqttGate();
    // After authentication the client id is the device's (or the broker's own client's): name it.
    const who = (): string => `connection from ${socket.remoteAddress}${gate.isAuthenticated ? ` of client ${client.id}` : ''}`;
    const stream = gatedStream(socket, gate, (reason) => refuse(who(), reason));
    const client = aedes.handle(stream as unknown as net.Socket);
    gateOf.set(client, gate);
    socketOf.set(client, socket);
  };
  const plain = net.createServer(accept);
  const host = options.host ?? '127.0.0.1';
  const previous = (scheme: string) => recordedPort(options.dataDir, MQTT_URL_FILE, scheme);
  const port = await listen(plain, { port: options.port, host, givesWay: options.givesWay ?? false, previous: previous('mqtt'), setting: 'SPHINX_MQTT_PORT', log });
  let secure: tls.Server | undefined;
  let tlsPort: number | undefined;
  if (options.tls) {
    secure = tls.createServer({ cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) });
    secure.on('secureConnection', accept);
    secure.on('tlsClientError', (err) => log('unusual', `MQTT TLS: handshake failed: ${err.message}`));
    try {
      tlsPort = await listen(secure, { port: options.tls.port, host: options.tls.host ?? '0.0.0.0', givesWay: options.tls.givesWay ?? false, previous: previous('mqtts'), setting: 'SPHINX_MQTT_TLS_PORT', log });
    } catch (e) {
      plain.close(); // the broker stops: nothing of this server stays open
      aedes.close();
      throw e;
    }
  }
  log('info', `MQTT: embedded server on ${host}:${port}` +
    (secure ? `, TLS on ${options.tls!.host ?? '0.0.0.0'}:${tlsPort}` : '') + ', sessions in memory');

  return {
    port,
    host: host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host,
    tlsPort,
    internalCredentials: { username: INTERNAL_USERNAME, password: internalPassword },
    localClient: () => localClient(aedes),
    keepStaleApart: (rule, kept) => {
      staleRule = rule;
      staleKept = kept;
    },
    sockets: () => [...open],
    async close() {
      const closing = [plain, ...(secure ? [secure] : [])].map((s) => new Promise<void>((r) => s.close(() => r())));
      for (const s of open) s.destroy();
      await Promise.all(closing);
      await new Promise<void>((r) => aedes.close(() => r()));
    },
  };
}

/**
 * Listens and resolves with the port. A default port keeps this broker's port of last time,
 * or gives way to a free one when in use (node/listen.ts), said at UNUSUAL: a device started
 * with the default port would reach the other server. A port the operator set that is in use
 * is an error that says what to set.
 */
async function listen(server: net.Server, o: { port: number; host: string; givesWay: boolean; previous: number | undefined; setting: string; log: ServerLog }): Promise<number> {
  try {
    const { port, took } = await listenOrGiveWay(server, o.port, o.host, o.givesWay, o.previous);
    const urls = `the URLs to give the device are in SPHINX_DATA_DIR/${MQTT_URL_FILE}`;
    if (took === 'free') {
      o.log('unusual', `MQTT: ${hostPort(o.host, o.port)} is in use (another node's sphinx-hsmd, or Mosquitto?), so this broker ` +
        `listens on ${hostPort(o.host, port)} instead: a device started with port ${o.port} would reach that other server. ` +
        `Set ${o.setting} to a free port for a fixed one, or ${useServerThere(o.port)}; ${urls}`);
    } else if (took === 'previous') {
      o.log('unusual', `MQTT: listening on ${hostPort(o.host, port)}, this broker's port last time, not the default ${o.port}: ` +
        `its devices find it there whichever node on this machine starts first. Set ${o.setting} to a free port for a fixed one; ${urls}`);
    }
    return port;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    throw new Error(`MQTT: cannot listen on ${o.host}:${o.port}: the port is in use (another MQTT server such as ` +
      `Mosquitto, or another node's sphinx-hsmd). Set ${o.setting} to a free port (and the device's --mqtt to match), ` +
      `or ${useServerThere(o.port)}`);
  }
}

const useServerThere = (port: number): string =>
  `SPHINX_MQTT_URL=mqtt://127.0.0.1:${port} to use the server already there (it must then do device authentication and the topic ACL: see examples/mosquitto.conf)`;
