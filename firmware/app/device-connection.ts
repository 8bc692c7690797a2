/**
 * The device's MQTT connection (docs/remote-protocol.md "Connecting"): credentials signed by
 * the node key (with the journal's last id) and a last will → subscribe req, control, chain,
 * journal-ack, hello-request, warm and refused → status "online" (retained) → hello {lastId,
 * firmware} → the chain status; hello again when a broker that started after this connection
 * asks (hello-request); each `warm` message echoed on `warmed` ("Warm start"). A lost connection is
 * retried with backoff and fresh credentials, state kept in memory (no reboot:
 * docs/decisions.md#lessons-from-earlier-remote-signers). A clean close says "offline"; a
 * retired device (refused by the broker) leaves without it, and for good.
 */
import { utf8 } from '../../signer/bytes.js';
import { makeCredentials } from '../../signer/remote/auth-token.js';
import { DEVICE_STATUS, parseTopic, topic, type TopicSuffix } from '../../signer/remote/topics.js';
import type { DeviceOptions } from './device.js';
import type { LedEvent } from './leds.js';
import type { JournalMirror } from './mirror.js';
import type { DeviceConfig, TimerHandle } from './ports.js';

export const DEFAULT_BACKOFF = { firstMs: 500, maxMs: 30_000 };
/** How long a clean stop waits for the broker to acknowledge the mirror. */
const MIRROR_STOP_WAIT_MS = 2000;

// Patterns inside functions, not module-level constants: docs/device-memory.md "Regular expressions in flash".
/** A refused login, CONNACK code 4 or 5, as mqtt.js words it. */
const isRefusedLogin = (reason: string): boolean => /bad user ?name or password|not authori[sz]ed/i.test(reason);
/** CONNACK code 5: sphinx-hsmd's server answers it only for a device key it does not know (4 for a bad token). */
const isUnknownKey = (reason: string): boolean => /not authori[sz]ed/i.test(reason);

/** What the connection says and hands on for the device. */
export interface ConnectionParts {
  readonly nodeKey: Uint8Array;
  readonly deviceId: string;
  readonly config: DeviceConfig;
  readonly mirror: JournalMirror;
  /** The journal's last id, for hello. */
  readonly lastId: () => bigint | undefined;
  /** The chain status, published after hello. */
  readonly chainStatus: () => Uint8Array;
  readonly event: (event: LedEvent) => void;
  /** A message on one of this device's topics (its suffix: the connection parsed the topic once). */
  readonly message: (suffix: TopicSuffix, payload: Uint8Array) => void;
}

export class DeviceConnection {
  #delay: number;
  #retry: TimerHandle | undefined;
  #connected = false;
  #closing = false;

  constructor(
    private readonly options: DeviceOptions,
    private readonly parts: ConnectionParts,
  ) {
    this.#delay = this.#backoff.firstMs;
  }

  /** Starts connecting (and keeps reconnecting until close()). */
  open(): void {
    this.#connect();
  }

  /**
   * Publishes "offline" (a clean DISCONNECT suppresses the will) once the mirror is
   * acknowledged or its wait is over, waits for in-flight publishes, disconnects.
   */
  async close(): Promise<void> {
    this.#closing = true;
    if (this.#retry) this.options.clock.cancel(this.#retry);
    const { mirror } = this.parts;
    if (this.#connected) {
      // The mirror is not on the reply path, but a clean stop leaves it complete if it can.
      if (!(await mirror.acknowledged(MIRROR_STOP_WAIT_MS))) this.options.log('unusual', `mirror: ${mirror.unacknowledged} entries unacknowledged at stop; sent again at the next start`);
      await this.options.transport.publish(this.#topic('status'), utf8(DEVICE_STATUS.offline), { retain: true }).catch(() => {});
    }
    await this.options.transport.end();
  }

  /**
   * Leaves for good without a word: the broker refused this device's journal and another device
   * with the seed is active, sharing the `status` topic, so no "offline" (nor the will: a clean
   * DISCONNECT) may say that device left; and no reconnect, whose takeover of the shared MQTT
   * session would push it off (docs/journal.md "Retiring a device").
   */
  async retire(): Promise<void> {
    this.#closing = true;
    if (this.#retry) this.options.clock.cancel(this.#retry);
    this.#connected = false;
    await this.options.transport.end();
  }

  get #backoff() {
    return this.options.backoff ?? DEFAULT_BACKOFF;
  }

  #topic(suffix: Parameters<typeof topic>[1]): string {
    return topic(this.parts.deviceId, suffix);
  }

  #connect(): void {
    if (this.#closing) return;
    const { transport, clock, curve } = this.options;
    const { config, deviceId, nodeKey } = this.parts;
    // A fresh token per attempt: the server refuses one it has seen, and old ones expire. It
    // carries the journal's last id: the embedded server keeps a stale device off the session.
    const { username, password } = makeCredentials(curve, nodeKey, config.brokerId, clock.now(), this.parts.lastId() ?? 0n);
    transport.connect(
      { url: config.mqttUrl, clientId: deviceId, username, password, will: { topic: this.#topic('status'), payload: utf8(DEVICE_STATUS.offline) } },
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
    const { config, lastId } = this.parts;
    try {
      // Subscribed before "online": the broker relays control commands only to a device that said it.
      await transport.subscribe([this.#topic('req'), this.#topic('control'), this.#topic('chain'), this.#topic('journal-ack'), this.#topic('hello-request'), this.#topic('warm'), this.#topic('refused')]);
      await transport.publish(this.#topic('status'), utf8(DEVICE_STATUS.online), { retain: true });
      await this.#hello();
      this.parts.event('connected');
      log('info', `connected to ${config.mqttUrl}; hello lastId ${lastId() ?? 0n}`);
    } catch (e) {
      // Retired meanwhile (kept apart by the embedded server, its subscriptions refused): said already.
      if (!this.#closing) log('unusual', `announcing on ${config.mqttUrl} failed: ${(e as Error).message}`);
    }
  }

  /**
   * hello, the chain view, and the mirror's unacknowledged entries: on connecting, and when a
   * broker that started after this connection asks (docs/remote-protocol.md "Connecting").
   * The broker resends what is outstanding when it sees hello, so hello goes last.
   */
  async #hello(): Promise<void> {
    const { transport } = this.options;
    const hello = JSON.stringify({ lastId: String(this.parts.lastId() ?? 0n), firmware: this.options.firmware });
    await transport.publish(this.#topic('hello'), utf8(hello));
    await transport.publish(this.#topic('chain-state'), this.parts.chainStatus());
    this.parts.mirror.connected();
  }

  #message(name: string, payload: Uint8Array): void {
    const parsed = parseTopic(name);
    if (!parsed || parsed.deviceId !== this.parts.deviceId) return;
    if (parsed.suffix === 'hello-request') return this.#helloRequested();
    // The broker's warm start (docs/remote-protocol.md "Warm start"): echoed unread, nothing kept.
    if (parsed.suffix === 'warm') return void this.options.transport.publish(this.#topic('warmed'), payload, { qos: 0 }).catch(() => {});
    this.parts.message(parsed.suffix, payload);
  }

  #helloRequested(): void {
    const { log } = this.options;
    log('info', `the broker asks for hello (it started after this connection); hello lastId ${this.parts.lastId() ?? 0n}`);
    this.#hello().catch((e: Error) => log('unusual', `hello again on ${this.parts.config.mqttUrl} failed: ${e.message}`));
  }

  #disconnected(reason: string): void {
    const wasConnected = this.#connected;
    this.#connected = false;
    this.parts.mirror.disconnected();
    if (this.#closing) return;
    this.parts.event('disconnected');
    const delay = this.#delay;
    this.#delay = Math.min(delay * 2, this.#backoff.maxMs);
    this.options.log(
      'unusual',
      `${wasConnected ? 'lost the connection to' : 'cannot reach'} the MQTT server ${this.parts.config.mqttUrl} (${reason})` +
        `${isUnknownKey(reason) ? this.#unknownKey() : isRefusedLogin(reason) ? this.#refusedLogin() : ''}; retrying in ${(delay / 1000).toFixed(1)} s`,
    );
    this.#retry = this.options.clock.after(delay, () => {
      this.#retry = undefined;
      this.#connect();
    });
  }

  /**
   * The server does not know this device's key, which is the node id of its hsm_secret
   * (docs/remote-protocol.md "Identities"): the broker's log names the keys it knows.
   */
  #unknownKey(): string {
    return `: it does not let this device's key in (device ${this.parts.deviceId}, the node id of its hsm_secret). ` +
      "sphinx-hsmd's server says this only for a key it does not know: most likely this device was set up with another " +
      "node's seed (give it this node's hsm_secret; sphinx-hsmd's log names the key it knows), or the broker pinned another " +
      'device first (its SPHINX_DATA_DIR/pinned-devices, or SPHINX_DEVICE_KEYS). An external MQTT server says it for a wrong device password too';
  }

  /** What to check when the server refuses this device's login (the broker's log says which it was). */
  #refusedLogin(): string {
    const { config, deviceId } = this.parts;
    return `: it refused this device's token, signed over broker id ${config.brokerId} at ` +
      `${new Date(this.options.clock.now()).toISOString()} by this device's clock. Check that the broker id is the one ` +
      "sphinx-hsmd prints (its SPHINX_DATA_DIR/broker-id), that this clock is right (the broker refuses a token more than " +
      "30 s ahead of its clock or 5 minutes old; its log says by how much), and that the broker allows " +
      `device ${deviceId} (SPHINX_DEVICE_KEYS, or its pinned-devices file)`;
  }
}
