/**
 * The broker's own MQTT client on the embedded server: aedes' in-process publish and
 * subscribe, not an MQTT connection into it. A connection, even a stream pair in this process,
 * has every message encoded by one side and parsed by the other, twice per request, plus a
 * PUBACK each way: most of the broker's time per message (docs/performance-history.md). Nothing is
 * lost by skipping it: the client and aedes live and die together, and what the broker relies
 * on is in its log, not in MQTT sessions (docs/remote-protocol.md "Sessions").
 *
 * `BrokerMqtt` is what the broker's parts (remote-signer.ts, mirror-store.ts,
 * control-relay.ts) use of a client; mqtt.js' MqttClient has it too (an external server).
 */
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { Aedes, AedesPublishPacket } from 'aedes';

export interface BrokerMqtt {
  publish(topic: string, payload: Buffer, options: { qos: 0 | 1 }, callback?: (error?: Error) => void): unknown;
  publishAsync(topic: string, payload: Buffer, options: { qos: 0 | 1 }): Promise<unknown>;
  subscribe(topics: string[], options: { qos: 0 | 1 }, callback?: (error: Error | null) => void): unknown;
  subscribeAsync(topics: string[], options: { qos: 0 | 1 }): Promise<unknown>;
  on(event: 'message', listener: (topic: string, payload: Buffer, packet: { readonly retain: boolean }) => void): unknown;
  on(event: 'connect' | 'offline', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'message', listener: (topic: string, payload: Buffer, packet: { readonly retain: boolean }) => void): unknown;
  endAsync(): Promise<unknown>;
}

type Deliver = (packet: AedesPublishPacket, done: () => void) => void;

/**
 * A BrokerMqtt on `aedes` itself. Messages come as a subscribing client would get them: live
 * ones with `retain` false, and on subscribing, the retained ones its filters match, with
 * `retain` true (the remote signer asks a device connected before it subscribed for hello).
 */
export function localClient(aedes: Aedes): BrokerMqtt {
  const events = new EventEmitter();
  /** One aedes subscription per filter, however many parts ask for it (each message once). */
  const subscriptions = new Map<string, Deliver>();
  let ended = false;
  const emit = (packet: AedesPublishPacket, retain: boolean): void => {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    events.emit('message', packet.topic, payload, { retain });
  };

  const publish = (topic: string, payload: Buffer, options: { qos: 0 | 1 }, callback?: (error?: Error) => void): void => {
    if (ended) return callback?.(new Error('the broker\'s client has ended'));
    aedes.publish({ cmd: 'publish', topic, payload, qos: options.qos, retain: false, dup: false }, (error) => callback?.(error ?? undefined));
  };

  const subscribe = (filters: string[], callback?: (error: Error | null) => void): void => {
    if (ended) return callback?.(new Error('the broker\'s client has ended'));
    const added = filters.filter((filter) => !subscriptions.has(filter));
    let left = Math.max(1, added.length);
    const subscribed = (): void => {
      if (--left > 0) return;
      // aedes' in-memory persistence (aedes-persistence) hands retained messages out as a stream.
      const retained = (aedes as unknown as { persistence: { createRetainedStreamCombi(patterns: string[]): Readable } }).persistence.createRetainedStreamCombi(filters);
      retained.on('data', (packet: AedesPublishPacket) => emit(packet, true));
      retained.once('error', (e: Error) => callback?.(e));
      retained.once('end', () => callback?.(null));
    };
    if (added.length === 0) return subscribed(); // already subscribed: the retained ones again, as a server sends
    for (const filter of added) {
      const deliver: Deliver = (packet, done) => {
        emit(packet, false);
        done();
      };
      subscriptions.set(filter, deliver);
      aedes.subscribe(filter, deliver, subscribed);
    }
  };

  const client: BrokerMqtt = {
    publish,
    publishAsync: (topic, payload, options) => new Promise<void>((resolve, reject) => publish(topic, payload, options, (e) => (e ? reject(e) : resolve()))),
    subscribe: (filters, _options, callback) => subscribe(filters, callback),
    subscribeAsync: (filters) => new Promise<void>((resolve, reject) => subscribe(filters, (e) => (e ? reject(e) : resolve()))),
    on: (event: string, listener: Parameters<EventEmitter['on']>[1]) => events.on(event, listener),
    off: (event, listener) => events.off(event, listener),
    async endAsync() {
      if (ended) return;
      ended = true;
      const all = [...subscriptions];
      subscriptions.clear();
      await Promise.all(all.map(([filter, deliver]) => new Promise<void>((resolve) => aedes.unsubscribe(filter, deliver, resolve))));
    },
  };
  // As a client would say once connected (listeners are attached right after this returns).
  setImmediate(() => ended || events.emit('connect'));
  return client;
}
