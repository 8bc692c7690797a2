/**
 * In-memory FilePort and FileDir for tests and property tests, with the faults a crash
 * or a failing SD card produces:
 * - `crash(keepUnsynced)`: everything after the last sync is lost, except (if the unsynced
 *   writes only appended) its first `keepUnsynced` bytes, i.e. a torn write at any byte;
 * - `tearLastWrite(keep)`: the last append keeps only its first `keep` bytes;
 * - `flipBit(offset, bit)`: one bit of the content flips (media corruption);
 * - `overwrite(offset, bytes)`: a region is zero-filled or overwritten (media corruption).
 */
import type { FileDir, FilePort } from './file-port.js';

export class MemoryFile implements FilePort {
  /** What reads see. */
  #content = new Uint8Array(0);
  /** What survives a crash: the content at the last sync. */
  #durable = new Uint8Array(0);
  /** Start and length of the last append. */
  #lastWrite: { start: number; length: number } | undefined;
  /** Counts of calls, for tests that check the write-ahead order. */
  syncs = 0;

  constructor(readonly name: string) {}

  size(): number {
    return this.#content.length;
  }

  read(offset: number, length: number): Uint8Array {
    return this.#content.slice(offset, Math.min(offset + length, this.#content.length));
  }

  append(bytes: Uint8Array): void {
    const next = new Uint8Array(this.#content.length + bytes.length);
    next.set(this.#content);
    next.set(bytes, this.#content.length);
    this.#lastWrite = { start: this.#content.length, length: bytes.length };
    this.#content = next;
  }

  sync(): void {
    this.#durable = this.#content.slice();
    this.syncs++;
  }

  /**
   * A sync that began when the file held `began` (a sync off the event loop) completes: those
   * bytes become durable if the file still begins with them; what was written since stays unsynced.
   */
  syncBegun(began: Uint8Array): void {
    if (began.length <= this.#durable.length || began.length > this.#content.length) return;
    for (let i = 0; i < began.length; i++) if (this.#content[i] !== began[i]) return;
    this.#durable = began.slice();
    this.syncs++;
  }

  truncate(length: number): void {
    this.#content = this.#content.slice(0, length);
    this.#lastWrite = undefined;
  }

  /** The bytes written but not yet synced, if the unsynced writes only appended. */
  get unsynced(): number {
    return this.#extendsDurable() ? this.#content.length - this.#durable.length : 0;
  }

  /** Loses what was not synced, keeping its first `keepUnsynced` bytes if it only appended. */
  crash(keepUnsynced = 0): void {
    const keep = this.#extendsDurable() ? Math.min(keepUnsynced, this.#content.length - this.#durable.length) : 0;
    this.#content = this.#content.slice(0, this.#durable.length + keep);
    this.#durable = this.#content.slice();
    this.#lastWrite = undefined;
  }

  /** Cuts the last append after its first `keep` bytes (durably: as found after a crash). */
  tearLastWrite(keep: number): void {
    const w = this.#lastWrite;
    if (w === undefined) throw new Error(`${this.name}: no append to tear`);
    if (keep < 0 || keep > w.length) throw new Error(`${this.name}: cannot keep ${keep} of a ${w.length}-byte write`);
    this.#content = this.#content.slice(0, w.start + keep);
    this.#durable = this.#content.slice();
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

  #extendsDurable(): boolean {
    const d = this.#durable;
    if (this.#content.length < d.length) return false;
    for (let i = 0; i < d.length; i++) if (this.#content[i] !== d[i]) return false;
    return true;
  }
}

export class MemoryDir implements FileDir {
  readonly files = new Map<string, MemoryFile>();

  open(name: string): MemoryFile {
    let file = this.files.get(name);
    if (file === undefined) {
      file = new MemoryFile(name);
      this.files.set(name, file);
    }
    return file;
  }

  /** A crash of the whole device: every file loses its unsynced writes. */
  crash(keepUnsynced = 0): void {
    for (const f of this.files.values()) f.crash(keepUnsynced);
  }
}
