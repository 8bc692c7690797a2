/**
 * Which requests the device may decide now, so ids reach the journal in order
 * (docs/remote-protocol.md "Batches" and "Sessions"): a batch sent after one not handled yet
 * (`after` above the journal's last id) waits for it, and after a restart a new id waits for
 * hsmd_init, then for every id held back before it. It only keeps what waits and says why;
 * the device (device.ts) logs, decides and journals.
 */
import type { Envelope } from '../../signer/envelope.js';
import type { decodeRequestPayload } from '../../signer/remote/envelope-codec.js';

export type DecodedRequests = ReturnType<typeof decodeRequestPayload>;

/** Early batches kept (a few messages are in flight at once); beyond that the oldest is dropped and resent by the broker. */
const MAX_EARLY_BATCHES = 8;

export class RequestOrder {
  /** New ids held back since this start, until journaled or passed by the journal. */
  readonly #heldBack = new Set<bigint>();
  /** Batches that came before the batch they follow (`after` not journaled yet), oldest first. */
  #early: DecodedRequests[] = [];

  /** Keeps `decoded` (true) if it follows a batch the journal has not reached (`lastId`). */
  waits(decoded: DecodedRequests, lastId: bigint | undefined): boolean {
    if (decoded.after <= (lastId ?? 0n)) return false;
    if (this.#early.length >= MAX_EARLY_BATCHES) this.#early.shift();
    this.#early.push(decoded);
    return true;
  }

  /** The next kept batch the journal (`lastId`) has now reached, taken out; undefined if none. */
  ready(lastId: bigint | undefined): DecodedRequests | undefined {
    const i = this.#early.findIndex((d) => d.after <= (lastId ?? 0n));
    return i === -1 ? undefined : this.#early.splice(i, 1)[0];
  }

  /**
   * Why `env` must be held back (and holds it), or undefined if it may be decided. Restarted,
   * the keys come from hsmd_init, which the broker sends first after hello: deciding before
   * would journal "not initialized" for good (a journaled id needs no keys: its reply is in the
   * journal). And after init, while an id held back is not journaled, later ids wait too: the
   * server may go on delivering its queued copies between the broker's resends (aedes
   * interleaves them), and deciding a later id first would leave the held-back one below the
   * journal's last id, refused for good when its resend comes. The broker resends them all in
   * order; one that renumbers instead moves the journal past them.
   */
  holdBack(env: Envelope, isInit: boolean, initialized: boolean, lastId: bigint | undefined): string | undefined {
    const isNew = lastId !== undefined && env.id > lastId;
    const waitingFor = isNew ? [...this.#heldBack].find((id) => id < env.id) : undefined;
    if (isInit || !isNew || (initialized && waitingFor === undefined)) return undefined;
    this.#heldBack.add(env.id);
    return waitingFor === undefined
      ? 'hsmd_init not seen since this device started (the broker resends it first after hello, then this request)'
      : `request ${waitingFor}, held back before it, is not journaled yet (the broker resends both, in order)`;
  }

  /** Forgets the held-back ids the journal (`lastId`) has reached: they are done. */
  passed(lastId: bigint | undefined): void {
    for (const id of this.#heldBack) if (id <= (lastId ?? -1n)) this.#heldBack.delete(id);
  }
}
