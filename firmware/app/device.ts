/**
 * The device loop (docs/remote-protocol.md): boot → open the write-ahead
 * core on the journal → connect with credentials signed by the node key and a last will →
 * status "online" (retained) → subscribe req and control → hello {lastId, firmware} → for
 * each request envelope: SignerCore.handle (journaled before the reply leaves) → res; for a
 * batch of requests (docs/remote-protocol.md "Batches"): each in order under the same rules,
 * one journal sync for the batch, then one res with every reply.
 * A payload that does not decode is logged and blinked, never thrown. A lost connection is
 * retried with backoff and fresh credentials, state kept in memory (no reboot: docs/decisions.md#lessons-from-earlier-remote-signers).
 */
import type { Reply } from '../../signer/decision.js';
import type { Envelope } from '../../signer/envelope.js';
import type { SignerEvent } from '../../signer/events.js';
import type { PolicyConfig } from '../../signer/policy/policy.js';
import type { Curve } from '../../signer/crypto/curve.js';
import { toHex, utf8 } from '../../signer/bytes.js';
import { HsmSecretError, hsmSecretNeedsPassphrase, unlockHsmSecret } from '../../signer/keys/hsm-secret.js';
import { mirrorKey, nodePrivateKey } from '../../signer/keys/root-secrets.js';
import { makeCredentials } from '../../signer/remote/auth-token.js';
import { decodeRequestPayload, encodeReplyBatch, encodeReplyEnvelope, type ReplyEnvelope } from '../../signer/remote/envelope-codec.js';
import { parseTopic, topic } from '../../signer/remote/topics.js';
import { messageType, requestType } from '../../signer/wire/messages.js';
import { Signer, type SignerOptions } from '../../signer/signer.js';
import type { SignerState } from '../../signer/state.js';
import { openJournalFiles } from '../../log/journal/journal.js';
import { DeviceChain } from './chain-sync.js';
import { SignerCore, type SignerCoreOptions } from '../../core/signer-core.js';
import { JournalMirror } from './mirror.js';
import { applyPolicyFile, checkOwnerKey, DeviceControl } from './control.js';
import { DEFAULT_POLICY } from '../../signer/policy/policy.js';
import { nextLed, type LedEvent, type LedName } from './leds.js';
import { DeviceSetupError, type Clock, type DeviceConfig, type Leds, type StorageLock, type Store, type TimerHandle, type Transport } from './ports.js';

export type DeviceLogLevel = 'info' | 'unusual' | 'broken';

export interface DeviceOptions {
  readonly transport: Transport;
  readonly leds: Leds;
  readonly store: Store;
  readonly clock: Clock;
  /** createNobleCurve on the device; a byte-identical faster one may be used on Node. */
  readonly curve: Curve;
  /** The signer's key caches (SignerOptions.keyCacheLimits); the ESP32 keeps them small. */
  readonly keyCacheLimits?: SignerOptions['keyCacheLimits'];
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
}

export const DEFAULT_BACKOFF = { firstMs: 500, maxMs: 30_000 };
/** How long a clean stop waits for the broker to acknowledge the mirror. */
const MIRROR_STOP_WAIT_MS = 2000;

/** A refused login, CONNACK code 4 or 5, as mqtt.js words it. */
const REFUSED_LOGIN = /bad user ?name or password|not authori[sz]ed/i;

export class Device {
  #led: LedName = 'booting';
  #delay: number;
  #retry: TimerHandle | undefined;
  #connected = false;
  #stopping = false;
  #failed: string | undefined;
  /** New ids held back since this start, until journaled or passed by the journal. */
  readonly #heldBack = new Set<bigint>();
  /** Chain tracking (chain-sync.ts): what the broker shows, checked and journaled. */
  readonly #chain: DeviceChain;

  readonly #control: DeviceControl;

  private constructor(
    private readonly options: DeviceOptions,
    private readonly core: SignerCore,
    private readonly nodeKey: Uint8Array,
    readonly deviceId: string,
    readonly config: DeviceConfig,
    private readonly storageLock: StorageLock,
    private readonly mirror: JournalMirror,
    ownerKey: string | undefined,
  ) {
    this.#delay = this.#backoff.firstMs;
    this.#chain = new DeviceChain(core);
    this.#control = new DeviceControl({
      core,
      curve: options.curve,
      nodeKey,
      deviceId,
      ownerKey,
      clock: options.clock,
      policy: () => core.signer.policy,
      log: (level, line) => options.log(level, line),
    });
  }

  /**
   * Reads the seed, derives the node key (the MQTT identity) and recovers the journal.
   * Throws DeviceSetupError (missing or locked hsm_secret), JournalCorruptError or
   * JournalRollbackError (the journal ends below its high-water mark), with the error light on.
   */
  static boot(options: DeviceOptions): Device {
    options.leds.show('booting');
    let lock: StorageLock | undefined;
    try {
      const { store, curve } = options;
      const config = store.config();
      lock = store.lock();
      if (lock.note) options.log('unusual', lock.note);
      const file = store.hsmSecret();
      const secretData = unlockSeed(file, store.passphrase());
      const nodeKey = nodePrivateKey(curve, secretData);
      const deviceId = toHex(curve.publicKey(nodeKey));
      const mirror = new JournalMirror({
        key: mirrorKey(secretData),
        dir: store.journalDir(),
        clock: options.clock,
        publish: (payload) => options.transport.publish(topic(deviceId, 'journal'), payload),
        log: options.log,
      });
      const makeSigner = (state: SignerState) =>
        new Signer({ curve, developer: options.developer ?? false, policy: options.policy, readHsmSecret: () => file, keyCacheLimits: options.keyCacheLimits }, state);
      const { core, recovery } = SignerCore.open(openJournalFiles(store.journalDir()), makeSigner, {
        ...options.core,
        mark: store.highWaterMark(),
        log: (line) => options.log('unusual', line),
        observer: mirror,
      });
      mirror.recovered(recovery);
      const policyFile = store.policyFile();
      const applied = policyFile && applyPolicyFile(core, policyFile, options.policy ?? DEFAULT_POLICY, options.clock);
      if (applied) options.log('info', applied);
      const owner = store.ownerKey();
      const device = new Device(options, core, nodeKey, deviceId, config, lock, mirror, owner === undefined ? undefined : checkOwnerKey(owner, deviceId));
      if (owner === undefined) options.log('unusual', 'no owner key (owner.pub in the data directory): control commands are refused until one is provisioned (sphinx-ctl keygen)');
      device.#event('booted');
      options.log('info', `device ${deviceId}, firmware ${options.firmware}, journal resumes after id ${core.lastId ?? 0n}`);
      return device;
    } catch (e) {
      lock?.release();
      options.leds.show('error');
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
    this.#connect();
  }

  /**
   * Clean stop: requests are handled synchronously, so none is half done; publishes
   * "offline" (a clean DISCONNECT suppresses the will), waits for in-flight publishes,
   * disconnects.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#retry) this.options.clock.cancel(this.#retry);
    if (this.#connected) {
      // The mirror is not on the reply path, but a clean stop leaves it complete if it can.
      if (!(await this.mirror.acknowledged(MIRROR_STOP_WAIT_MS))) this.options.log('unusual', `mirror: ${this.mirror.unacknowledged} entries unacknowledged at stop; sent again at the next start`);
      await this.options.transport.publish(this.#topic('status'), utf8('offline'), { retain: true }).catch(() => {});
    }
    await this.options.transport.end();
    this.storageLock.release();
  }

  get #backoff() {
    return this.options.backoff ?? DEFAULT_BACKOFF;
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

  #connect(): void {
    if (this.#stopping) return;
    const { transport, clock, curve } = this.options;
    // A fresh token per attempt: the server refuses one it has seen, and old ones expire.
    const { username, password } = makeCredentials(curve, this.nodeKey, this.config.brokerId, clock.now());
    transport.connect(
      { url: this.config.mqttUrl, clientId: this.deviceId, username, password, will: { topic: this.#topic('status'), payload: utf8('offline') } },
      {
        connected: () => void this.#announce(),
        message: (name, payload) => this.#message(name, payload),
        disconnected: (reason) => this.#disconnected(reason),
      },
    );
  }

  async #announce(): Promise<void> {
    this.#connected = true;
    this.#delay = this.#backoff.firstMs;
    const { transport, log } = this.options;
    try {
      await transport.publish(this.#topic('status'), utf8('online'), { retain: true });
      await transport.subscribe([this.#topic('req'), this.#topic('control'), this.#topic('chain'), this.#topic('journal-ack')]);
      // The broker resends what is outstanding when it sees hello, so hello goes last.
      const hello = JSON.stringify({ lastId: String(this.core.lastId ?? 0n), firmware: this.options.firmware });
      await transport.publish(this.#topic('hello'), utf8(hello));
      await transport.publish(this.#topic('chain-state'), this.#chain.status());
      this.#event('connected');
      log('info', `connected to ${this.config.mqttUrl}; hello lastId ${this.core.lastId ?? 0n}`);
      this.mirror.connected();
    } catch (e) {
      log('unusual', `announcing on ${this.config.mqttUrl} failed: ${(e as Error).message}`);
    }
  }

  #disconnected(reason: string): void {
    const wasConnected = this.#connected;
    this.#connected = false;
    this.mirror.disconnected();
    if (this.#stopping) return;
    this.#event('disconnected');
    const delay = this.#delay;
    this.#delay = Math.min(delay * 2, this.#backoff.maxMs);
    this.options.log(
      'unusual',
      `${wasConnected ? 'lost the connection to' : 'cannot reach'} the MQTT server ${this.config.mqttUrl} (${reason})` +
        `${REFUSED_LOGIN.test(reason) ? this.#refusedLogin() : ''}; retrying in ${(delay / 1000).toFixed(1)} s`,
    );
    this.#retry = this.options.clock.after(delay, () => {
      this.#retry = undefined;
      this.#connect();
    });
  }

  /** What to check when the server refuses this device's login (the broker's log says which it was). */
  #refusedLogin(): string {
    return `: it refused this device's token, signed over broker id ${this.config.brokerId} at ` +
      `${new Date(this.options.clock.now()).toISOString()} by this device's clock. Check that the broker id is the one ` +
      "sphinx-hsmd prints (its SPHINX_DATA_DIR/broker-id), that this clock is right, and that the broker allows " +
      `device ${this.deviceId} (SPHINX_DEVICE_KEYS, or its pinned-devices file)`;
  }

  /**
   * hsmd_init while the keys are locked. After a restart the journal already holds this
   * init (same id: its journaled reply; an id compacted away: the same reply decided
   * again, as init's reply depends on the seed only) but the keys are unlocked only by
   * deciding it, which decide does without changing the state.
   */
  #init(env: Envelope, handle: (env: Envelope) => { reply: Reply; replayed: boolean }): { reply: Reply; replayed: boolean } {
    const known = this.core.lastId !== undefined && env.id <= this.core.lastId;
    if (!known) return handle(env);
    const decision = this.core.signer.decide(env);
    const handled = handle(env);
    this.options.log('info', `request ${env.id}: hsmd_init again after a restart; keys unlocked`);
    return handled.replayed ? handled : { reply: decision.reply, replayed: true };
  }

  #message(name: string, payload: Uint8Array): void {
    const parsed = parseTopic(name);
    if (!parsed || parsed.deviceId !== this.deviceId) return;
    if (parsed.suffix === 'req') this.#request(payload);
    else if (parsed.suffix === 'chain') this.#chainMessage(payload);
    else if (parsed.suffix === 'journal-ack') this.mirror.acked(payload);
    else if (parsed.suffix === 'control') this.#controlMessage(payload);
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
    const { log, transport } = this.options;
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
    // One journal sync for the whole message (a batch, or a batch of one).
    const batch = this.core.begin();
    const replies: ReplyEnvelope[] = [];
    // The device's own clock stamps each request (policy-payment-velocity's window): the
    // time is journaled with the decision it affects, so replay never asks the clock.
    const at = Math.floor(this.options.clock.now() / 1000);
    for (const received of decoded.envelopes) {
      const env = { ...received, at };
      let handled: { reply: Reply; replayed: boolean } | undefined;
      try {
        handled = this.#one(env, batch.handle);
      } catch (e) {
        return this.#fatal(env.id, e as Error);
      }
      if (handled) replies.push({ id: env.id, reply: handled.reply });
    }
    try {
      batch.commit();
    } catch (e) {
      return this.#fatal(decoded.envelopes[0]!.id, e as Error);
    }
    for (const id of this.#heldBack) if (id <= (this.core.lastId ?? -1n)) this.#heldBack.delete(id);
    if (replies.length === 0) return;
    // Write-ahead: every record above is durable (commit) before any reply leaves.
    const ids = replies.map((r) => r.id);
    const reply = decoded.batch ? encodeReplyBatch(replies) : encodeReplyEnvelope(replies[0]!);
    transport
      .publish(this.#topic('res'), reply)
      .catch((e: Error) => log('unusual', `reply ${ids.join(', ')} not acknowledged (${e.message}); the broker resends the request and gets the journaled reply`));
    for (let i = 0; i < replies.length; i++) this.#event('replied');
    // hsmd_init, setup_channel, forget_channel change what the broker follows for this device.
    if (this.#chain.followChanged()) this.#publishChainState(this.#chain.status());
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
    this.#failed = `the journal cannot be written (${e.message}); stopped signing`;
    this.options.log('broken', `request ${id}: ${this.#failed}`);
    this.#event('fatal');
    this.options.onFatal?.(this.#failed);
  }

  /** One request of a message: held back (undefined), or handled with `handle` (not yet synced). */
  #one(env: Envelope, handle: (env: Envelope) => { reply: Reply; replayed: boolean }): { reply: Reply; replayed: boolean } | undefined {
    const { log } = this.options;
    const isInit = requestType(env.message) === WIRE_HSMD_INIT;
    const isNew = this.core.lastId !== undefined && env.id > this.core.lastId;
    const waitingFor = isNew ? [...this.#heldBack].find((id) => id < env.id) : undefined;
    if (!isInit && isNew && (!this.core.signer.initialized || waitingFor !== undefined)) {
      // Restarted: the keys come from hsmd_init, which the broker sends first after hello.
      // Deciding now would journal "not initialized" for good; leave it for the resend.
      // (A journaled id needs no keys: its reply is in the journal.) And after init, while
      // an id held back is not journaled, later ids wait too: the server may go on
      // delivering its queued copies between the broker's resends (aedes interleaves them),
      // and deciding a later id first would leave the held-back one below the journal's
      // last id, refused for good (bad-request) when its resend comes. The broker resends
      // them all in order; one that renumbers instead moves the journal past them.
      this.#heldBack.add(env.id);
      const why = waitingFor === undefined ? 'hsmd_init not seen since this device started (the broker resends it first after hello, then this request)' : `request ${waitingFor}, held back before it, is not journaled yet (the broker resends both, in order)`;
      log('unusual', `request ${env.id} held back: ${why}`);
      return undefined;
    }
    this.#event('request');
    const handled = isInit && !this.core.signer.initialized ? this.#init(env, handle) : handle(env);
    // Within a batch, the journal's last id moves with each append: a held-back id it passed is done.
    for (const id of this.#heldBack) if (id <= (this.core.lastId ?? -1n)) this.#heldBack.delete(id);
    if (handled.replayed) log('info', `request ${env.id} seen before: sent its journaled reply again`);
    else logRefusals(env.id, handled, log);
    return handled;
  }
}

const WIRE_HSMD_INIT = messageType('hsmd_init');

/** A policy refusal is the device's to report: a preapproval's answer carries no reason. */
function logRefusals(id: bigint, handled: { reply: Reply; events?: readonly SignerEvent[] }, log: DeviceOptions['log']): void {
  for (const e of handled.events ?? []) if (e.kind === 'PolicyRefused') log('unusual', `request ${id} refused: ${e.policy}: ${e.detail}`);
  if (handled.reply.kind === 'bad-request' && handled.reply.description.startsWith('policy-')) log('unusual', `request ${id} refused: ${handled.reply.description}`);
}

/** The message type of an hsmd frame, or -1 if it is too short to have one. */

/** secret_data for the node key; the fix in the error if the passphrase is missing or wrong. */
export function unlockSeed(file: Uint8Array, passphrase: string | undefined): Uint8Array {
  if (hsmSecretNeedsPassphrase(file) && passphrase === undefined) {
    throw new DeviceSetupError('hsm_secret is a mnemonic with a passphrase: the device needs that passphrase to derive its node key; configure it and restart');
  }
  try {
    return unlockHsmSecret(file, passphrase);
  } catch (e) {
    if (e instanceof HsmSecretError) throw new DeviceSetupError(`hsm_secret cannot be unlocked: ${e.message}`);
    throw e;
  }
}
