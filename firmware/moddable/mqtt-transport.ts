/**
 * The Transport port on Moddable's ECMA-419 MQTT client (embedded:network/mqtt/client),
 * which, unlike the older `mqtt` module (QoS 0 only, clean session only), does QoS 1 and
 * clean session false. TCP_NODELAY through the socket's `noDelay`. The client sends the
 * PUBACK of a received message after onReadable returns, i.e. after the device journaled it.
 * Every packet we send goes through MqttWriteQueue, written in fragments as the socket drains:
 * the client throws "overflow" for a PUBLISH larger than the socket takes at once.
 */
import TCP from 'embedded:io/socket/tcp';
import TLSSocket from 'embedded:io/socket/tcp/tls';
import MQTTClient from 'embedded:network/mqtt/client';
import { parseBrokerUrl, type BrokerTrust } from '../app/broker-trust.js';
import { tokenRefusalAdvice } from '../app/clock-sync.js';
import { MqttWriteQueue, type OutgoingPacket, type PacketWriter } from '../app/mqtt-write-queue.js';
import type { ConnectOptions, PublishOptions, Transport, TransportHandlers } from '../app/ports.js';

/** What manifest_mqttclient.json's config puts on globalThis.device.network.mqtt. */
interface MqttProvider {
  readonly io: typeof MQTTClient;
  readonly dns: Record<string, unknown>;
  readonly socket: Record<string, unknown>;
}

/**
 * The TCP socket under the SDK's TLS socket, its callbacks guarded. The TLS socket (SDK 8.2.3
 * examples/io/tcp/tlssocket) runs the handshake inside them and lets a refusal escape (a
 * certificate not from ca.pem throws "certificate: auth err"), which aborts the firmware as an
 * unhandled exception. Caught here, it is told to `failed` and becomes the socket's error,
 * which the MQTT client reports (docs/device-tls.md "Moddable's TLS").
 */
function guardedTcp(failed: (error: Error) => void): typeof TCP {
  return class GuardedTcp extends TCP {
    constructor(options: ConstructorParameters<typeof TCP>[0]) {
      const guard = (callback: ((this: TCP, bytes: number) => void) | undefined) =>
        callback &&
        function (this: TCP, bytes: number) {
          try {
            callback.call(this, bytes);
          } catch (e) {
            failed(e instanceof Error ? e : new Error(String(e)));
            options.onError?.call(this);
          }
        };
      super({ ...options, onReadable: guard(options.onReadable), onWritable: guard(options.onWritable) });
    }
  };
}

/** What the device logs when the TLS socket failed with `error`. */
const tlsFailure = (error: Error): string =>
  `TLS failed (${error.message})` +
  (/certificate/.test(error.message)
    ? ": the broker's certificate is not from ca.pem (copy sphinx-hsmd's SPHINX_DATA_DIR/tls/ca.pem to the card) or does not name mqttUrl's host (SPHINX_TLS_NAMES)"
    : '');

interface Pending {
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

export class ModdableMqttTransport implements Transport {
  #client: MQTTClient | undefined;
  #handlers: TransportHandlers | undefined;
  #queue: MqttWriteQueue | undefined;
  #nextId = 1;
  /** Keyed by packet id; a QoS 0 PUBLISH (no id on the wire, done once written) by a negative key. */
  readonly #pending = new Map<number, Pending>();
  #nextLocalKey = -1;
  #message: { topic: string; chunks: Uint8Array[] } | undefined;

  /**
   * `trust` from brokerTrust() (docs/device-tls.md): for mqtts the TLS socket gets the
   * broker's CA as its only trusted certificate, so only that CA's server is accepted.
   */
  constructor(
    private readonly provider: MqttProvider,
    private readonly trust: BrokerTrust,
  ) {}

  connect(options: ConnectOptions, handlers: TransportHandlers): void {
    let address;
    try {
      address = parseBrokerUrl(options.url);
    } catch (e) {
      handlers.disconnected((e as Error).message);
      return;
    }
    const trust = this.trust;
    if (address.secure !== trust.secure || (trust.secure && trust.ca === undefined)) {
      handlers.disconnected(`${options.url}: ${address.secure ? 'TLS needs ca.pem on the SD card' : 'plain URL with a CA configured'}`);
      return;
    }
    this.#handlers = handlers;
    const transport = this;
    const Client = this.provider.io;
    let tlsError: Error | undefined;
    const socket = trust.secure
      ? { io: TLSSocket, TCP: { io: guardedTcp((e) => (tlsError = e)) }, noDelay: true, secure: { certificate: trust.ca!.slice().buffer } }
      : { ...this.provider.socket, noDelay: true };
    this.#client = new Client({
      ...this.provider,
      socket,
      dns: this.provider.dns,
      host: address.host,
      port: address.port,
      id: options.clientId,
      user: options.username,
      password: options.password,
      clean: false,
      keepAlive: 30_000,
      ...(options.will ? { will: { topic: options.will.topic, message: options.will.payload.slice().buffer, QoS: 1, retain: true } } : {}),
      // The SDK 8.2.3 client calls onControl(message), the opcode in message.operation; its
      // typings say onControl(opcode, message): both are taken (docs/device-memory.md "Built by mcconfig").
      onControl(first: unknown, second?: { id: number }) {
        const message = (typeof first === 'object' && first !== null ? first : second) as { operation?: number; id: number } | undefined;
        const opcode = typeof first === 'number' ? first : message?.operation;
        if (opcode === MQTTClient.CONNACK) handlers.connected();
        else if ((opcode === MQTTClient.PUBACK || opcode === MQTTClient.SUBACK) && message) transport.#settle(message.id);
      },
      onWritable(count: number) {
        transport.#queue?.writable(count);
      },
      onReadable(this: MQTTClient, count: number, info: { more: boolean; topic?: string }) {
        if (info.topic !== undefined) transport.#message = { topic: info.topic, chunks: [] };
        const chunk = this.read(count);
        if (chunk && transport.#message) transport.#message.chunks.push(new Uint8Array(chunk));
        if (!info.more && transport.#message) {
          const { topic, chunks } = transport.#message;
          transport.#message = undefined;
          handlers.message(topic, join(chunks));
        }
      },
      onError(error?: unknown) {
        if (tlsError !== undefined) return transport.#closed(tlsFailure(tlsError));
        // A refused CONNECT (bad token) arrives as an error; say what the clock read.
        transport.#closed(tokenRefusalAdvice(`connection error${error ? `: ${String(error)}` : ''}`, Date.now()));
      },
      onClose() {
        transport.#closed(trust.secure ? 'connection closed (if at once: the broker\'s certificate is not from ca.pem)' : 'connection closed');
      },
    } as ConstructorParameters<typeof MQTTClient>[0]);
    const client = this.#client;
    const writer: PacketWriter = {
      startPublish: (p, first) =>
        client.write(first.slice().buffer, { topic: p.topic, QoS: p.qos, retain: p.retain, byteLength: p.payload.length, ...(p.qos === 1 ? { id: p.id } : {}) }),
      // A PUBLISH's later fragments go without options (mqttclient.js "publishing"); the typings want some.
      continuePublish: (fragment) => client.write(fragment.slice().buffer, undefined as unknown as Parameters<MQTTClient['write']>[1]),
      subscribe: (p) =>
        client.write(null as unknown as ArrayBuffer, { operation: MQTTClient.SUBSCRIBE, id: p.id, topic: '', items: p.topics.map((topic) => ({ topic, QoS: 1 })) }),
    };
    this.#queue = new MqttWriteQueue(writer, (error) => transport.#closed(`write failed: ${error.message}`));
  }

  subscribe(topics: readonly string[]): Promise<void> {
    return this.#send((id) => ({ kind: 'subscribe', topics, id }), true);
  }

  publish(topic: string, payload: Uint8Array, options: PublishOptions = {}): Promise<void> {
    const retain = options.retain ?? false;
    // QoS 1 is done at its PUBACK; QoS 0 (no packet id, no PUBACK) once written.
    return options.qos === 0
      ? this.#send(() => ({ kind: 'publish', topic, payload, qos: 0, retain, id: 0 }), false)
      : this.#send((id) => ({ kind: 'publish', topic, payload, qos: 1, retain, id }), true);
  }

  async end(): Promise<void> {
    const client = this.#client;
    if (!client) return;
    await Promise.all([...this.#pending.values()].map((p) => new Promise<void>((resolve) => {
      const { resolve: done, reject } = p;
      Object.assign(p, { resolve: () => (done(), resolve()), reject: (e: Error) => (reject(e), resolve()) });
    })));
    this.#handlers = undefined;
    try {
      client.write(null as unknown as ArrayBuffer, { operation: MQTTClient.DISCONNECT, topic: '' });
    } finally {
      client.close();
      this.#client = undefined;
      this.#queue = undefined;
    }
  }

  /** Queues the packet `make` builds; settled by its acknowledgement (`acknowledged`) or once written. */
  #send(make: (id: number) => OutgoingPacket, acknowledged: boolean): Promise<void> {
    const queue = this.#queue;
    if (!this.#client || !queue) return Promise.reject(new Error('not connected'));
    let key: number;
    if (acknowledged) {
      key = this.#nextId;
      this.#nextId = (this.#nextId % 0xffff) + 1;
    } else {
      key = this.#nextLocalKey--;
    }
    return new Promise((resolve, reject) => {
      this.#pending.set(key, { resolve, reject });
      queue.push(make(key), () => {
        if (!acknowledged) this.#settle(key);
      });
    });
  }

  #settle(id: number): void {
    const pending = this.#pending.get(id);
    this.#pending.delete(id);
    pending?.resolve();
  }

  #closed(reason: string): void {
    const handlers = this.#handlers;
    this.#handlers = undefined;
    this.#client?.close();
    this.#client = undefined;
    this.#queue?.clear();
    this.#queue = undefined;
    for (const p of this.#pending.values()) p.reject(new Error(reason));
    this.#pending.clear();
    handlers?.disconnected(reason);
  }
}

function join(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
