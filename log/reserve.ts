/**
 * Reserved space (docs/journal.md "Reserved space"): a file port may write space ahead of its
 * content, filled with the reserve fill, so that an append overwrites bytes the file already
 * has and its sync flushes data only, not the file's size and block map as well. Readers that
 * see the fill (recovery after a crash, another process) tell it from content and from damage:
 * byte i of reserved space is 0xa0 + (i mod 16), so it is never zeros, never 0xff, and four of
 * its bytes never make a frame's length field (≥ 0xa0000000, above the largest frame).
 */

/** The reserve fill's byte at file offset `offset`. */
export const reserveFillAt = (offset: number): number => 0xa0 + (offset & 15);

/** One period of the fill: 16 bytes of it starting anywhere say "reserved", not content, with certainty. */
export const RESERVE_PERIOD = 16;

/** Writes the fill into `bytes[from..]`, whose byte 0 lies at file offset `fileOffset`. */
export function writeReserveFill(bytes: Uint8Array, from: number, fileOffset: number): void {
  for (let i = from; i < bytes.length; i++) bytes[i] = reserveFillAt(fileOffset + i);
}

/** True if `bytes[from, to)` (file offsets, `bytes` being the file from offset 0) is all fill. */
export function isReserveFill(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== reserveFillAt(i)) return false;
  return true;
}

/** Where the longest run of fill that ends the file begins (`bytes.length` if it ends in none). */
export function reserveSuffixStart(bytes: Uint8Array): number {
  let i = bytes.length;
  while (i > 0 && bytes[i - 1] === reserveFillAt(i - 1)) i--;
  return i;
}

/** True if reserved space begins at `offset`: a period of fill there, or fill to the end of a shorter file. */
export const reserveBeginsAt = (bytes: Uint8Array, offset: number): boolean =>
  offset < bytes.length && isReserveFill(bytes, offset, Math.min(bytes.length, offset + RESERVE_PERIOD));
