/**
 * The SignerPort that signs on a device over MQTT: the thin glue around the session
 * (broker/remote/session.ts, docs/remote-protocol.md), which decides everything. This file
 * feeds it MQTT messages, timers and the broker log's durable appends, and carries out its
 * commands: publish, append, answer lightningd, arm timers, log.
 */
import type { Reply } from '../../signer/decision.js';
import { DEVICE_STATUS, parseTopic, topic, TOPIC_ROOT } from '../../signer/remote/topics.js';
import type { BrokerLog } from '../../log/broker-log/broker-log.js';
import type { LogRecord, RequestReceived } from '../../log/broker-log/record.js';
import type { SignerPort } from '../signer-port.js';
import type { KnownDevices } from './identity.js';
import type { ServerLog, StaleKept, StaleRule } from './mqtt-server.js';
import { rollbackVerdict } from './hello.js';
import { type Now, Session, type SessionCommand, type SessionEvent, type SessionOptions } from './session.js';
import type { BrokerMqtt } from './local-client.js';
import { NO_WARM_START, type WarmCommand, WarmPath, type WarmPathOptions } from './warm-path.js';

export interface RemoteSignerOptions {
  /** The broker's own MQTT client (connected or connecting). */
  readonly mqtt: BrokerMqtt;
  readonly brokerLog: BrokerLog;
  readonly log: ServerLog;
  /** Told the node id from init's reply (it becomes a known device key). */
  readonly devices?: KnownDevices;
  readonly backoffMs?: readonly number[];
  /** SPHINX_ACCEPT_DEVICE_ROLLBACK, parsed (docs/broker-log.md "The operator's way out"). */
  readonly acceptRollback?: SessionOptions['acceptRollback'];
  /**
   * The embedded server's hook (mqtt-server.ts keepStaleApart): given the rule that says which
   * device connecting with which last journaled id is stale, as a hello would be refused, and
   * where a device kept apart is reported, as a refused hello is.
   */
  readonly keepStaleApart?: (rule: StaleRule, kept: StaleKept) => void;
  /** The remote path's warm start (warm-path.ts); without it, none. */
  readonly warmUp?: WarmPathOptions;
  /** Also run on close (the embedded server, after the client). */
  readonly onClose?: () => Promise<void>;
}

/**
 * What the broker log says about request ids: the largest one it holds, the largest one a
 * device answered, and the requests above that with no reply (in flight when the broker last
 * stopped: docs/broker-log.md "Reconciliation after a broker crash"). Read from the last 1024
 * records (the newest ids are there), or the whole log when those hold none.
 */
export async function loggedIds(brokerLog: BrokerLog): Promise<{ lastId: bigint; answeredUpTo: bigint; unanswered: RequestReceived[] }> {
  let lastId = 0n;
  let answeredUpTo = 0n;
  const requests = new Map<bigint, RequestReceived>();
  const scan = (record: LogRecord): void => {
    if (record.kind === 'request-received') {
      if (record.id > lastId) lastId = record.id;
      requests.set(record.id, record);
    }
    if (record.kind === 'reply-received') {
      if (record.id > answeredUpTo) answeredUpTo = record.id;
      requests.delete(record.id);
    }
  };
  const tail = await brokerLog.tail(1024);
  for (const { record } of tail) scan(record);
  if ((lastId === 0n || answeredUpTo === 0n) && brokerLog.end > BigInt(tail.length)) {
    requests.clear();
    for await (const { record } of brokerLog.read()) scan(record);
  }
  const unanswered = [...requests.values()].filter((r) => r.id > answeredUpTo).sort((a, b) => (a.id < b.id ? -1 : 1));
  return { lastId, answeredUpTo, unanswered };
}

const now = (): Now => ({ wall: Date.now(), mono: performance.now() });

export async function createRemoteSigner(options: RemoteSignerOptions): Promise<SignerPort> {
  const { mqtt, brokerLog, log } = options;
  const ids = await loggedIds(brokerLog);
  const session = new Session({ ...ids, backoffMs: options.backoffMs, acceptRollback: options.acceptRollback });
  log('info', `remote signer: request ids continue at ${session.nextId}`);
  const waiting = new Map<number, { resolve: (reply: Reply) => void; reject: (e: Error) => void }>();
  const timers = new Map<bigint, NodeJS.Timeout>();
  let nextToken = 1;

  const feed = (event: SessionEvent): void => {
    for (const command of session.handle(event)) run(command);
  };
  /** A device's message to the session: what it throws is logged, as the broker never exits on signer trouble. */
  const fromDevice = (device: string, event: SessionEvent): void => {
    try {
      feed(event);
    } catch (e) {
      log('broken', `remote signer: handling ${event.kind} from ${device}: ${(e as Error).stack ?? String(e)}`);
    }
  };
  // A device's messages reach the session through its warm start (warm-path.ts), which holds them while it runs.
  const warmPath = new WarmPath<SessionEvent>(options.warmUp ?? NO_WARM_START);
  const echoTimers = new Map<string, NodeJS.Timeout>();
  const warm = (commands: WarmCommand<SessionEvent>[]): void => {
    for (const c of commands) {
      switch (c.kind) {
        case 'warm':
          mqtt.publish(topic(c.device, 'warm'), Buffer.from(c.payload.buffer, c.payload.byteOffset, c.payload.byteLength), { qos: 0 });
          break;
        case 'wait': {
          clearTimeout(echoTimers.get(c.device));
          const { device } = c;
          echoTimers.set(device, setTimeout(() => warm(warmPath.timedOut(device, performance.now())), c.ms).unref());
          break;
        }
        case 'release':
          clearTimeout(echoTimers.get(c.device));
          echoTimers.delete(c.device);
          for (const event of c.events) fromDevice(c.device, event);
          break;
        case 'log':
          log(c.level, `remote signer: ${c.text}`);
          break;
      }
    }
  };
  const run = (c: SessionCommand): void => {
    switch (c.kind) {
      case 'publish':
        // QoS 0: this broker resends what goes unanswered (docs/remote-protocol.md "Connecting").
        mqtt.publish(topic(c.device, 'req'), Buffer.from(c.payload.buffer, c.payload.byteOffset, c.payload.byteLength), { qos: 0 }, (err) => {
          if (err) log('unusual', `remote signer: publishing request(s) ${c.ids.join(', ')} to ${c.device}: ${err.message}; resent later`);
        });
        return;
      case 'refuse':
        // QoS 1: one left queued in the session reaches the device that connects next, which
        // stops only if it is about its own journal (signer/remote/refusal.ts).
        mqtt.publish(topic(c.device, 'refused'), Buffer.from(c.payload), { qos: 1 }, (err) => {
          if (err) log('unusual', `remote signer: telling ${c.device} it is refused: ${err.message}`);
        });
        return;
      case 'append': {
        const appending = brokerLog.append(c.record, { lazy: c.lazy ?? false });
        const { ack } = c;
        if (ack === undefined) appending.catch((e: Error) => log('broken', `broker log: ${e.message}`));
        else appending.then(() => feed({ kind: 'appended', ack, now: now() }), (e: Error) => feed({ kind: 'append-failed', ack, error: e.message, now: now() }));
        return;
      }
      case 'answer':
        waiting.get(c.token)?.resolve(c.reply);
        waiting.delete(c.token);
        return;
      case 'fail':
        waiting.get(c.token)?.reject(new Error(c.error));
        waiting.delete(c.token);
        return;
      case 'arm': {
        clearTimeout(timers.get(c.id));
        const { id } = c;
        const timer = setTimeout(() => {
          timers.delete(id);
          feed({ kind: 'timer', id, now: now() });
        }, c.ms);
        timer.unref();
        timers.set(id, timer);
        return;
      }
      case 'disarm':
        clearTimeout(timers.get(c.id));
        timers.delete(c.id);
        return;
      case 'schedule-pump':
        setImmediate(() => feed({ kind: 'pump', now: now() }));
        return;
      case 'log':
        return log(c.level, c.text);
      case 'node-id':
        return options.devices?.learnInitNodeId(c.hex);
    }
  };

  options.keepStaleApart?.(
    (device, lastId) => {
      const verdict = rollbackVerdict(device, lastId, session.inspect().answeredUpTo, options.acceptRollback);
      return verdict?.accepted === false ? verdict : undefined;
    },
    (device, refused) => {
      const text = `${refused}. Its connection is kept apart: the active device keeps its MQTT session, and ${device} is told why`;
      run({ kind: 'log', level: 'broken', text: `remote signer: ${text}` });
      run({ kind: 'append', record: { kind: 'error', text, at: Date.now() } });
    },
  );

  mqtt.on('message', (name, payload, packet) => {
    const where = parseTopic(name);
    if (!where) return log('debug', `remote signer: message on ${name} ignored`);
    if (where.suffix === 'warmed') return warm(warmPath.echoed(where.deviceId, new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength), performance.now()));
    if (where.suffix !== 'hello' && where.suffix !== 'res' && where.suffix !== 'status') return;
    // A retained "online" reaches us when we subscribe: the device connected before this broker
    // listened (a broker restart under an external MQTT server, or a device quicker than our
    // subscription), so its hello went to nobody. Ask for it again (docs/remote-protocol.md "Connecting").
    if (where.suffix === 'status' && packet.retain && payload.toString('utf8') === DEVICE_STATUS.online) {
      log('info', `remote signer: device ${where.deviceId} was connected before this broker subscribed; asking it for hello`);
      mqtt.publish(topic(where.deviceId, 'hello-request'), Buffer.alloc(0), { qos: 1 }, (err) => {
        if (err) log('unusual', `remote signer: asking ${where.deviceId} for hello: ${err.message}`);
      });
    }
    const event = { kind: where.suffix, device: where.deviceId, payload: new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength), now: now() };
    warm(warmPath.arrived(where.deviceId, where.suffix === 'hello', event, event.now.mono));
  });
  mqtt.on('connect', () => log('info', 'remote signer: connected to the MQTT server'));
  mqtt.on('offline', () => log('unusual', 'remote signer: MQTT server unreachable; reconnecting'));
  mqtt.on('error', (e) => log('unusual', `remote signer: MQTT: ${e.message}`));
  mqtt.subscribe(['hello', 'res', 'status', 'warmed'].map((s) => `${TOPIC_ROOT}/+/${s}`), { qos: 1 }, (err) => {
    if (err) log('broken', `remote signer: subscribing: ${err.message}`);
  });

  return {
    brokerLog,
    inspect: () => session.inspect(),
    request: (request) =>
      new Promise<Reply>((resolve, reject) => {
        const token = nextToken++;
        waiting.set(token, { resolve, reject });
        try {
          feed({ kind: 'request', token, request, now: now() });
        } catch (e) {
          waiting.delete(token);
          reject(e as Error);
        }
      }),
    async close() {
      feed({ kind: 'close' });
      for (const timer of [...timers.values(), ...echoTimers.values()]) clearTimeout(timer);
      await mqtt.endAsync().catch(() => undefined);
      await options.onClose?.();
      await brokerLog.close();
    },
  };
}
