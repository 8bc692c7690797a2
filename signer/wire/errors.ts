/**
 * The one error type of the hsmd wire codec.
 *
 * Every malformed frame (truncation, a bool that is not 0/1, an unknown message type, a bad
 * TLV stream, …) and every value that cannot be encoded raises a `WireError`, never another
 * exception type: callers answer a WireError as CLN answers a failed `fromwire_*` (a bad
 * request, `hsmd/hsmd.c` `bad_req_fmt`).
 */

/** A frame that CLN's fromwire would reject, or a value its towire could not write. */
export class WireError extends Error {
  override readonly name = 'WireError';
  /** Byte offset in the frame where decoding failed (-1 when encoding). */
  readonly offset: number;

  constructor(message: string, offset = -1) {
    super(message);
    this.offset = offset;
  }
}
