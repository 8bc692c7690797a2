/**
 * The SignerPort that signs on a device over MQTT (docs/remote-protocol.md "Requests"):
 * - every request gets a 64-bit id, unique across broker restarts (the broker log's last
 *   id + 1), is appended to the broker log as RequestReceived (durable) and only then
 *   published on the active device's `req` (QoS 1) in a batch with whatever else is waiting
 *   (one `req` message in flight at a time, up to MAX_BATCH_REQUESTS / MAX_BATCH_BYTES);
 * - each reply of a `res` message (a batch, or a version-1 single) is matched by id, appended as ReplyReceived (durable), and only then
 *   handed back (the router writes it to lightningd in each connection's order);
 * - what is outstanding is resent when a device says `hello`, and after bounded waits with
 *   backoff (1, 2, 4 … 30 s) with a loud line each time; it never gives up, never exits;
 * - lightningd's init is kept with its reply: a device saying `hello` later is first sent
 *   that init (under a fresh id, logged like any request) and is used only if it gives the
 *   same reply, i.e. holds the same seed; otherwise it is refused and logged;
 * - a payload that does not decode is logged with the reason and dropped.
 */
import type { MqttClient } from 'mqtt';
import { equal, toHex } from '../../signer/bytes.js';
import type { Reply } from '../../signer/decision.js';
import type { Envelope } from '../../signer/envelope.js';
import { batchedRequestSize, decodeReplyPayload, encodeReplyEnvelope, encodeRequestBatch, MAX_BATCH_BYTES, MAX_BATCH_REQUESTS } from '../../signer/remote/envelope-codec.js';
import { parseTopic, topic, TOPIC_ROOT } from '../../signer/remote/topics.js';
import { decodeMessage, messageType, requestType } from '../../signer/wire/messages.js';
import type { BrokerLog } from '../../log/broker-log/broker-log.js';
import type { LogRecord } from '../../log/broker-log/record.js';
import { outcome } from '../local-signer.js';
import type { SignerPort } from '../signer-port.js';
import type { KnownDevices } from './identity.js';
import type { ServerLog } from './mqtt-server.js';

/** Waits before each resend of an unanswered request (the last one repeats). */
export const RESEND_BACKOFF_MS: readonly number[] = [1000, 2000, 4000, 8000, 16000, 30000];
/** A message in flight is not resent again within this long (its requests' timers fire together). */
const RESEND_GUARD_MS = 250;
const WIRE_HSMD_INIT = messageType('hsmd_init');
const WIRE_HSMD_INIT_REPLY_V4 = messageType('hsmd_init_reply_v4');

export interface RemoteSignerOptions {
  /** The broker's own MQTT client (connected or connecting). */
  readonly mqtt: MqttClient;
  readonly brokerLog: BrokerLog;
  readonly log: ServerLog;
  /** Told the node id from init's reply (it becomes a known device key). */
  readonly devices?: KnownDevices;
  readonly backoffMs?: readonly number[];
  /** Also run on close (the embedded server, after the client). */
  readonly onClose?: () => Promise<void>;
}

interface Outstanding {
  readonly id: bigint;
  readonly type: number;
  readonly envelope: Envelope;
  readonly started: number;
  attempt: number;
  timer: NodeJS.Timeout | undefined;
  answered: boolean;
  readonly resolve: (reply: Reply) => void;
  readonly reject: (err: Error) => void;
  /** A device's check against the cached init, not lightningd's request. */
  readonly verifies?: string;
}

type DeviceState = { readonly kind: 'verifying' | 'ready' | 'refused' };

/** The reply's bytes without the id: what two devices with one seed must agree on. */
const replyBytes = (reply: Reply): Uint8Array => encodeReplyEnvelope({ id: 0n, reply });

/** The next request id: one past the largest id the broker log holds. */
export async function nextRequestId(brokerLog: BrokerLog): Promise<bigint> {
  let last = 0n;
  const scan = (records: Iterable<{ record: LogRecord }>): void => {
    for (const { record } of records) if (record.kind === 'request-received' && record.id > last) last = record.id;
  };
  const tail = await brokerLog.tail(1024);
  scan(tail);
  if (last === 0n && brokerLog.end > BigInt(tail.length)) {
    for await (const r of brokerLog.read()) scan([r]);
  }
  return last + 1n;
}

export async function createRemoteSigner(options: RemoteSignerOptions): Promise<SignerPort> {
  const { mqtt, brokerLog, log } = options;
  const backoff = options.backoffMs ?? RESEND_BACKOFF_MS;
  let nextId = await nextRequestId(brokerLog);
  log('info', `remote signer: request ids continue at ${nextId}`);
  const outstanding = new Map<bigint, Outstanding>();
  const devices = new Map<string, DeviceState>();
  let active: string | undefined;
  let cachedInit: { envelope: Envelope; reply: Uint8Array } | undefined;
  let closed = false;

  /** Appends without waiting; a failure is logged (these records inform, they gate nothing). */
  const note = (record: LogRecord): void => {
    brokerLog.append(record).catch((e: Error) => log('broken', `broker log: ${e.message}`));
  };
  const error = (text: string, id?: bigint): void => note({ kind: 'error', text, at: Date.now(), ...(id === undefined ? {} : { id }) });

  /**
   * One `req` message at a time at the device, the next once it is answered: the device core
   * takes ids in increasing order only (firmware/app/core.ts), and aedes, keeping a persistent
   * session's QoS 1 messages in LevelDB, was seen to deliver pipelined publishes out of order
   * and to drop some (64 connections in flight). So what waits meanwhile goes in the next
   * message as one batch (docs/remote-protocol.md "Batches"), in the order it was queued,
   * which the device handles with one journal sync; a lost message is resent after the
   * bounded wait.
   */
  type Queued = { device: string; p: Outstanding };
  const queue: Queued[] = [];
  let inFlight: { device: string; batch: Queued[]; sentAt: number } | undefined;
  const current = (q: Queued): boolean =>
    !q.p.answered && outstanding.get(q.p.id) === q.p && (q.p.verifies ? q.p.verifies === q.device : active === q.device);
  const transmit = (device: string, batch: readonly Queued[]): void => {
    let payload: Uint8Array;
    try {
      payload = encodeRequestBatch(batch.map((q) => q.p.envelope));
    } catch (e) {
      log('broken', `remote signer: encoding requests ${batch.map((q) => q.p.id).join(', ')}: ${(e as Error).message}`);
      return;
    }
    mqtt.publish(topic(device, 'req'), Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: 1 }, (err) => {
      if (err) log('unusual', `remote signer: publishing request(s) ${batch.map((q) => q.p.id).join(', ')} to ${device}: ${err.message}; resent later`);
    });
  };
  const pump = (): void => {
    if (inFlight && !inFlight.batch.some(current)) inFlight = undefined;
    while (!inFlight && !closed && queue.length > 0) {
      const first = queue.shift()!;
      if (!current(first)) continue;
      const batch = [first];
      let bytes = 3 + batchedRequestSize(first.p.envelope);
      while (queue.length > 0 && batch.length < MAX_BATCH_REQUESTS) {
        const next = queue[0]!;
        if (!current(next)) {
          queue.shift();
          continue;
        }
        const size = batchedRequestSize(next.p.envelope);
        if (next.device !== first.device || bytes + size > MAX_BATCH_BYTES) break;
        queue.shift();
        batch.push(next);
        bytes += size;
      }
      inFlight = { device: first.device, batch, sentAt: performance.now() };
      transmit(first.device, batch);
    }
  };
  const publish = (device: string, p: Outstanding): void => {
    if (inFlight?.device === device && inFlight.batch.some((q) => q.p === p)) {
      // A resend of the message in flight (what of it is still unanswered); its other
      // requests' timers, firing about now too, do not send it again.
      if (performance.now() - inFlight.sentAt < RESEND_GUARD_MS) return;
      inFlight.batch = inFlight.batch.filter(current);
      inFlight.sentAt = performance.now();
      if (inFlight.batch.length > 0) return transmit(device, inFlight.batch);
      inFlight = undefined;
    }
    if (!queue.some((q) => q.p === p && q.device === device)) queue.push({ device, p });
    schedulePump();
  };
  /**
   * Pumps once the current turn is over: the requests whose RequestReceived one group commit
   * made durable all resume in this turn, so they leave together in one batch, not the first
   * alone and the others after its reply.
   */
  let pumpScheduled = false;
  const schedulePump = (): void => {
    if (pumpScheduled) return;
    pumpScheduled = true;
    setImmediate(() => {
      pumpScheduled = false;
      pump();
    });
  };

  const arm = (p: Outstanding): void => {
    const wait = backoff[Math.min(p.attempt, backoff.length - 1)]!;
    p.timer = setTimeout(() => {
      if (p.answered || closed) return;
      p.attempt++;
      const seconds = Math.round((performance.now() - p.started) / 1000);
      const target = p.verifies ?? active;
      const text = `request ${p.id} (type ${p.type}) unanswered after ${seconds} s; ` +
        (target ? `resending it to device ${target}` : 'no device is ready: waiting for one to say hello');
      log('unusual', `remote signer: ${text}`);
      error(text, p.id);
      if (target) publish(target, p);
      arm(p);
    }, wait);
    p.timer.unref();
  };

  /** Logs RequestReceived (durable), then publishes and waits for the reply. */
  const send = async (env: Envelope, verifies?: string): Promise<Reply> => {
    const id = nextId++;
    const message = env.message.slice(); // may be a view into a socket buffer (frames.ts)
    const envelope: Envelope = { ...env, id, message };
    const type = requestType(message);
    const started = performance.now();
    await brokerLog.append({ kind: 'request-received', id, client: env.client, type, message, at: Date.now() });
    return new Promise<Reply>((resolve, reject) => {
      const p: Outstanding = { id, type, envelope, started, attempt: 0, timer: undefined, answered: false, resolve, reject, verifies };
      outstanding.set(id, p);
      const target = verifies ?? active;
      if (target) publish(target, p);
      arm(p);
    });
  };

  /**
   * Makes `device` the one requests go to and resends what is outstanding, in id order. After
   * the init check (a fresh id), a request the device never journaled (id > its hello's
   * lastId) would now arrive below the device's last id, which the device core refuses; it is
   * given a new id (logged as a request of its own, and an error record names the old id).
   */
  const ready = async (device: string, journaledUpTo?: bigint): Promise<void> => {
    if (journaledUpTo !== undefined) {
      const renumber = [...outstanding.values()].filter((p) => !p.verifies && p.id > journaledUpTo).sort((a, b) => (a.id < b.id ? -1 : 1));
      await Promise.all(renumber.map((p) => renumbered(p, device)));
    }
    if (closed) return;
    devices.set(device, { kind: 'ready' });
    active = device;
    queue.length = 0;
    inFlight = undefined;
    const waiting = [...outstanding.values()].filter((p) => !p.verifies).sort((a, b) => (a.id < b.id ? -1 : 1));
    log(waiting.length ? 'unusual' : 'info', `remote signer: device ${device} is ready` +
      (waiting.length ? `; resending ${waiting.length} outstanding request(s) (ids ${waiting.map((p) => p.id).join(', ')})` : ''));
    for (const p of waiting) publish(device, p);
  };

  /** Moves `old` to a fresh id (synchronously taken, so ids keep the order they are published in). */
  const renumbered = async (old: Outstanding, device: string): Promise<void> => {
    const id = nextId++;
    clearTimeout(old.timer);
    outstanding.delete(old.id);
    const envelope: Envelope = { ...old.envelope, id };
    const text = `request ${old.id} renumbered as ${id}: device ${device} had not journaled it when it restarted`;
    log('unusual', `remote signer: ${text}`);
    error(text, old.id);
    try {
      await brokerLog.append({ kind: 'request-received', id, client: envelope.client, type: old.type, message: envelope.message, at: Date.now() });
    } catch (e) {
      return old.reject(e as Error);
    }
    const p: Outstanding = { ...old, id, envelope, attempt: 0, timer: undefined };
    outstanding.set(id, p);
    arm(p);
  };

  const leave = (device: string): void => {
    devices.delete(device);
    if (active !== device) return;
    active = [...devices].reverse().find(([, s]) => s.kind === 'ready')?.[0];
    if (active) void ready(active);
    else if (outstanding.size > 0) log('unusual', `remote signer: no device is ready; ${outstanding.size} request(s) wait for one`);
  };

  const onHello = (device: string, payload: Buffer): void => {
    let lastId: bigint;
    try {
      const hello = JSON.parse(payload.toString('utf8')) as { lastId?: unknown; firmware?: unknown };
      if (typeof hello.lastId !== 'string' || !/^\d{1,20}$/.test(hello.lastId)) throw new Error('lastId is not a decimal string');
      lastId = BigInt(hello.lastId);
      log('info', `remote signer: hello from ${device} (firmware ${String(hello.firmware)}, last journaled id ${lastId})`);
    } catch (e) {
      const text = `malformed hello from ${device} dropped: ${(e as Error).message}`;
      log('unusual', `remote signer: ${text}`);
      return error(text);
    }
    note({ kind: 'signer-connected', deviceId: device, at: Date.now() });
    if (lastId >= nextId) {
      log('unusual', `remote signer: device ${device} journaled id ${lastId}, beyond this broker's log; ids continue at ${lastId + 1n}`);
      nextId = lastId + 1n;
    }
    if (active === device) leave(device);
    if (!cachedInit) return void ready(device);
    // Protocol "Init": the same init first; the device is used only if its reply is the same.
    log('info', `remote signer: sending lightningd's init to ${device} to check it holds the same seed`);
    const init = cachedInit;
    const verify = send(init.envelope, device);
    devices.set(device, { kind: 'verifying' });
    void verify.then((reply) => {
      if (equal(replyBytes(reply), init.reply)) return ready(device, lastId);
      devices.set(device, { kind: 'refused' });
      const text = `device ${device} refused: its init reply differs from the one lightningd was given (another seed?)`;
      log('broken', `remote signer: ${text}`);
      error(text);
    }, (e: Error) => log('broken', `remote signer: checking ${device}: ${e.message}`));
  };

  const onReply = (device: string, payload: Buffer): void => {
    let envs;
    try {
      envs = decodeReplyPayload(new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
    } catch (e) {
      const text = `malformed reply from ${device} dropped: ${(e as Error).message}`;
      log('unusual', `remote signer: ${text}`);
      return error(text);
    }
    // The device answered the message in flight: the next one may go. What it held back
    // (not in its reply) stays outstanding and is resent after the bounded wait.
    if (inFlight?.device === device && envs.some((env) => inFlight!.batch.some((q) => q.p.id === env.id))) inFlight = undefined;
    for (const env of envs) onOneReply(device, env.id, env.reply);
    pump();
  };

  const onOneReply = (device: string, id: bigint, reply: Reply): void => {
    const p = outstanding.get(id);
    const state = devices.get(device);
    const expected = p?.verifies ? p.verifies === device : state?.kind === 'ready';
    if (!p || p.answered || !expected) {
      log('debug', `remote signer: reply ${id} from ${device} ignored (${!p || p.answered ? 'already answered' : `device ${state?.kind ?? 'unknown'}`})`);
      return;
    }
    p.answered = true;
    clearTimeout(p.timer);
    const latencyMicros = Math.round((performance.now() - p.started) * 1000);
    brokerLog.append({ kind: 'reply-received', id: p.id, reply, latencyMicros }).then(() => {
      outstanding.delete(p.id);
      if (p.type === WIRE_HSMD_INIT && !p.verifies && reply.kind === 'frame') learnInit(p.envelope, reply);
      p.resolve(reply);
    }, (e: Error) => {
      outstanding.delete(p.id);
      p.reject(e);
    });
  };

  const learnInit = (envelope: Envelope, reply: Reply & { kind: 'frame' }): void => {
    cachedInit = { envelope, reply: replyBytes(reply) };
    if (requestType(reply.frame) !== WIRE_HSMD_INIT_REPLY_V4) return;
    try {
      const decoded = decodeMessage(reply.frame);
      if (decoded.name === 'hsmd_init_reply_v4') options.devices?.learnInitNodeId(toHex(decoded.node_id));
    } catch (e) {
      log('unusual', `remote signer: cannot read the node id from init's reply: ${(e as Error).message}`);
    }
  };

  const onStatus = (device: string, payload: Buffer): void => {
    if (payload.toString('utf8') !== 'offline' || !devices.has(device)) return;
    log('unusual', `remote signer: device ${device} went offline`);
    note({ kind: 'signer-disconnected', deviceId: device, at: Date.now() });
    leave(device);
  };

  mqtt.on('message', (name, payload) => {
    const where = parseTopic(name);
    if (!where) return log('debug', `remote signer: message on ${name} ignored`);
    try {
      if (where.suffix === 'hello') onHello(where.deviceId, payload);
      else if (where.suffix === 'res') onReply(where.deviceId, payload);
      else if (where.suffix === 'status') onStatus(where.deviceId, payload);
    } catch (e) {
      log('broken', `remote signer: handling ${name}: ${(e as Error).stack ?? String(e)}`);
    }
  });
  mqtt.on('connect', () => log('info', 'remote signer: connected to the MQTT server'));
  mqtt.on('offline', () => log('unusual', 'remote signer: MQTT server unreachable; reconnecting'));
  mqtt.on('error', (e) => log('unusual', `remote signer: MQTT: ${e.message}`));
  mqtt.subscribe(['hello', 'res', 'status'].map((s) => `${TOPIC_ROOT}/+/${s}`), { qos: 1 }, (err) => {
    if (err) log('broken', `remote signer: subscribing: ${err.message}`);
  });

  return {
    brokerLog,
    inspect: () => ({
      devices: [...devices].map(([id, s]) => ({ id, state: s.kind, active: id === active })),
      outstanding: outstanding.size,
    }),
    async request(envelope) {
      const reply = await send(envelope);
      return outcome({ events: [], reply });
    },
    async close() {
      closed = true;
      for (const p of outstanding.values()) clearTimeout(p.timer);
      await mqtt.endAsync().catch(() => undefined);
      await options.onClose?.();
      await brokerLog.close();
    },
  };
}
