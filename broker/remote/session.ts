/**
 * The broker side of the device protocol (docs/remote-protocol.md) as a pure state machine:
 * `handle(event)` takes what happened (a request from lightningd, a device's hello, reply or
 * status, a timer, a log append made durable) and returns the commands that follow (publish,
 * append to the broker log, answer lightningd, arm a timer, log a line). It does no I/O and
 * reads no clock: broker/remote/remote-signer.ts carries the commands out and feeds back
 * their results. Its vocabulary is session-protocol.ts; how requests reach the device
 * (batches, messages in flight) is dispatch.ts.
 *
 * The rules it keeps:
 * - every request gets the next id (RequestIds) and is appended as RequestReceived; it is
 *   published at once if its id is within UNLOGGED_IDS of the last durable RequestReceived
 *   (its record is then appended lazily, to share the reply's sync), else once it is durable.
 *   A starting broker continues ids UNLOGGED_IDS past its log's last id, so an id published
 *   but lost in a crash is never given to another request;
 * - each reply is matched by id, appended as ReplyReceived (durable, and the log is in order,
 *   so its RequestReceived is durable too), and only then answered;
 * - what is outstanding is resent when a device becomes ready, and after bounded waits with
 *   backoff (the last wait repeats), with a loud line each time; it never gives up;
 * - lightningd's init is kept with its reply: a device saying hello later is first sent that
 *   init (under a fresh id) and is used only if it gives the same reply (same seed);
 * - requests the device had not journaled (id above its hello's lastId) would arrive below
 *   the check's id, which it refuses: they get fresh ids above it;
 * - a hello's rollback rule and what it settles of a previous run are hello.ts's: the
 *   previous run's unanswered requests, and the ids it published unlogged that the device
 *   journaled (an unlogged-requests record);
 * - a payload that does not decode, and a malformed hello, is logged and dropped.
 */
import type { Reply } from '../../signer/decision.js';
import type { Envelope } from '../../signer/envelope.js';
import { decodeReplyPayload } from '../../signer/remote/envelope-codec.js';
import { DEVICE_STATUS } from '../../signer/remote/topics.js';
import { requestType } from '../../signer/wire/messages.js';
import type { LogRecord, RequestReceived } from '../../log/broker-log/record.js';
import { isIdRefusal } from '../../core/id-refusals.js';
import { RequestIds } from '../request-ids.js';
import type { DeviceHeard, SignerRequest } from '../signer-port.js';
import { HeardDevices } from './heard-devices.js';
import type { ServerLog } from './mqtt-server.js';
import { DeviceSet, type DeviceView } from './device-set.js';
import { Dispatch } from './dispatch.js';
import { KeptInit, WIRE_HSMD_INIT } from './kept-init.js';
import { parseHello, rollbackVerdict, settleUnanswered, unloggedNote } from './hello.js';
import {
  byId, type Now, type Origin, type Pending, type Queued, RESEND_BACKOFF_MS, type SessionCommand, type SessionEvent, type SessionOptions, UNLOGGED_IDS,
} from './session-protocol.js';

export { type Now, RESEND_BACKOFF_MS, RESEND_GUARD_MS, type SessionCommand, type SessionEvent, type SessionOptions, UNLOGGED_IDS } from './session-protocol.js';

/** What a durable append lets happen next. */
type Continuation =
  | { readonly kind: 'request-logged'; readonly p: Pending }
  | { readonly kind: 'reply-logged'; readonly p: Pending; readonly reply: Reply };

export class Session {
  readonly devices = new DeviceSet();
  readonly #ids: RequestIds;
  readonly #backoff: readonly number[];
  readonly #outstanding = new Map<bigint, Pending>();
  readonly #continuations = new Map<number, Continuation>();
  #nextAck = 1;
  #answeredUpTo: bigint;
  /** Per device, the last id of the hello whose unlogged ids were recorded (hello.ts unloggedNote). */
  readonly #noted = new Map<string, bigint>();
  /** A previous run's requests without a reply, until a device's hello settles them. */
  #unanswered: readonly RequestReceived[];
  readonly #init = new KeptInit();
  /** Each device's check from its latest hello; an earlier hello's check is void (its reply too). */
  readonly #checks = new Map<string, Pending>();
  readonly #heard = new HeardDevices();
  /** The largest id whose RequestReceived is durable (undefined: none yet this run, and the log was empty). */
  #loggedUpTo: bigint | undefined;
  readonly #dispatch = new Dispatch({
    current: (q) => this.#current(q),
    publishable: (p) => p.logged || this.#withinReach(p),
    sending: (batch) => {
      const init = batch.find((q) => q.p.origin.kind === 'lightningd' && q.p.type === WIRE_HSMD_INIT);
      if (init) this.#init.sent(init.p.envelope);
    },
    emit: (command) => this.#emit(command),
  });
  #closed = false;
  #out: SessionCommand[] = [];

  constructor(private readonly options: SessionOptions) {
    // Past every id a crash may have left published but not logged (UNLOGGED_IDS).
    this.#ids = new RequestIds(options.lastId === 0n ? 0n : options.lastId + UNLOGGED_IDS);
    this.#loggedUpTo = options.lastId === 0n ? undefined : options.lastId;
    this.#answeredUpTo = options.answeredUpTo;
    this.#unanswered = options.unanswered ?? [];
    this.#backoff = options.backoffMs ?? RESEND_BACKOFF_MS;
  }

  /** The id the next request gets. */
  get nextId(): bigint {
    return this.#ids.next;
  }

  /** `outstanding`: requests published to a device and not answered yet (init checks included). */
  inspect(): { devices: DeviceView[]; outstanding: number; heard: ReadonlyMap<string, DeviceHeard>; answeredUpTo: bigint } {
    return { devices: this.devices.list(), outstanding: this.#outstanding.size, heard: this.#heard.all, answeredUpTo: this.#answeredUpTo };
  }

  handle(event: SessionEvent): SessionCommand[] {
    this.#out = [];
    if (event.kind === 'hello' || event.kind === 'res') this.#heard.heard(event.device, event.now.wall);
    switch (event.kind) {
      case 'request':
        this.#send(event.request, { kind: 'lightningd', token: event.token }, event.now);
        break;
      case 'appended':
      case 'append-failed':
        this.#appended(event.ack, event.kind === 'append-failed' ? event.error : undefined, event.now);
        break;
      case 'hello':
        this.#hello(event.device, event.payload, event.now);
        break;
      case 'res':
        this.#res(event.device, event.payload, event.now);
        break;
      case 'status':
        this.#status(event.device, event.payload, event.now);
        break;
      case 'timer':
        this.#timer(event.id, event.now);
        break;
      case 'pump':
        this.#dispatch.pumped();
        if (!this.#closed) this.#dispatch.pump(event.now);
        break;
      case 'close':
        this.#closed = true;
        for (const id of this.#outstanding.keys()) this.#emit({ kind: 'disarm', id });
        break;
    }
    return this.#out;
  }

  #emit(command: SessionCommand): void {
    this.#out.push(command);
  }

  #log(level: Parameters<ServerLog>[0], text: string): void {
    this.#emit({ kind: 'log', level, text: `remote signer: ${text}` });
  }

  /** An error record (informs, gates nothing). */
  #error(text: string, now: Now, id?: bigint): void {
    this.#emit({ kind: 'append', record: { kind: 'error', text, at: now.wall, ...(id === undefined ? {} : { id }) } });
  }

  #append(record: LogRecord, then: Continuation, lazy = false): void {
    const ack = this.#nextAck++;
    this.#continuations.set(ack, then);
    this.#emit({ kind: 'append', record, ack, ...(lazy ? { lazy } : {}) });
  }

  /** Gives the request the next id, logs RequestReceived and sends it (dispatch.ts says when it leaves). */
  #send(request: SignerRequest, origin: Origin, now: Now): void {
    const id = this.#ids.take();
    // The message may be a view into a socket's read buffer (broker/frames.ts): keep a copy.
    const envelope: Envelope = { ...request, id, message: request.message.slice() };
    const p: Pending = { id, type: requestType(envelope.message), envelope, started: now.mono, origin, attempt: 0, answered: false, logged: false };
    if (origin.kind === 'check') this.#checks.set(origin.device, p);
    this.#start(p, now);
  }

  /**
   * Logs `p`'s RequestReceived (lazily when `p` need not wait for it: it then shares its
   * reply's sync); `p` is outstanding from now on, and goes to its target.
   */
  #start(p: Pending, now: Now): void {
    const { id, type, envelope } = p;
    this.#append({ kind: 'request-received', id, client: envelope.client, type, message: envelope.message, at: now.wall }, { kind: 'request-logged', p }, this.#withinReach(p));
    this.#outstanding.set(id, p);
    this.#publishTo(this.#target(p), p, now);
    this.#arm(p);
  }

  #appended(ack: number, error: string | undefined, now: Now): void {
    const then = this.#continuations.get(ack);
    if (then === undefined) return;
    this.#continuations.delete(ack);
    const { p } = then;
    switch (then.kind) {
      case 'request-logged':
        if (error !== undefined) {
          // The log takes nothing more (broker-log.ts): neither will this request's reply record.
          if (this.#outstanding.get(p.id) === p) this.#forget(p);
          return this.#failed(p, error);
        }
        p.logged = true;
        if (this.#loggedUpTo === undefined || p.id > this.#loggedUpTo) this.#loggedUpTo = p.id;
        return this.#dispatch.schedule();
      case 'reply-logged':
        this.#outstanding.delete(p.id);
        if (error !== undefined) return p.logged ? this.#failed(p, error) : undefined; // else failed with its request record
        return this.#replied(p, then.reply, now);
    }
  }

  #failed(p: Pending, error: string): void {
    if (p.origin.kind === 'lightningd') this.#emit({ kind: 'fail', token: p.origin.token, error });
    else this.#log('broken', `${p.origin.kind === 'check' ? `checking ${p.origin.device}` : `logging request ${p.id}'s reply`}: ${error}`);
  }

  /** `p` may leave before its RequestReceived is durable (UNLOGGED_IDS). */
  #withinReach(p: Pending): boolean {
    return this.#loggedUpTo !== undefined && p.id <= this.#loggedUpTo + UNLOGGED_IDS;
  }

  /** The device a request goes to: the one checked, or the active one. */
  #target(p: Pending): string | undefined {
    return p.origin.kind === 'check' ? p.origin.device : this.devices.active;
  }

  /** Still to be sent to `q.device`: not answered, not renumbered, and that device still the target. */
  #current(q: Queued): boolean {
    return !q.p.answered && this.#outstanding.get(q.p.id) === q.p && this.#target(q.p) === q.device;
  }

  #arm(p: Pending): void {
    this.#emit({ kind: 'arm', id: p.id, ms: this.#backoff[Math.min(p.attempt, this.#backoff.length - 1)]! });
  }

  #timer(id: bigint, now: Now): void {
    const p = this.#outstanding.get(id);
    if (!p || p.answered || this.#closed) return;
    p.attempt++;
    const seconds = Math.round((now.mono - p.started) / 1000);
    const target = this.#target(p);
    const text = `request ${p.id} (type ${p.type}) unanswered after ${seconds} s; ` +
      (target ? `resending it to device ${target}` : 'no device is ready: waiting for one to say hello (is sphinx-signer running? its log says why it cannot connect)');
    this.#log('unusual', text);
    this.#error(text, now, p.id);
    this.#publishTo(target, p, now);
    this.#arm(p);
  }

  #publishTo(device: string | undefined, p: Pending, now: Now): void {
    if (device !== undefined) this.#dispatch.publishTo(device, p, now);
  }

  /** Stops waiting for `p`'s reply (it failed, or was voided or renumbered). */
  #forget(p: Pending): void {
    this.#outstanding.delete(p.id);
    this.#emit({ kind: 'disarm', id: p.id });
  }

  #hello(device: string, payload: Uint8Array, now: Now): void {
    const hello = parseHello(payload);
    if (hello instanceof Error) {
      const text = `malformed hello from ${device} dropped: ${hello.message}`;
      this.#log('unusual', text);
      return this.#error(text, now);
    }
    const { lastId, firmware } = hello;
    this.#log('info', `hello from ${device} (firmware ${String(firmware)}, last journaled id ${lastId})`);
    this.#heard.hello(device, lastId, typeof firmware === 'string' ? firmware : undefined);
    this.#emit({ kind: 'append', record: { kind: 'signer-connected', deviceId: device, at: now.wall } });
    if (this.#ids.continueAfter(lastId)) {
      this.#log('unusual', `device ${device} journaled id ${lastId}, beyond this broker's log; ids continue at ${lastId + 1n}`);
    }
    if (this.devices.active === device) this.#leave(device, now);
    const rollback = rollbackVerdict(device, lastId, this.#answeredUpTo, this.options.acceptRollback);
    if (rollback) {
      this.#log('broken', rollback.text);
      this.#error(rollback.text, now);
      if (!rollback.accepted) {
        this.#emit({ kind: 'refuse', device, payload: rollback.refusal }); // so a stale device stops for good
        return this.devices.set(device, 'refused');
      }
    }
    const unlogged = this.#noted.get(device) === lastId ? undefined : unloggedNote(device, this.options.lastId, lastId, now.wall);
    if (unlogged) {
      this.#noted.set(device, lastId);
      this.#log('unusual', unlogged.text);
      this.#emit({ kind: 'append', record: unlogged.record });
    }
    const settled = settleUnanswered(device, lastId, this.#unanswered, now);
    this.#unanswered = [];
    for (const { id, text } of settled.dropped) this.#error(text, now, id);
    for (const { p, text } of settled.resend) {
      this.#outstanding.set(p.id, p);
      this.#log('unusual', text);
    }
    // Protocol "Init": the same init first, under a fresh id; the device is used only if its
    // reply is the same. Also once lightningd's init went out unanswered: a restarted device
    // must handle an init before any new id (it unlocks its keys), and lightningd's own could
    // be answered first by the device's previous run's late reply, never reaching this run.
    const init = this.#init.envelope;
    if (!init) return this.#activate(device, now);
    const previous = this.#checks.get(device);
    if (previous) this.#forget(previous);
    this.#log('info', `sending lightningd's init to ${device} to check it holds the same seed`);
    this.#send(init, { kind: 'check', device }, now);
    this.devices.set(device, 'verifying');
    // What it had not journaled (id above its lastId) would now arrive below the check's id,
    // which the device core refuses: it gets a new id (logged as a request of its own, and an
    // error record names the old id). Published once the device passed the check.
    const unjournaled = [...this.#outstanding.values()].filter((p) => p.origin.kind === 'lightningd' && !p.answered && p.id > lastId).sort(byId);
    for (const p of unjournaled) this.#renumber(p, `device ${device} had not journaled it when it restarted`, now);
  }

  /** Moves `old` to a fresh id: logged as a new request of its own. */
  #renumber(old: Pending, why: string, now: Now): void {
    const id = this.#ids.take();
    this.#forget(old);
    const text = `request ${old.id} renumbered as ${id}: ${why}`;
    this.#log('unusual', text);
    this.#error(text, now, old.id);
    this.#start({ ...old, id, envelope: { ...old.envelope, id }, attempt: 0, logged: false }, now);
  }

  /** Makes `device` the one requests go to and resends what is outstanding, in id order. */
  #activate(device: string, now: Now): void {
    if (this.#closed) return;
    this.devices.activate(device);
    this.#dispatch.reset();
    const waiting = [...this.#outstanding.values()].filter((p) => p.origin.kind !== 'check').sort(byId);
    this.#log(waiting.length ? 'unusual' : 'info', `device ${device} is ready` +
      (waiting.length ? `; resending ${waiting.length} outstanding request(s) (ids ${waiting.map((p) => p.id).join(', ')})` : ''));
    for (const p of waiting) this.#publishTo(device, p, now);
  }

  #leave(device: string, now: Now): void {
    const { wasActive, successor } = this.devices.remove(device);
    if (!wasActive) return;
    if (successor) this.#activate(successor, now);
    else if (this.#outstanding.size > 0) this.#log('unusual', `no device is ready; ${this.#outstanding.size} request(s) wait for one`);
  }

  #res(device: string, payload: Uint8Array, now: Now): void {
    let envs;
    try {
      envs = decodeReplyPayload(payload);
    } catch (e) {
      const text = `malformed reply from ${device} dropped: ${(e as Error).message}`;
      this.#log('unusual', text);
      return this.#error(text, now);
    }
    // The device answered that message: another one may go. What it held back (not in its
    // reply) stays outstanding and is resent after the bounded wait.
    this.#dispatch.answered(device, envs.map((env) => env.id));
    for (const env of envs) {
      this.#heard.journaled(device, env.id);
      this.#oneReply(device, env.id, env.reply, now);
    }
    if (!this.#closed) this.#dispatch.pump(now);
  }

  #oneReply(device: string, id: bigint, reply: Reply, now: Now): void {
    const p = this.#outstanding.get(id);
    const state = this.devices.state(device);
    const expected = p?.origin.kind === 'check' ? this.#checks.get(device) === p : state === 'ready';
    if (!p || p.answered || !expected) {
      this.#log('debug', `reply ${id} from ${device} ignored (${!p || p.answered ? 'already answered' : `device ${state ?? 'unknown'}`})`);
      return;
    }
    p.answered = true;
    this.#emit({ kind: 'disarm', id });
    if (p.origin.kind === 'reconcile' && isIdRefusal(reply)) {
      this.#outstanding.delete(id);
      return this.#error(`request ${id}, logged before the broker stopped, was never answered: device ${device} no longer keeps its reply, or never journaled it (${reply.kind === 'bad-request' ? reply.description : ''})`, now, id);
    }
    if (id > this.#answeredUpTo) this.#answeredUpTo = id;
    const latencyMicros = Math.round((now.mono - p.started) * 1000);
    this.#append({ kind: 'reply-received', id, reply, latencyMicros }, { kind: 'reply-logged', p, reply });
  }

  #replied(p: Pending, reply: Reply, now: Now): void {
    const { origin } = p;
    if (origin.kind === 'reconcile') return this.#log('info', `request ${p.id}: the device's journaled reply logged (the broker had stopped before logging it)`);
    if (origin.kind === 'lightningd') {
      if (p.type === WIRE_HSMD_INIT && reply.kind === 'frame') this.#learnInit(p.envelope, reply.frame);
      return this.#emit({ kind: 'answer', token: origin.token, reply });
    }
    if (this.#checks.get(origin.device) !== p) return; // a later hello voided it
    this.#checks.delete(origin.device);
    // Compared with lightningd's init reply if known by now; if not, this device gives it.
    if (this.#init.agrees(reply)) return this.#activate(origin.device, now);
    this.devices.set(origin.device, 'refused');
    const text = `device ${origin.device} refused: its init reply differs from the one lightningd was given (another seed?)`;
    this.#log('broken', text);
    this.#error(text, now);
  }

  #learnInit(envelope: Envelope, frame: Uint8Array): void {
    const { nodeIdHex, unreadable } = this.#init.learn(envelope, frame);
    if (nodeIdHex !== undefined) this.#emit({ kind: 'node-id', hex: nodeIdHex });
    if (unreadable !== undefined) this.#log('unusual', `cannot read the node id from init's reply: ${unreadable}`);
  }

  #status(device: string, payload: Uint8Array, now: Now): void {
    if (new TextDecoder().decode(payload) !== DEVICE_STATUS.offline || !this.devices.has(device)) return;
    this.#log('unusual', `device ${device} went offline`);
    this.#emit({ kind: 'append', record: { kind: 'signer-disconnected', deviceId: device, at: now.wall } });
    this.#leave(device, now);
  }
}
