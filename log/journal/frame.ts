/**
 * Journal frames (docs/design.md#logs-and-projections): `u32 length ‖ u32 CRC-32C ‖ payload`, big-endian, where the
 * CRC covers the 4 length bytes and the payload (so a flipped length is caught too) and
 * 1 ≤ length ≤ MAX_FRAME_PAYLOAD (an all-zero region never passes for a frame).
 *
 * The recovery scan reads frames from offset 0. A crash mid-append leaves a prefix of the
 * last write: good frames, then part of one frame. So the first bad frame is a torn last
 * write, reported for the caller to cut off, only if it is the last thing in the file and
 * shorter than a frame: fewer bytes than a header, or fewer than the frame its (in-range)
 * length announces. Anything else is damage, refused naming the byte offset, and nothing is
 * cut: a good frame after it (corrupt in the middle), a whole frame whose CRC fails, or a
 * header whose length is out of range with a header's worth of bytes or more (a zero-filled
 * or overwritten region, e.g. a zeroed last 4 KiB that cuts acknowledged records).
 *
 * One exception needs what the scan cannot see: a blank tail after the last good frame (one
 * blank byte value, 0x00 or 0xff, to the end, after at most the first bytes of one frame), no
 * longer than one frame, is what a filesystem that wrote a growing append's new size but not
 * all of its data leaves (FAT on the device's SD card: zeros, or 0xff where the card reads
 * erased sectors so). A scan asked for them reports such a tail (`blankTail`) instead of
 * refusing it, and the caller cuts it only if the high-water mark shows that no answered record
 * lay in it; otherwise it is damage (docs/journal.md "Recovery").
 *
 * A file may keep reserved space after its frames (log/file-port.ts): fill where the next frame
 * would start ends the content, and a torn write over reserved space is measured up to the
 * fill that ends the file (docs/journal.md "Reserved space").
 */
import { type FilePort, reserveBeginsAt, reserveSuffixStart } from '../file-port.js';
import { putU32be } from '../../signer/bytes.js';
import { crc32cUpdate } from './crc32c.js';

export const FRAME_HEADER = 8;
export const MAX_FRAME_PAYLOAD = 16 * 1024 * 1024;

export function encodeFrame(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(FRAME_HEADER + payload.length);
  frame.set(payload, FRAME_HEADER);
  sealFrame(frame, 0, payload.length);
  return frame;
}

/**
 * Writes the header of a frame whose `length`-byte payload is already in place at
 * `offset + FRAME_HEADER` of `bytes`: frames built where they will be read, without a copy.
 */
export function sealFrame(bytes: Uint8Array, offset: number, length: number): void {
  if (length < 1 || length > MAX_FRAME_PAYLOAD) throw new RangeError(`frame payload of ${length} bytes`);
  putU32be(bytes, offset, length);
  putU32be(bytes, offset + 4, frameCrc(bytes, offset, offset + FRAME_HEADER + length));
}

/** The CRC of what the frame at `offset` of `bytes` covers, its length field and its payload, read in place. */
const frameCrc = (bytes: Uint8Array, offset: number, end: number): number =>
  crc32cUpdate(crc32cUpdate(0, bytes, offset, offset + 4), bytes, offset + FRAME_HEADER, end);

/** The big-endian u32 at `offset` (no DataView per frame: a rebuild reads millions). */
const u32At = (bytes: Uint8Array, offset: number): number =>
  ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;

export interface Frame {
  /** Byte offset of the frame's header in the file. */
  readonly offset: number;
  /** A view into the scanned bytes, not a copy: decoders copy what they keep. */
  readonly payload: Uint8Array;
}

/** Why the frame at an offset is not good, or its payload. */
export type FrameCheck = { readonly ok: true; readonly payload: Uint8Array } | { readonly ok: false; readonly reason: string };

/** The whole length of the frame at `offset` if its header is there with a length in range. */
function announcedLength(bytes: Uint8Array, offset: number): number | undefined {
  if (bytes.length - offset < FRAME_HEADER) return undefined;
  const length = u32At(bytes, offset);
  return length >= 1 && length <= MAX_FRAME_PAYLOAD ? FRAME_HEADER + length : undefined;
}

/**
 * The payload length of the frame at `offset` of `bytes` if the frame is good, else why it is
 * not: a scan checks every frame of a journal without an object per good one.
 */
function checkedLength(bytes: Uint8Array, offset: number): number | string {
  if (bytes.length - offset < FRAME_HEADER) return `short header (${bytes.length - offset} of ${FRAME_HEADER} bytes)`;
  const length = u32At(bytes, offset);
  if (length < 1 || length > MAX_FRAME_PAYLOAD) return `length ${length} out of range`;
  const end = offset + FRAME_HEADER + length;
  if (end > bytes.length) return `short frame (${bytes.length - offset} of ${FRAME_HEADER + length} bytes)`;
  const expected = u32At(bytes, offset + 4);
  const actual = frameCrc(bytes, offset, end);
  if (actual !== expected) return `CRC-32C ${hex32(actual)} != stored ${hex32(expected)}`;
  return length;
}

/** Checks the frame at `offset` of `bytes` (the whole file); a good frame's payload is a view into `bytes`. */
export function checkFrame(bytes: Uint8Array, offset: number): FrameCheck {
  const length = checkedLength(bytes, offset);
  if (typeof length === 'string') return { ok: false, reason: length };
  return { ok: true, payload: bytes.subarray(offset + FRAME_HEADER, offset + FRAME_HEADER + length) };
}

const hex32 = (n: number): string => '0x' + n.toString(16).padStart(8, '0');

export interface TornTail {
  /** Where the torn frame begins: the file is cut back to this length. */
  readonly offset: number;
  /** How many bytes it had. */
  readonly length: number;
  readonly reason: string;
}

/** What a medium reads back where a file's size was written but not its data: zeros, or 0xff (erased sectors). */
export type Blank = 0x00 | 0xff;

/** A blank tail after the last good frame: torn or damage, as the high-water mark tells. */
export interface BlankTail {
  /** Where it begins, after the last good frame: the file would be cut back to this length. */
  readonly offset: number;
  /** How many bytes it is (up to any reserved space that ends the file). */
  readonly length: number;
  /** How many of them are a torn frame's first bytes, before the blank (0: blank from `offset`). */
  readonly partial: number;
  readonly blank: Blank;
}

/**
 * What follows the last good frame and may be a torn write: a torn frame, or a blank tail. Its
 * shape alone cannot tell it from damage of the same shape (a file overwritten with bytes that
 * announce a longer frame, answered records zeroed), the high-water mark can.
 */
export type JudgedTail = TornTail | BlankTail;

export const isBlankTail = (tail: JudgedTail): tail is BlankTail => 'blank' in tail;

/**
 * Judges a torn or blank tail once the journal's last id is known: returns why it is a torn
 * write, for the recovery note, or throws JournalCorruptError (damage).
 */
export type TailJudge = (file: string, tail: JudgedTail, lastId: bigint | undefined) => string;

/** The longest blank tail a scan reports rather than refuses: one maximal frame, header and payload. */
export const BLANK_TAIL_LIMIT = FRAME_HEADER + MAX_FRAME_PAYLOAD;

/**
 * "4096 zero bytes", "600 bytes (a frame's first 120, then 0xff bytes)", "300 bytes of a torn
 * frame (short frame (300 of 5008 bytes))": for notes and refusals.
 */
export function describeTail(tail: JudgedTail): string {
  if (!isBlankTail(tail)) return `${tail.length} bytes of a torn frame (${tail.reason})`;
  const blank = tail.blank === 0 ? 'zero' : '0xff';
  return tail.partial === 0 ? `${tail.length} ${blank} bytes` : `${tail.length} bytes (a frame's first ${tail.partial}, then ${blank} bytes)`;
}

export interface FrameScan {
  readonly frames: Frame[];
  /** The good length of the file: where the next frame goes. */
  readonly end: number;
  readonly torn: TornTail | undefined;
}

/** The journal cannot be used as is: a bad frame with good ones after it, or a bad record. */
export class JournalCorruptError extends Error {
  override readonly name = 'JournalCorruptError';
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly detail: string,
  ) {
    super(`journal ${file} is corrupt at byte offset ${offset}: ${detail}`);
  }
}

/** Where each good frame of a scan starts: numbers, so a long journal's scan allocates no object per frame. */
export interface FrameOffsets {
  readonly offsets: number[];
  /** The good length of the file: where the next frame goes. */
  readonly end: number;
  readonly torn: TornTail | undefined;
  /** Only where the scan was asked for them: a blank tail after `end`, neither cut nor judged yet. */
  readonly blankTail?: BlankTail;
}

/** What a scan reports rather than refuses. */
export interface ScanOptions {
  /** A blank tail of at most BLANK_TAIL_LIMIT bytes after the last good frame (refused without). */
  readonly blankTail?: boolean;
}

/**
 * `bytes[offset, end)` as a blank tail, if it is one: one blank byte value up to `end`, after
 * at most a torn frame's first bytes, fewer than `frameLength` (the whole length its header
 * announces, read with the blank in it; a tail without one in range can only be all blank).
 * Whatever else is before the blank is not part of one torn frame: undefined, damage.
 */
function blankTailAt(bytes: Uint8Array, offset: number, end: number, frameLength: number | undefined): BlankTail | undefined {
  const blank = bytes[end - 1];
  if (blank !== 0x00 && blank !== 0xff) return undefined;
  let partial = end - offset;
  while (partial > 0 && bytes[offset + partial - 1] === blank) partial--;
  if (partial > 0 && (frameLength === undefined || partial >= frameLength)) return undefined;
  return { offset, length: end - offset, partial, blank };
}

/** The payload of the frame at `offset` of `bytes`, one `scanFrameOffsets` found good: a view. */
export const payloadAt = (bytes: Uint8Array, offset: number): Uint8Array =>
  bytes.subarray(offset + FRAME_HEADER, offset + FRAME_HEADER + u32At(bytes, offset));

/**
 * Scans every frame of `bytes` (a whole journal file named `file`). Pure: the caller reads
 * the file, truncates a torn tail, and judges a blank tail it asked for.
 */
export function scanFrameOffsets(file: string, bytes: Uint8Array, options: ScanOptions = {}): FrameOffsets {
  const offsets: number[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const length = checkedLength(bytes, offset);
    if (typeof length === 'number') {
      offsets.push(offset);
      offset += FRAME_HEADER + length;
      continue;
    }
    // Reserved space where the next frame would be: the content ends here. A frame's first
    // byte (its length's) is never the fill's, so no frame, whole or torn, starts in it.
    if (reserveBeginsAt(bytes, offset)) return { offsets, end: offset, torn: undefined };
    const reason = length;
    // What was written over reserved space ends where the fill that ends the file begins.
    const written = reserveSuffixStart(bytes);
    // Error path only: is any good frame left after this bad one?
    for (let next = offset + 1; next + FRAME_HEADER < written; next++) {
      if (typeof checkedLength(bytes, next) === 'number') {
        throw new JournalCorruptError(file, offset, `${reason}; a good frame follows at offset ${next}, so this is not a torn last write`);
      }
    }
    const tail = written - offset;
    const announced = announcedLength(bytes, offset);
    if (tail < FRAME_HEADER || (announced !== undefined && tail < announced)) {
      return { offsets, end: offset, torn: { offset, length: tail, reason } };
    }
    const blankTail = options.blankTail && tail <= BLANK_TAIL_LIMIT ? blankTailAt(bytes, offset, written, announced) : undefined;
    if (blankTail) return { offsets, end: offset, torn: undefined, blankTail };
    throw new JournalCorruptError(file, offset, `${reason}; the ${tail} bytes from here to ${written < bytes.length ? 'the reserved space' : 'the end'} are not a torn last write ` +
      `(a crash leaves part of one frame${announced === undefined ? '' : `, here shorter than ${announced} bytes`}): damaged, e.g. zero-filled or overwritten`);
  }
  return { offsets, end: offset, torn: undefined };
}

/**
 * The payload of the frame at `offset` of `file`, read back and checked (a frame a scan found
 * good); a frame that no longer checks is refused as damage.
 */
export function readFrame(file: FilePort, offset: number): Uint8Array {
  const header = file.read(offset, FRAME_HEADER);
  const length = header.length === FRAME_HEADER ? u32At(header, 0) : 0;
  const bytes = length >= 1 && length <= MAX_FRAME_PAYLOAD ? file.read(offset, FRAME_HEADER + length) : header;
  const check = checkFrame(bytes, 0);
  if (!check.ok) throw new JournalCorruptError(file.name, offset, `a frame read back no longer checks: ${check.reason}`);
  return check.payload;
}

/** scanFrameOffsets with each good frame's payload. */
export function scanFrames(file: string, bytes: Uint8Array): FrameScan {
  const { offsets, end, torn } = scanFrameOffsets(file, bytes);
  return { frames: offsets.map((offset) => ({ offset, payload: payloadAt(bytes, offset) })), end, torn };
}
