/**
 * Request ids (docs/remote-protocol.md "Requests"): 64-bit, unique and increasing across
 * restarts. The signer port owns them, since it knows where the last one is kept: the local
 * signer's journal, or the remote signer's broker log. The router assigns none.
 */

import { U64_MAX } from '../signer/remote/decimal-u64.js';

/** The largest id the envelope and the logs can hold (u64). */
export const MAX_REQUEST_ID = U64_MAX;

export class RequestIds {
  #next: bigint;

  /** Ids continue after `last` (0: none taken yet). */
  constructor(last: bigint) {
    if (last < 0n || last > MAX_REQUEST_ID) throw new RangeError(`request id ${last} is not a u64`);
    this.#next = last + 1n;
  }

  /** The id the next request gets. */
  get next(): bigint {
    return this.#next;
  }

  take(): bigint {
    if (this.#next > MAX_REQUEST_ID) throw new RangeError('request ids exhausted (u64)');
    return this.#next++;
  }

  /** Moves past `id` (a device journaled it); false if ids were already past it. */
  continueAfter(id: bigint): boolean {
    if (id < this.#next) return false;
    this.#next = id + 1n;
    return true;
  }
}
