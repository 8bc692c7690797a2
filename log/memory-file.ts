/**
 * In-memory FilePort and FileDir for tests and property tests, with the faults a crash
 * or a failing SD card produces:
 * - `crash(keepUnsynced)`: everything after the last sync is lost, except (if the unsynced
 *   writes only appended) its first `keepUnsynced` bytes, i.e. a torn write at any byte;
 * - `crashKeepingSize(keep, blank)`: the size the unsynced appends gave the file reached the
 *   disk, their data only up to `keep` bytes, so the rest reads blank: zeros, or 0xff on erased
 *   sectors (FAT on an SD card, docs/journal.md "Recovery");
 * - `tearLastWrite(keep)`: the last append keeps only its first `keep` bytes;
 * - `flipBit(offset, bit)`: one bit of the content flips (media corruption);
 * - `overwrite(offset, bytes)`: a region is zero-filled or overwritten (media corruption).
 * A file of a MemoryDir made with `reserve` keeps reserved space as node/node-file.ts does
 * (docs/journal.md "Reserved space"), in stretches of that many bytes; what a crash keeps of
 * the unsynced appends then lies over the fill that was durable.
 */
import { type FileDir, type FilePort, type OpenOptions, writeReserveFill } from './file-port.js';

export class MemoryFile implements FilePort {
  /** What reads see: the content, then any reserved space. */
  #content: Uint8Array = new Uint8Array(0);
  /** Where the content ends: appends go here (the whole file after a crash, as on opening). */
  #end = 0;
  /** What survives a crash: the file at the last sync, and where its content ended. */
  #durable: Uint8Array = new Uint8Array(0);
  #durableEnd = 0;
  /** The last append: where, how long, and the bytes it wrote over (reserved space). */
  #lastWrite: { start: number; length: number; over: Uint8Array; grew: boolean } | undefined;
  /** Counts of calls, for tests that check the write-ahead order. */
  syncs = 0;

  /** `reserve`: the stretch reserved space grows by (0: none). */
  constructor(readonly name: string, private readonly reserve = 0) {}

  size(): number {
    return this.#content.length;
  }

  /** Where the content ends (the next append's offset). */
  get contentEnd(): number {
    return this.#end;
  }

  read(offset: number, length: number): Uint8Array {
    return this.#content.slice(offset, Math.min(offset + length, this.#content.length));
  }

  append(bytes: Uint8Array): void {
    const start = this.#end;
    const end = start + bytes.length;
    const grew = end > this.#content.length;
    const over = this.#content.slice(start, end);
    if (grew) {
      const size = this.reserve > 0 ? Math.ceil(end / this.reserve) * this.reserve : end;
      const next = new Uint8Array(size);
      next.set(this.#content);
      writeReserveFill(next, this.#content.length, 0);
      this.#content = next;
    }
    this.#content.set(bytes, start);
    this.#end = end;
    this.#lastWrite = { start, length: bytes.length, over, grew };
  }

  sync(): void {
    this.#durable = this.#content.slice();
    this.#durableEnd = this.#end;
    this.syncs++;
  }

  /**
   * A sync that began when the file held `began` (a sync off the event loop) completes: those
   * bytes become durable if the file still begins with them; what was written since stays unsynced.
   */
  syncBegun(began: Uint8Array): void {
    if (this.reserve > 0) throw new Error(`${this.name}: syncBegun models files without reserved space`);
    if (began.length <= this.#durable.length || began.length > this.#content.length) return;
    for (let i = 0; i < began.length; i++) if (this.#content[i] !== began[i]) return;
    this.#durable = began.slice();
    this.#durableEnd = began.length;
    this.syncs++;
  }

  truncate(length: number): void {
    this.#content = this.#content.slice(0, length);
    this.#end = this.#content.length;
    this.#lastWrite = undefined;
  }

  /** The bytes appended but not yet synced, if the unsynced writes only appended. */
  get unsynced(): number {
    return this.#extendsDurable() ? this.#end - this.#durableEnd : 0;
  }

  /**
   * Loses what was not synced, keeping the first `keepUnsynced` bytes written after the
   * durable content (over its reserved space, or past the end) if the unsynced writes only appended.
   */
  crash(keepUnsynced = 0): void {
    // A truncation since the sync is kept as the disk may have kept it, without what followed past the durable length.
    if (!this.#extendsDurable()) return this.#reopenAs(this.#content.slice(0, this.#durable.length));
    const from = this.#durableEnd;
    const keep = Math.min(keepUnsynced, this.#content.length - from);
    const after = new Uint8Array(Math.max(this.#durable.length, from + keep));
    after.set(this.#durable);
    after.set(this.#content.subarray(from, from + keep), from);
    this.#reopenAs(after);
  }

  /**
   * A crash that keeps the size the unsynced appends gave the file and only the first `keep` of
   * their bytes; the rest reads `blank` (a file without reserved space).
   */
  crashKeepingSize(keep = 0, blank: 0x00 | 0xff = 0x00): void {
    if (this.reserve > 0) throw new Error(`${this.name}: crashKeepingSize models files without reserved space`);
    if (!this.#extendsDurable()) return this.crash();
    const after = new Uint8Array(this.#end).fill(blank);
    after.set(this.#durable);
    after.set(this.#content.subarray(this.#durableEnd, Math.min(this.#end, this.#durableEnd + keep)), this.#durableEnd);
    this.#reopenAs(after);
  }

  /** Cuts the last append after its first `keep` bytes (durably: as found after a crash). */
  tearLastWrite(keep: number): void {
    const w = this.#lastWrite;
    if (w === undefined) throw new Error(`${this.name}: no append to tear`);
    if (keep < 0 || keep > w.length) throw new Error(`${this.name}: cannot keep ${keep} of a ${w.length}-byte write`);
    // The write's lost part leaves what it wrote over; if it grew the file, the file ends there.
    const rest = w.grew ? w.over.subarray(keep) : this.#content.subarray(w.start + keep);
    const after = new Uint8Array(w.start + keep + rest.length);
    after.set(this.#content.subarray(0, w.start + keep));
    after.set(w.over.subarray(keep, keep + rest.length), w.start + keep);
    if (!w.grew) after.set(this.#content.subarray(w.start + w.length), w.start + w.length);
    this.#reopenAs(after);
  }

  /** The file as found on opening after a crash: durable, its whole length taken for content. */
  #reopenAs(content: Uint8Array): void {
    this.#content = content;
    this.#end = this.#durableEnd = content.length;
    this.#durable = content.slice();
    this.#lastWrite = undefined;
  }

  /** Flips bit `bit` (0..7) of the byte at `offset`, durably. */
  flipBit(offset: number, bit = 0): void {
    if (offset < 0 || offset >= this.#content.length) throw new Error(`${this.name}: offset ${offset} outside ${this.#content.length} bytes`);
    this.#content[offset]! ^= 1 << bit;
    this.#durable = this.#content.slice();
  }

  /** Overwrites the content from `offset` with `bytes` (cut at the end of the file), durably. */
  overwrite(offset: number, bytes: Uint8Array): void {
    if (offset < 0 || offset >= this.#content.length) throw new Error(`${this.name}: offset ${offset} outside ${this.#content.length} bytes`);
    this.#content.set(bytes.subarray(0, this.#content.length - offset), offset);
    this.#durable = this.#content.slice();
  }

  /** True if the content still begins with the durable content: only appends since the sync. */
  #extendsDurable(): boolean {
    const d = this.#durableEnd;
    if (this.#end < d) return false;
    for (let i = 0; i < d; i++) if (this.#content[i] !== this.#durable[i]) return false;
    return true;
  }
}

export class MemoryDir implements FileDir {
  readonly files = new Map<string, MemoryFile>();

  /** `reserve`: files opened with the reserve hint keep reserved space in stretches of this many bytes. */
  constructor(private readonly options: { readonly reserve?: number } = {}) {}

  open(name: string, options?: OpenOptions): MemoryFile {
    let file = this.files.get(name);
    if (file === undefined) {
      file = new MemoryFile(name, options?.reserve ? (this.options.reserve ?? 0) : 0);
      this.files.set(name, file);
    }
    return file;
  }

  /** A crash of the whole device: every file loses its unsynced writes. */
  crash(keepUnsynced = 0): void {
    for (const f of this.files.values()) f.crash(keepUnsynced);
  }
}
