/**
 * The device loop (docs/remote-protocol.md): boot (device-boot.ts: the write-ahead core on
 * the journal) → connect and say hello (device-connection.ts) → for each request envelope:
 * SignerCore.handle (journaled before the reply leaves) → res; for a batch of requests
 * (docs/remote-protocol.md "Batches"): each in order under the same rules, one journal sync
 * for the batch, then one res with every reply. Control commands and chain updates go to
 * DeviceControl and DeviceChain, their answers back on their own topics. A refusal of its
 * journal by the broker (signer/remote/refusal.ts) about this device stops it for good, across
 * restarts too (retired.ts: the marker it writes first, checked first at boot).
 * A payload that does not decode is logged and blinked, never thrown.
 */
import type { Reply } from '../../signer/decision.js';
import type { SignerEvent } from '../../signer/events.js';
import { changesFollowing } from '../../signer/chain/track.js';
import type { Envelope } from '../../signer/envelope.js';
import type { PolicyConfig } from '../../signer/policy/policy.js';
import type { Curve } from '../../signer/crypto/curve.js';
import { decodeRequestPayload, encodeReplyBatch, encodeReplyEnvelope, type ReplyEnvelope } from '../../signer/remote/envelope-codec.js';
import { decodeRefusal, refusalMismatch } from '../../signer/remote/refusal.js';
import { topic, type TopicSuffix } from '../../signer/remote/topics.js';
import { messageType, requestType } from '../../signer/wire/messages.js';
import type { SignerOptions } from '../../signer/signer.js';
import type { SignerCore, SignerCoreOptions } from '../../core/signer-core.js';
import { FlushSoon } from '../../core/flush-soon.js';
import { DeviceChain } from './chain-sync.js';
import { DeviceControl } from './control.js';
import { openDevice, type OpenedDevice } from './device-boot.js';
import { DeviceConnection } from './device-connection.js';
import { logRefusals } from './decision-log.js';
import { type DecodedRequests, RequestOrder } from './request-order.js';
import { nextLed, type LedEvent, type LedName } from './leds.js';
import type { JournalMirror } from './mirror.js';
import type { Clock, DeviceConfig, Leds, StorageLock, Store, TimerHandle, Transport } from './ports.js';
import { DeviceRetiredError, refuseIfRetired, retire } from './retired.js';

export type DeviceLogLevel = 'info' | 'unusual' | 'broken';

export interface DeviceOptions {
  readonly transport: Transport;
  readonly leds: Leds;
  readonly store: Store;
  readonly clock: Clock;
  /** createSecp256k1Curve on the device (it can be preloaded); a byte-identical faster one may be used on Node. */
  readonly curve: Curve;
  /** The signer's key caches (SignerOptions.keyCacheLimits); the ESP32 keeps them small. */
  readonly keyCacheLimits?: SignerOptions['keyCacheLimits'];
  /** The journal mirror's outbox bound (MirrorOptions.outboxBytes); the ESP32 keeps it small. */
  readonly mirrorOutboxBytes?: number;
  /** Reported in hello. */
  readonly firmware: string;
  readonly developer?: boolean;
  readonly policy?: PolicyConfig;
  readonly core?: Omit<SignerCoreOptions, 'log' | 'mark'>;
  /** Reconnect delays: the first, doubled after each failure up to the last. */
  readonly backoff?: { readonly firstMs: number; readonly maxMs: number };
  readonly log: (level: DeviceLogLevel, line: string) => void;
  /** The device stopped signing for good (its journal cannot be written); the host should exit. */
  readonly onFatal?: (reason: string) => void;
  /**
   * The broker refused this device's journal as behind what it answered (a retired device, or
   * one that lost its journal): it has recorded that (retired.ts) and disconnected for good,
   * without "offline"; the host should exit, or stay stopped, never reconnect. `reason` names
   * both ids and the way out.
   */
  readonly onRefused?: (reason: string) => void;
}

export class Device {
  #led: LedName = 'booting';
  #failed: string | undefined;
  /** Which requests wait, so ids reach the journal in order (request-order.ts). */
  readonly #order = new RequestOrder();
  /** Chain tracking (chain-sync.ts): what the broker shows, checked and journaled. */
  readonly #chain: DeviceChain;

  readonly #control: DeviceControl;
  readonly #connection: DeviceConnection;
  /** Raises the high-water mark MARK_RAISE_MS after the journal moves (docs/journal.md "Rollback"). */
  readonly #markSoon: FlushSoon<TimerHandle>;
  private readonly core: SignerCore;
  private readonly mirror: JournalMirror;
  private readonly storageLock: StorageLock;
  readonly deviceId: string;
  readonly config: DeviceConfig;

  private constructor(
    private readonly options: DeviceOptions,
    opened: OpenedDevice,
  ) {
    const { core, nodeKey, deviceId, mirror } = opened;
    this.core = core;
    this.mirror = mirror;
    this.storageLock = opened.storageLock;
    this.deviceId = deviceId;
    this.config = opened.config;
    this.#chain = new DeviceChain(core);
    this.#markSoon = new FlushSoon(core, options.clock, MARK_RAISE_MS, (e) => options.log('broken', `the high-water mark could not be raised: ${e.message}`));
    this.#control = new DeviceControl({
      core,
      curve: options.curve,
      nodeKey,
      deviceId,
      ownerKey: opened.ownerKey,
      clock: options.clock,
      policy: () => core.signer.policy,
      log: (level, line) => options.log(level, line),
    });
    this.#connection = new DeviceConnection(options, {
      nodeKey,
      deviceId,
      config: opened.config,
      mirror,
      lastId: () => core.lastId,
      chainStatus: () => this.#chain.status(),
      event: (event) => this.#event(event),
      message: (suffix, payload) => this.#message(suffix, payload),
    });
  }

  /**
   * Opens the device (device-boot.ts: storage lock, seed and node key, journal, policy file,
   * owner key), with the error light on if that fails. A device whose storage holds the retired
   * marker goes no further (DeviceRetiredError, the retired light): retired.ts.
   */
  static boot(options: DeviceOptions): Device {
    options.leds.show('booting');
    let opened: OpenedDevice | undefined;
    try {
      refuseIfRetired(options.store, options.log);
      opened = openDevice(options);
      const device = new Device(options, opened);
      device.#event('booted');
      options.log('info', `device ${device.deviceId}, firmware ${options.firmware}, journal resumes after id ${opened.core.lastId ?? 0n}`);
      return device;
    } catch (e) {
      opened?.storageLock.release();
      // Retired: the light it showed when it was refused, the refusal remembered.
      options.leds.show(e instanceof DeviceRetiredError ? 'retired' : 'error');
      throw e;
    }
  }

  get led(): LedName {
    return this.#led;
  }

  get lastId(): bigint | undefined {
    return this.core.lastId;
  }

  /** Starts connecting (and keeps reconnecting until stop()). */
  start(): void {
    this.#connection.open();
  }

  /**
   * Clean stop: requests are decided and appended synchronously, so none is half done (a
   * message whose sync is still running sends its replies if the connection is still up);
   * says "offline" and disconnects (device-connection.ts), raises the high-water mark to what
   * is journaled (between stops it follows on a timer, MARK_RAISE_MS), then releases the storage lock.
   */
  async stop(): Promise<void> {
    await this.#connection.close();
    this.#markSoon.cancel();
    if (!this.#failed) await this.core.flushLater().catch((e: Error) => this.options.log('broken', `the high-water mark could not be raised at stop: ${e.message}`));
    this.storageLock.release();
  }

  #topic(suffix: Parameters<typeof topic>[1]): string {
    return topic(this.deviceId, suffix);
  }

  #event(event: LedEvent): void {
    const step = nextLed(this.#led, event);
    if (step.state !== this.#led) {
      this.#led = step.state;
      this.options.leds.show(step.state);
    }
    if (step.blink) this.options.leds.blink(step.blink);
  }

  /**
   * hsmd_init while the keys are locked. After a restart the journal already holds this
   * init (same id: its journaled reply; an id compacted away: the same reply decided
   * again, as init's reply depends on the seed only) but the keys are unlocked only by
   * deciding it, which decide does without changing the state.
   */
  #init(env: Envelope, handle: (env: Envelope) => Handled): Handled {
    const known = this.core.lastId !== undefined && env.id <= this.core.lastId;
    if (!known) return handle(env);
    const decision = this.core.signer.decide(env);
    const handled = handle(env);
    this.options.log('info', `request ${env.id}: hsmd_init again after a restart; keys unlocked`);
    return handled.replayed ? handled : { reply: decision.reply, events: [], replayed: true };
  }

  #message(suffix: TopicSuffix, payload: Uint8Array): void {
    if (suffix === 'req') this.#request(payload);
    else if (suffix === 'chain') this.#chainMessage(payload);
    else if (suffix === 'journal-ack') this.mirror.acked(payload);
    else if (suffix === 'control') this.#controlMessage(payload);
    else if (suffix === 'refused') this.#refusedMessage(payload);
    if (!this.#failed) this.#markSoon.arm();
  }

  /**
   * The broker's refusal: this device stops for good if it is about its own journal (refusal.ts),
   * recording that first (retired.ts), synced before it disconnects.
   */
  #refusedMessage(payload: Uint8Array): void {
    const { log } = this.options;
    const refusal = decodeRefusal(payload);
    if (refusal instanceof Error) {
      log('unusual', `dropped a refusal payload of ${payload.length} bytes that does not decode (${refusal.message}); still running`);
      return this.#event('malformed');
    }
    const own = this.core.lastId ?? 0n;
    const mismatch = refusalMismatch(refusal, own);
    if (mismatch !== undefined) return log('unusual', `the broker's refusal of a journal ending at id ${refusal.lastId} ignored: ${mismatch}`);
    if (this.#failed) return;
    const refused = { deviceId: this.deviceId, lastId: own, answeredUpTo: refusal.answeredUpTo };
    this.#failed = retire(this.options.store.journalDir(), refused, this.options.clock.now());
    log('broken', this.#failed);
    this.#event('refused');
    this.#connection.retire().then(
      () => this.options.onRefused?.(this.#failed!),
      (e: Error) => this.options.onRefused?.(`${this.#failed!} (disconnecting: ${e.message})`),
    );
  }

  /** A signed control command: decided and journaled by DeviceControl, answered on control-res. */
  #controlMessage(payload: Uint8Array): void {
    if (this.#failed) return this.options.log('broken', `control command not handled: ${this.#failed}`);
    let response: Uint8Array;
    try {
      response = this.#control.handle(payload);
    } catch (e) {
      return this.#fatal(0n, e as Error);
    }
    this.options.transport
      .publish(this.#topic('control-res'), response)
      .catch((e: Error) => this.options.log('unusual', `control response not acknowledged: ${e.message}`));
  }

  #request(payload: Uint8Array): void {
    const { log } = this.options;
    if (this.#failed) {
      log('broken', `request not handled: ${this.#failed}`);
      return;
    }
    let decoded;
    try {
      decoded = decodeRequestPayload(payload);
    } catch (e) {
      // docs/remote-protocol.md: logged with the reason and dropped; the broker resends.
      log('unusual', `dropped a request payload of ${payload.length} bytes that does not decode: ${(e as Error).message}`);
      this.#event('malformed');
      return;
    }
    if (this.#order.waits(decoded, this.core.lastId)) {
      // Sent after a batch this device has not handled yet (several in flight): handled once
      // that one is, so ids stay in order; if that never comes, the broker resends both.
      log('unusual', `request batch ${decoded.envelopes[0]!.id}.. waits for request ${decoded.after}, not handled yet (it was sent before)`);
      return;
    }
    this.#handleRequests(decoded);
    // Then the batches that waited for what was just journaled.
    for (let ready = this.#order.ready(this.core.lastId); ready && !this.#failed; ready = this.#order.ready(this.core.lastId)) this.#handleRequests(ready);
  }

  /**
   * One `req` message: each request in order, one journal sync, then one `res` with the
   * replies. The sync runs off the event loop where it can (SignerCore commitLater), so the
   * next message is decided meanwhile and the messages that came during one sync share the next.
   */
  #handleRequests(decoded: DecodedRequests): void {
    // One journal sync for the whole message (a batch, or a batch of one).
    const batch = this.core.begin();
    const replies: ReplyEnvelope[] = [];
    // The device's own clock stamps each request (policy-payment-velocity's window): the
    // time is journaled with the decision it affects, so replay never asks the clock.
    const at = Math.floor(this.options.clock.now() / 1000);
    let followMayChange = false;
    for (const received of decoded.envelopes) {
      const env = { ...received, at };
      let handled: Handled | undefined;
      try {
        handled = this.#one(env, batch.handle);
      } catch (e) {
        return this.#fatal(env.id, e as Error);
      }
      if (handled) replies.push({ id: env.id, reply: handled.reply });
      followMayChange ||= handled?.events.some(changesFollowing) ?? false;
    }
    let durable;
    try {
      durable = batch.commitLater();
    } catch (e) {
      return this.#fatal(decoded.envelopes[0]!.id, e as Error);
    }
    this.#order.passed(this.core.lastId);
    if (durable === undefined) return this.#reply(decoded, replies, followMayChange);
    durable.then(
      () => this.#reply(decoded, replies, followMayChange),
      (e: Error) => this.#fatal(decoded.envelopes[0]!.id, e),
    );
  }

  /**
   * Write-ahead: called once every record of `replies` (and every one before) is durable.
   * `followMayChange`: their events may have changed what the broker follows (changesFollowing).
   */
  #reply(decoded: DecodedRequests, replies: readonly ReplyEnvelope[], followMayChange: boolean): void {
    const { log, transport } = this.options;
    if (replies.length === 0 || this.#failed) return;
    const ids = replies.map((r) => r.id);
    const reply = decoded.batch ? encodeReplyBatch(replies) : encodeReplyEnvelope(replies[0]!);
    // QoS 0: a reply lost with the connection is asked for again (the broker resends the
    // request, and gets the journaled reply), so a PUBACK would only wake this device.
    const notSent = (e: Error) => log('unusual', `reply ${ids.join(', ')} not sent (${e.message}); the broker resends the request and gets the journaled reply`);
    try {
      transport.publish(this.#topic('res'), reply, { qos: 0 }).catch(notSent);
    } catch (e) {
      return notSent(e as Error); // the connection went while the journal synced
    }
    for (let i = 0; i < replies.length; i++) this.#event('replied');
    // hsmd_init, new_channel, setup_channel, forget_channel change what the broker follows for
    // this device; comparing it after every request would cost a pass over every channel.
    if (followMayChange && this.#chain.followChanged()) this.#publishChainState(this.#chain.status());
  }

  /** A chain message: checked, journaled (write-ahead), then answered with the chain status. */
  #chainMessage(payload: Uint8Array): void {
    if (this.#failed) return this.options.log('broken', `chain update not handled: ${this.#failed}`);
    let result;
    try {
      result = this.#chain.handle(payload, this.options.clock.now());
    } catch (e) {
      return this.#fatal(0n, e as Error);
    }
    if (result.refused) this.options.log('unusual', `chain update refused: ${result.refused.name}: ${result.refused.detail}`);
    this.#publishChainState(result.status);
  }

  #publishChainState(status: Uint8Array): void {
    this.options.transport
      .publish(this.#topic('chain-state'), status)
      .catch((e: Error) => this.options.log('unusual', `chain status not acknowledged (${e.message}); the broker asks again by resending`));
  }

  /** The journal could not be written: no reply may leave without its record. */
  #fatal(id: bigint, e: Error): void {
    if (this.#failed) return; // every batch waiting on a failed sync lands here
    this.#failed = `the journal cannot be written (${e.message}); stopped signing`;
    this.options.log('broken', `request ${id}: ${this.#failed}`);
    this.#event('fatal');
    this.options.onFatal?.(this.#failed);
  }

  /** One request of a message: held back (undefined), or handled with `handle` (not yet synced). */
  #one(env: Envelope, handle: (env: Envelope) => Handled): Handled | undefined {
    const { log } = this.options;
    const isInit = requestType(env.message) === WIRE_HSMD_INIT;
    const why = this.#order.holdBack(env, isInit, this.core.signer.initialized, this.core.lastId);
    if (why !== undefined) {
      log('unusual', `request ${env.id} held back: ${why}`);
      return undefined;
    }
    this.#event('request');
    const handled = isInit && !this.core.signer.initialized ? this.#init(env, handle) : handle(env);
    // Within a batch, the journal's last id moves with each append: a held-back id it passed is done.
    this.#order.passed(this.core.lastId);
    if (handled.replayed) log('info', `request ${env.id} seen before: sent its journaled reply again`);
    else logRefusals(env, handled, log);
    return handled;
  }
}

const WIRE_HSMD_INIT = messageType('hsmd_init');
/**
 * How long the high-water mark may lag the journal: the ESP32 keeps it in NVS, and a commit to
 * flash for every request would cost more than the request (docs/journal.md "Rollback").
 */
export const MARK_RAISE_MS = 100;
/** A request handled by the core: its reply, its events (none when replayed), and whether the journal had it. */
type Handled = { readonly reply: Reply; readonly events: readonly SignerEvent[]; readonly replayed: boolean };
