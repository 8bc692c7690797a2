/**
 * The Transport port on mqtt.js (DESIGN §6 firmware/host): MQTT 3.1.1, QoS 1, clean
 * session false, TCP_NODELAY on the socket (Nagle costs ~88 ms a round trip here: issue 5),
 * no reconnect of mqtt.js's own (the device loop reconnects with fresh credentials).
 * mqtt.js sends PUBACK after the 'message' listeners return, as the port requires.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { ConnectOptions, Transport, TransportHandlers } from '../app/ports.js';

export class MqttTransport implements Transport {
  #client: MqttClient | undefined;

  connect(options: ConnectOptions, handlers: TransportHandlers): void {
    let lastError = 'connection closed';
    let ended = false;
    const client = mqtt.connect(options.url, {
      protocolVersion: 4,
      clientId: options.clientId,
      username: options.username,
      password: options.password,
      clean: false,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      keepalive: 30,
      ...(options.will ? { will: { topic: options.will.topic, payload: Buffer.from(options.will.payload), qos: 1, retain: true } } : {}),
    });
    this.#client = client;
    noDelay(client);
    client.on('connect', () => {
      noDelay(client);
      handlers.connected();
    });
    client.on('message', (topic, payload) => handlers.message(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.length)));
    client.on('error', (e) => {
      lastError = e.message || String((e as NodeJS.ErrnoException).code);
    });
    client.on('close', () => {
      if (ended) return;
      ended = true;
      if (this.#client === client) this.#client = undefined;
      client.end(true);
      handlers.disconnected(lastError);
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

  publish(topic: string, payload: Uint8Array, options: { readonly retain?: boolean } = {}): Promise<void> {
    const client = this.#connected();
    return new Promise((resolve, reject) =>
      client.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.length), { qos: 1, retain: options.retain ?? false }, (err) => (err ? reject(err) : resolve())),
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

function noDelay(client: MqttClient): void {
  const stream = client.stream as { setNoDelay?: (on: boolean) => void } | undefined;
  stream?.setNoDelay?.(true);
}
