/**
 * Test kit for the device over real MQTT: an in-process aedes server on a real TCP port
 * (drop its connections, stop and restart it), `bin/sphinx-signer` as a child process, and
 * a broker stand-in that publishes request envelopes on `req`, collects replies from `res`
 * and hellos, as docs/remote-protocol.md describes the broker's side.
 */
import { POLICY_FILE } from '../firmware/app/control.js';
import { RECORDED_SESSIONS_POLICY_FILE } from './session-records.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { toHex } from '../signer/bytes.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import type { Envelope } from '../signer/envelope.js';
import { nodePrivateKey } from '../signer/keys/root-secrets.js';
import { unlockHsmSecret } from '../signer/keys/hsm-secret.js';
import { decodeReplyEnvelope, encodeRequest } from '../signer/remote/envelope-codec.js';
import { topic } from '../signer/remote/topics.js';
import { repoRoot } from './fixtures.js';

export class MqttServer {
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;

  private constructor(
    readonly aedes: Aedes,
    public port: number,
  ) {}

  static async start(): Promise<MqttServer> {
    const server = new MqttServer(await Aedes.createBroker(), 0);
    await server.listen();
    return server;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** (Re)opens the listener on the same port; sessions live on in the aedes instance. */
  async listen(): Promise<void> {
    const server = createServer((socket) => {
      socket.setNoDelay(true);
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      this.aedes.handle(socket);
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  /** Cuts every connection (as a network drop would); the listener stays. */
  dropConnections(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  /** Stops listening and cuts every connection. */
  async stopListening(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.dropConnections();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  async close(): Promise<void> {
    await this.stopListening();
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
  }
}

/** The device id sphinx-signer derives from an hsm_secret (its node id). */
export const deviceIdOf = (hsmSecret: Uint8Array): string =>
  toHex(nobleCurve.publicKey(nodePrivateKey(nobleCurve, unlockHsmSecret(hsmSecret))));

/**
 * A fresh data directory holding `hsm_secret`, and policy.json allowlisting the recorded
 * sessions' withdrawal destinations (test/session-records.ts), unless `policyFile` is null;
 * removed when test `t` ends, if given (else the caller removes it).
 */
export function dataDirWith(hsmSecret: Uint8Array | undefined, t?: TestContext, policyFile: string | null = RECORDED_SESSIONS_POLICY_FILE): string {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-signer-'));
  t?.after(() => rmSync(dir, { recursive: true, force: true }));
  if (hsmSecret) writeFileSync(join(dir, 'hsm_secret'), hsmSecret, { mode: 0o400 });
  if (policyFile !== null) writeFileSync(join(dir, POLICY_FILE), policyFile);
  return dir;
}

export const BROKER_ID = '00112233445566778899aabbccddeeff';

/** bin/sphinx-signer as a child process, with its output collected. */
export class SignerProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly child: ChildProcess,
  ) {
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (this.stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.exited = once(child, 'exit').then(([code, signal]) => ({ code, signal }));
  }

  static start(dataDir: string, url: string, extra: readonly string[] = []): SignerProcess {
    const bin = join(repoRoot, 'bin', 'sphinx-signer');
    return new SignerProcess(spawn(process.execPath, [bin, '--mqtt', url, '--data', dataDir, '--broker-id', BROKER_ID, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] }));
  }
}

/** The broker's side of the protocol, enough to drive a device. */
export class BrokerStandIn {
  /** Every reply payload received, by id, in arrival order. */
  readonly replies = new Map<bigint, Uint8Array[]>();
  readonly hellos: { lastId: string; firmware: string }[] = [];
  readonly statuses: string[] = [];
  #waiters: (() => void)[] = [];
  /** Called on each hello (the broker resends what is outstanding then). */
  onHello: (() => void) | undefined;

  private constructor(
    private readonly client: MqttClient,
    readonly deviceId: string,
  ) {}

  static async connect(url: string, deviceId: string): Promise<BrokerStandIn> {
    // A persistent session, as the broker keeps: nothing the device says is lost while this client reconnects.
    const client = mqtt.connect(url, { clientId: `broker-${process.pid}-${Date.now()}`, clean: false, reconnectPeriod: 200, protocolVersion: 4 });
    const broker = new BrokerStandIn(client, deviceId);
    client.on('message', (name, payload) => broker.#received(name, new Uint8Array(payload)));
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    (client.stream as Socket).setNoDelay(true);
    await client.subscribeAsync([topic(deviceId, 'res'), topic(deviceId, 'hello'), topic(deviceId, 'status')], { qos: 1 });
    return broker;
  }

  #received(name: string, payload: Uint8Array): void {
    if (name === topic(this.deviceId, 'res')) {
      const { id } = decodeReplyEnvelope(payload);
      const list = this.replies.get(id) ?? [];
      list.push(payload);
      this.replies.set(id, list);
    } else if (name === topic(this.deviceId, 'hello')) {
      this.hellos.push(JSON.parse(new TextDecoder().decode(payload)));
      this.onHello?.();
    } else if (name === topic(this.deviceId, 'status')) {
      this.statuses.push(new TextDecoder().decode(payload));
    }
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  send(env: Envelope): Promise<unknown> {
    return this.sendRaw(encodeRequest(env));
  }

  sendRaw(payload: Uint8Array): Promise<unknown> {
    return this.client.publishAsync(topic(this.deviceId, 'req'), Buffer.from(payload), { qos: 1 });
  }

  /** Resolves when `done()` holds, checked after every message; rejects after `ms`. */
  until(done: () => boolean, what: string, ms = 30_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
      const check = () => {
        if (done()) {
          clearTimeout(timer);
          resolve();
        } else this.#waiters.push(check);
      };
      check();
    });
  }

  /** Number of ids answered. */
  get answered(): number {
    return this.replies.size;
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

