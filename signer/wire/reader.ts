/**
 * `WireReader`: the one byte reader. Big-endian reads as CLN's `wire/fromwire.c` does them,
 * and the little-endian integers and CompactSize of Bitcoin's serialization (transactions,
 * PSBTs, merkle proofs), so every parser reports a short or malformed input the same way.
 *
 * The reader carries the message and field being decoded (`msgName`, `fieldName`, set by the
 * message decoder before each field, no closure per call) so that every failure is a
 * `WireError` that names them, e.g.
 * "hsmd_sign_message: field msg needs 120 bytes at offset 4, only 3 left".
 * Offsets are absolute within the frame (the 2-byte type included).
 */
import { u32leAt } from '../bytes.js';
import { WireError } from './errors.js';

/** How a CompactSize may be written: Bitcoin Core's shortest form only, or libwally's any form. */
export type CompactRule = 'canonical' | 'any';

export class WireReader {
  /** CLN's message name, for error messages ('' outside a message). */
  msgName = '';
  /** The field being decoded, for error messages ('' when unknown). */
  fieldName = '';
  /** Where the `pubkey` fields decoded start in the frame, for the caller to parse as points (fields.ts). */
  pointsAt: number[] | undefined;
  /** Set once a CompactSize read with the `any` rule was not in its shortest form. */
  nonCanonical = false;
  private readonly buf: Uint8Array;
  private pos: number;
  private readonly end: number;

  /** Reads bytes[start, end): a sub-reader shares the frame and keeps absolute offsets. */
  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    // Integers are assembled from bytes rather than read through a DataView: a journal rebuild
    // makes a reader per record, and the view cost as much as a record's integers.
    this.buf = bytes;
    this.pos = start;
    this.end = end;
  }

  /** Absolute offset of the next byte to read. */
  get offset(): number {
    return this.pos;
  }

  /** Bytes left before the end of this reader. */
  get remaining(): number {
    return this.end - this.pos;
  }

  get atEnd(): boolean {
    return this.pos >= this.end;
  }

  /** Throws a WireError naming the message, field and offset (default: the current one). */
  fail(detail: string, at: number = this.pos): never {
    const field = this.fieldName === '' ? '' : 'field ' + this.fieldName + ': ';
    throw new WireError(`${this.msgPrefix()}${field}${detail} at offset ${at}`, at);
  }

  /** Advances over n bytes and returns the offset they start at; WireError if fewer remain. */
  private take(n: number): number {
    const p = this.pos;
    if (this.end - p < n) {
      const field = this.fieldName === '' ? '' : 'field ' + this.fieldName + ' ';
      throw new WireError(
        `${this.msgPrefix()}${field}needs ${n} bytes at offset ${p}, only ${this.end - p} left`, p);
    }
    this.pos = p + n;
    return p;
  }

  private msgPrefix(): string {
    return this.msgName === '' ? '' : this.msgName + ': ';
  }

  u8(): number {
    return this.buf[this.take(1)]!;
  }

  u16(): number {
    const p = this.take(2);
    return (this.buf[p]! << 8) | this.buf[p + 1]!;
  }

  u32(): number {
    return u32be(this.buf, this.take(4));
  }

  u64(): bigint {
    const p = this.take(8);
    return u64Of(u32be(this.buf, p), u32be(this.buf, p + 4));
  }

  /** Little-endian u16, as Bitcoin serializes integers. */
  u16le(): number {
    const p = this.take(2);
    return this.buf[p]! | (this.buf[p + 1]! << 8);
  }

  u32le(): number {
    return u32leAt(this.buf, this.take(4));
  }

  u64le(): bigint {
    const p = this.take(8);
    return u64Of(u32leAt(this.buf, p + 4), u32leAt(this.buf, p));
  }

  /**
   * Bitcoin's CompactSize. `canonical` (Bitcoin Core's ReadCompactSize): the shortest form
   * only, and no 8-byte form (no count or length reaches 2^32). `any` (libwally's parser): any
   * form whose value is a safe integer; one not in its shortest form sets `nonCanonical`.
   */
  compactSize(rule: CompactRule = 'canonical'): number {
    const start = this.pos;
    const first = this.u8();
    if (first < 0xfd) return first;
    const [v, min] = first === 0xfd ? [this.u16le(), 0xfd] : first === 0xfe ? [this.u32le(), 0x10000] : [this.u64le(), 0x100000000];
    if (rule === 'canonical' && v < min) this.fail('CompactSize is not minimally encoded', start);
    if (rule === 'canonical' && first === 0xff) this.fail('CompactSize too large', start);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail('CompactSize too large', start);
    if (v < min) this.nonCanonical = true;
    return Number(v);
  }

  /** A CompactSize count of items each at least `minSize` bytes long, bounded by the bytes left. */
  compactCount(minSize: number, rule: CompactRule = 'canonical'): number {
    const start = this.pos;
    const n = this.compactSize(rule);
    if (n * minSize > this.remaining) this.fail(`count ${n} of items of at least ${minSize} bytes exceeds the ${this.remaining} bytes left`, start);
    return n;
  }

  /** CompactSize length, then that many bytes. */
  compactBytes(rule: CompactRule = 'canonical'): Uint8Array {
    return this.bytes(this.compactSize(rule));
  }

  /** `fromwire_bool`: any byte but 0 or 1 fails the whole message. */
  bool(): boolean {
    const b = this.buf[this.take(1)]!;
    if (b > 1) this.fail(`bool must be 0 or 1, got ${b}`, this.pos - 1);
    return b === 1;
  }

  /** n bytes, copied: decoded values never alias the frame. */
  bytes(n: number): Uint8Array {
    const p = this.take(n);
    return this.buf.slice(p, p + n);
  }

  /** Moves past n bytes without reading them. */
  skip(n: number): void {
    this.take(n);
  }

  /** The next n bytes without consuming them or copying (for scanning; do not keep). */
  peek(n: number): Uint8Array {
    if (this.end - this.pos < n) this.take(n);
    return this.buf.subarray(this.pos, this.pos + n);
  }

  /** Whether the next bytes equal `b` (none consumed): a decoder reuses a value it has seen without copying it again. */
  nextEquals(b: Uint8Array): boolean {
    const p = this.pos;
    const n = b.length;
    if (this.end - p < n) return false;
    for (let i = 0; i < n; i++) if (this.buf[p + i] !== b[i]) return false;
    return true;
  }

  /** A reader over the next n bytes, which this reader skips. */
  sub(n: number): WireReader {
    const p = this.take(n);
    const r = new WireReader(this.buf, p, p + n);
    r.msgName = this.msgName;
    r.fieldName = this.fieldName;
    r.pointsAt = this.pointsAt;
    return r;
  }

  /** BOLT 1 BigSize (`common/bigsize.c` bigsize_get): non-minimal encodings fail. */
  bigsize(): bigint {
    const start = this.pos;
    const first = this.u8();
    if (first < 0xfd) return BigInt(first);
    let v: bigint;
    let min: bigint;
    if (first === 0xfd) {
      v = BigInt(this.u16());
      min = 0xfdn;
    } else if (first === 0xfe) {
      v = BigInt(this.u32());
      min = 0x10000n;
    } else {
      v = this.u64();
      min = 0x100000000n;
    }
    if (v < min) this.fail('bigsize is not minimally encoded', start);
    return v;
  }
}

const u32be = (b: Uint8Array, p: number): number => ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;

/** 2^53 / 2^32: below it, hi·2^32 + lo is an exact number, and one BigInt is made instead of three. */
const SAFE_HI = 0x200000;
const u64Of = (hi: number, lo: number): bigint => (hi < SAFE_HI ? BigInt(hi * 0x100000000 + lo) : (BigInt(hi) << 32n) | BigInt(lo));
