/**
 * The ports the device app talks to (docs/design.md#firmware). firmware/host implements them on Node,
 * firmware/moddable on an ESP32. Platform-neutral: Uint8Array and plain callbacks only.
 * (The journal port is log/file-port.ts's FileDir.)
 */
import type { FileDir, FilePort } from '../../log/file-port.js';
import type { HighWaterMark } from '../../log/journal/high-water.js';
import type { LedName } from './leds.js';

/** One MQTT connection attempt's parameters (docs/remote-protocol.md "Connecting"). */
export interface ConnectOptions {
  /** mqtt://host:port or mqtts://host:port. */
  readonly url: string;
  /** The device id: with clean session false the server keeps the session under it. */
  readonly clientId: string;
  readonly username: string;
  readonly password: string;
  /** Published (QoS 1, retained) by the server if the connection dies without DISCONNECT (none for a restore's connection). */
  readonly will?: { readonly topic: string; readonly payload: Uint8Array };
}

export interface TransportHandlers {
  /** CONNACK accepted. */
  connected(): void;
  /**
   * A PUBLISH on a subscribed topic. The transport acknowledges a QoS 1 one (PUBACK) only after
   * this returns; a control command or chain update is journaled (synced) within it, so the
   * server redelivers exactly the unhandled suffix, in order. Requests come at QoS 0: the broker
   * resends what goes unanswered (docs/remote-protocol.md "Connecting").
   */
  message(topic: string, payload: Uint8Array): void;
  /** The attempt failed or the connection ended; called once per connect(). */
  disconnected(reason: string): void;
}

export interface PublishOptions {
  readonly retain?: boolean;
  /** 1 unless said. */
  readonly qos?: 0 | 1;
}

/**
 * MQTT 3.1.1, QoS 1, clean session false, TCP_NODELAY. One connection per connect() and no
 * reconnect of its own: the device loop owns reconnecting (with fresh credentials, since
 * the server refuses a token seen before).
 */
export interface Transport {
  connect(options: ConnectOptions, handlers: TransportHandlers): void;
  /** Subscribes at QoS 1; resolves on SUBACK. */
  subscribe(topics: readonly string[]): Promise<void>;
  /**
   * Publishes at QoS 1 and resolves on PUBACK (rejects if the connection goes first); with
   * `qos: 0`, resolves once handed to the connection (for what the protocol resends itself:
   * docs/remote-protocol.md "Requests").
   */
  publish(topic: string, payload: Uint8Array, options?: PublishOptions): Promise<void>;
  /** Waits for in-flight publishes, sends DISCONNECT and closes. */
  end(): Promise<void>;
}

/** Status lights: what the device shows (leds.ts has the colours). */
export interface Leds {
  /** Shows a state steadily until the next call. */
  show(state: LedName): void;
  /** Flashes a state briefly over the current one (e.g. an error blink for a bad payload). */
  blink(state: LedName): void;
}

/** What the device is configured with. */
export interface DeviceConfig {
  /** The MQTT server, mqtt://host:port. */
  readonly mqttUrl: string;
  /** The broker's id (docs/remote-protocol.md "Identities"); tokens are signed over it. */
  readonly brokerId: string;
  /**
   * The owner's way out of one JournalRollbackError on a device without command-line flags:
   * the two ids it names, `{"lastId": "<decimal>", "answeredUpTo": "<decimal>"}` (docs/journal.md
   * "Rollback"); read as given (JSON), checked at boot.
   */
  readonly acceptJournalRollback?: unknown;
}

/** Held while the device runs: released by stop(). */
export interface StorageLock {
  release(): void;
  /** What taking it found and did (a stale lock of a dead process taken over), for the log. */
  readonly note?: string;
}

/** Persistent storage: the seed, its passphrase, the configuration and the journal's files. */
export interface Store {
  /**
   * Takes exclusive use of the storage before the journal is opened: a journal must have one
   * writer. Throws DeviceSetupError naming the holder. On the ESP32 one program owns the SD
   * card, so there is nothing to take (a no-op); on a host it is a lock file with the pid.
   */
  lock(): StorageLock;
  /** The hsm_secret file's bytes; throws DeviceSetupError (saying the fix) if absent. */
  hsmSecret(): Uint8Array;
  /** The passphrase of a mnemonic hsm_secret that has one, if configured. */
  passphrase(): string | undefined;
  config(): DeviceConfig;
  /** The directory holding the journal and its snapshot slots. */
  journalDir(): FileDir;
  /**
   * The journal's high-water mark (docs/journal.md "Rollback"), kept apart from the journal
   * file, so a journal deleted, cut back or restored from an older copy is noticed. It is the
   * mark of the device `deviceId` (the seed's node id): where it outlives the storage that holds
   * the journal (the ESP32's NVS outlives a wiped card), a board given another seed has its own.
   */
  highWaterMark(deviceId: string): HighWaterMark;
  /**
   * The retired marker (retired.ts: RETIRED_FILE in journalDir), if the storage holds one; read
   * at boot before anything else. Not through journalDir, whose open() would create it.
   */
  retiredMarker(): FilePort | undefined;
  /** The owner's public key (hex) for signed control, if provisioned (owner.pub). */
  ownerKey(): string | undefined;
  /** The device's policy file (policy.json), if there is one. */
  policyFile(): Uint8Array | undefined;
}

export interface TimerHandle {
  readonly __timer: unknown;
}

export interface Clock {
  /** Unix time in milliseconds (the auth token carries it: the device clock must be set). */
  now(): number;
  after(ms: number, fn: () => void): TimerHandle;
  cancel(timer: TimerHandle): void;
}

/** A problem the device cannot get past without its owner; the message says the fix. */
export class DeviceSetupError extends Error {
  override readonly name = 'DeviceSetupError';
}

export type { HighWaterMark };
