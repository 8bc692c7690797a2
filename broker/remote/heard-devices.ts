/**
 * For the status page (broker/status-panel.ts): each device's firmware, from its hello, and
 * when it was last heard from. A view beside the session, not part of its protocol state.
 */
import type { DeviceHeard } from '../signer-port.js';

export class HeardDevices {
  readonly #heard = new Map<string, DeviceHeard>();

  get all(): ReadonlyMap<string, DeviceHeard> {
    return this.#heard;
  }

  /** A hello or a reply from `device` at wall time `at`. */
  heard(device: string, at: number): void {
    const known = this.#heard.get(device);
    this.#heard.set(device, known === undefined ? { lastSeenAt: at } : { ...known, lastSeenAt: at });
  }

  /** Its hello named its firmware. */
  firmware(device: string, firmware: string): void {
    this.#heard.set(device, { ...this.#heard.get(device)!, firmware });
  }
}
