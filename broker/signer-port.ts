/**
 * What the broker needs from a signer, wherever it runs: in this process
 * (`SPHINX_SIGNER=local`) or on a device over MQTT. The broker itself handles only the
 * fd protocol (framing, hsmd_client_hsmfd, permissions); every other request goes here.
 */
import type { BrokerLog } from '../log/broker-log/broker-log.js';
import type { DeviceView } from './remote/device-set.js';
import type { Reply } from '../signer/decision.js';
import type { Envelope } from '../signer/envelope.js';
import type { ChainRelayStatus } from './chain/relay.js';

export interface DeviceHeard {
  readonly firmware?: string;
  readonly lastSeenAt: number;
  /**
   * The last id the device has journaled, as far as the broker knows: its hello's last id,
   * then each id it replied to (a reply leaves the device only after its record is synced).
   */
  readonly journaledUpTo?: bigint;
}

/** Read-only facts about a signer, for the status page (broker/status-page.ts). */
export interface SignerInspection {
  /** Devices that said hello and their state; `active` is the one requests go to. */
  readonly devices: readonly DeviceView[];
  /** Per device: what its hello said it runs, and when it was last heard from (Unix ms). */
  readonly heard?: ReadonlyMap<string, DeviceHeard>;
  /** Requests published to a device and not answered yet (init checks included). */
  readonly outstanding: number;
  /** The highest request id a device's reply was logged for (remote): no device may journal less. */
  readonly answeredUpTo?: bigint;
  /** Chain tracking, when a chain source is configured (broker/chain/relay.ts). */
  readonly chain?: ChainRelayStatus;
}

/** A request as the router hands it over: the port gives it its id (broker/request-ids.ts). */
export type SignerRequest = Omit<Envelope, 'id'>;

export interface SignerPort {
  /**
   * The signer's answer, in hsmd's forms (signer/decision.ts Reply): a frame, none, a bad
   * request, or a fatal condition; the router acts on each. Signer trouble is waited out
   * inside the port, never surfaced as an exit; it rejects only when the port itself breaks
   * (its log cannot be written).
   */
  request(request: SignerRequest): Promise<Reply>;
  /** Stops the signer (flushes logs); the broker calls it once on shutdown. */
  close(): Promise<void>;
  /** Read-only facts for the status page (remote signer). */
  inspect?(): SignerInspection;
  /** The broker log it writes (remote signer): the status page's views follow it. */
  readonly brokerLog?: BrokerLog;
  /**
   * Relays a signed control command to its device and resolves with the device's signed
   * answer (remote signer; broker/remote/control-relay.ts). Rejects with RelayError.
   */
  control?(payload: Uint8Array): Promise<Uint8Array>;
}
