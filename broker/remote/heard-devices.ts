/**
 * For the status page (broker/status-panel.ts): each device's firmware and journal position,
 * from its hello and replies, and when it was last heard from. A view beside the session, not
 * part of its protocol state.
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

  /** Its hello named its firmware (if it did) and the last id its journal holds. */
  hello(device: string, lastId: bigint, firmware: string | undefined): void {
    this.#heard.set(device, { ...this.#heard.get(device)!, journaledUpTo: lastId, ...(firmware === undefined ? {} : { firmware }) });
  }

  /** It replied to `id`: its journal holds it (docs/journal.md "Write-ahead"). */
  journaled(device: string, id: bigint): void {
    const known = this.#heard.get(device)!;
    if (known.journaledUpTo === undefined || id > known.journaledUpTo) this.#heard.set(device, { ...known, journaledUpTo: id });
  }
}
