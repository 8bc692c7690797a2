/**
 * `WireWriter`: the one byte writer. Big-endian writes as CLN's `wire/towire.c` does them,
 * and the little-endian integers and CompactSize of Bitcoin's serialization.
 *
 * The buffer doubles when full (amortised O(1) per byte); `finish()` hands back a view of the
 * bytes written without copying. Integer writers reject values outside their type with a
 * `WireError` instead of silently truncating them.
 *
 * Integers are written byte by byte, not through a DataView, and the first buffer is 64 bytes:
 * V8 keeps a typed array of up to 64 bytes in its own heap (~0.07 µs to make) until something
 * asks for its ArrayBuffer, as a DataView does, which moves it out (~1-2 µs, what any larger
 * one costs). About half of the ~700 writers a recorded session makes stay within 64 bytes.
 */
import { putU32be, putU32le } from '../bytes.js';
import { WireError } from './errors.js';

const U64_MAX = 0xffffffffffffffffn;

export class WireWriter {
  private buf: Uint8Array;
  private len = 0;

  constructor(initialCapacity = 64) {
    this.buf = new Uint8Array(initialCapacity > 0 ? initialCapacity : 16);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.len;
  }

  /** Makes room for n more bytes and returns the offset where they go. */
  private reserve(n: number): number {
    const at = this.len;
    const need = at + n;
    if (need > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < need) cap *= 2;
      const grown = new Uint8Array(cap);
      grown.set(this.buf.subarray(0, at));
      this.buf = grown;
    }
    this.len = need;
    return at;
  }

  u8(v: number): void {
    checkUint(v, 0xff, 'u8');
    const at = this.reserve(1); // before reading this.buf: reserve may replace it
    this.buf[at] = v;
  }

  u16(v: number): void {
    checkUint(v, 0xffff, 'u16');
    const at = this.reserve(2);
    this.buf[at] = v >>> 8;
    this.buf[at + 1] = v;
  }

  u32(v: number): void {
    checkUint(v, 0xffffffff, 'u32');
    const at = this.reserve(4);
    putU32be(this.buf, at, v);
  }

  u64(v: bigint): void {
    if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) {
      throw new WireError(`u64 out of range: ${String(v)}`);
    }
    const at = this.reserve(8);
    putU32be(this.buf, at, Number(v >> 32n));
    putU32be(this.buf, at + 4, Number(v & 0xffffffffn));
  }

  /** Little-endian, as Bitcoin serializes integers. */
  u16le(v: number): void {
    checkUint(v, 0xffff, 'u16');
    const at = this.reserve(2);
    this.buf[at] = v;
    this.buf[at + 1] = v >>> 8;
  }

  u32le(v: number): void {
    checkUint(v, 0xffffffff, 'u32');
    const at = this.reserve(4);
    putU32le(this.buf, at, v);
  }

  u64le(v: bigint): void {
    if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) {
      throw new WireError(`u64 out of range: ${String(v)}`);
    }
    const at = this.reserve(8);
    putU32le(this.buf, at, Number(v & 0xffffffffn));
    putU32le(this.buf, at + 4, Number(v >> 32n));
  }

  /** Bitcoin's CompactSize, shortest form (Bitcoin Core's WriteCompactSize). */
  compactSize(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new WireError(`CompactSize out of range: ${String(v)}`);
    if (v < 0xfd) {
      this.u8(v);
    } else if (v <= 0xffff) {
      this.u8(0xfd);
      this.u16le(v);
    } else if (v <= 0xffffffff) {
      this.u8(0xfe);
      this.u32le(v);
    } else {
      this.u8(0xff);
      this.u64le(BigInt(v));
    }
  }

  /** CompactSize length, then the bytes. */
  compactBytes(b: Uint8Array): void {
    this.compactSize(b.length);
    this.bytes(b);
  }

  bool(v: boolean): void {
    if (typeof v !== 'boolean') throw new WireError(`bool expected, got ${typeof v}`);
    const at = this.reserve(1);
    this.buf[at] = v ? 1 : 0;
  }

  bytes(b: Uint8Array): void {
    if (!(b instanceof Uint8Array)) throw new WireError('Uint8Array expected');
    const at = this.reserve(b.length);
    this.buf.set(b, at);
  }

  /** BOLT 1 BigSize, minimally encoded (`common/bigsize.c` bigsize_put). */
  bigsize(v: bigint): void {
    if (v < 0n || v > U64_MAX) throw new WireError(`bigsize out of range: ${v}`);
    if (v < 0xfdn) {
      this.u8(Number(v));
    } else if (v <= 0xffffn) {
      this.u8(0xfd);
      this.u16(Number(v));
    } else if (v <= 0xffffffffn) {
      this.u8(0xfe);
      this.u32(Number(v));
    } else {
      this.u8(0xff);
      this.u64(v);
    }
  }

  /** The bytes written, as a view of the internal buffer (no copy; later writes leave it as is). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

function checkUint(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new WireError(`${what} out of range: ${String(v)}`);
  }
}
