/**
 * What the broker needs from a signer, wherever it runs: in this process
 * (`SPHINX_SIGNER=local`) or on a device over MQTT. The broker itself handles only the
 * fd protocol (framing, hsmd_client_hsmfd, permissions); every other request goes here.
 */
import type { BrokerLog } from '../log/broker-log/broker-log.js';
import type { Envelope } from '../signer/envelope.js';

/** Read-only facts about a signer, for the status page (broker/status-page.ts). */
export interface SignerInspection {
  /** Devices that said hello and their state; `active` is the one requests go to. */
  readonly devices: readonly { readonly id: string; readonly state: 'verifying' | 'ready' | 'refused'; readonly active: boolean }[];
  /** Requests published to a device and not answered yet (init checks included). */
  readonly outstanding: number;
}

export interface SignerPort {
  /**
   * The reply frame (2-byte type + fields) for a request, or `null` when hsmd sends none
   * (hsmd_dev_preinit). Rejects only with `BadRequest` when the request is one CLN's hsmd
   * treats as a bad request (client closed / master fatal); signer trouble is waited out
   * inside the port, never surfaced as an exit.
   */
  request(envelope: Envelope): Promise<Uint8Array | null>;
  /** Stops the signer (flushes logs); the broker calls it once on shutdown. */
  close(): Promise<void>;
  /** Read-only facts for the status page (remote signer). */
  inspect?(): SignerInspection;
  /** The broker log it writes (remote signer): the status page's views follow it. */
  readonly brokerLog?: BrokerLog;
}

/** A request CLN's hsmd would reject with bad_req: the message says why. */
export class BadRequest extends Error {
  override readonly name = 'BadRequest';
}

/**
 * The signer hit one of hsmd's fatal conditions (status_failed): the broker writes `frame`
 * to the requester if set, sends status_fail with `failure` (none if null: a clean exit),
 * and exits as CLN's hsmd does. lightningd stops with it, which is what CLN intends here
 * (e.g. its wallet keys do not match ours).
 */
export class SignerFatal extends Error {
  override readonly name = 'SignerFatal';
  constructor(
    readonly failure: 'master-io' | 'hsm-io' | 'gossip-io' | 'internal' | null,
    description: string,
    readonly frame?: Uint8Array,
  ) {
    super(description);
  }
}
