/**
 * Request ids (docs/remote-protocol.md "Requests"): 64-bit, unique and increasing across
 * restarts. The signer port owns them, since it knows where the last one is kept: the local
 * signer's journal, or the remote signer's broker log. The router assigns none.
 */

/** The largest id the envelope and the logs can hold (u64). */
export const MAX_REQUEST_ID = 0xffffffffffffffffn;

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

/**
 * A decimal u64 as the protocol's JSON carries ids ("12"), or an Error saying why not: no
 * sign, no exponent, at most 20 digits and at most 2^64-1.
 */
export function parseDecimalU64(text: unknown): bigint | Error {
  if (typeof text !== 'string' || !/^\d{1,20}$/.test(text)) return new Error('is not a decimal string');
  const value = BigInt(text);
  return value > MAX_REQUEST_ID ? new Error(`${text} is above 2^64-1`) : value;
}
