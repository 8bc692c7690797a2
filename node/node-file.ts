/**
 * The FilePort on Node `fs` (docs/design.md#firmware firmware/host): synchronous calls,
 * `fdatasync` on sync(), and the directory fsynced when a file (or the directory itself) is
 * created, so a new file's entry survives a power cut too. A file opened with `reserve` keeps
 * reserved space ahead of its content (docs/journal.md "Reserved space"): appends overwrite
 * fill the file already has, so their sync flushes data only.
 */
import { closeSync, constants, existsSync, fdatasync, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type FileDir, type FilePort, type OpenOptions, writeReserveFill } from '../log/file-port.js';

/**
 * How far a reserving file grows at a time: one write and sync of 256 KiB (~0.6 ms here) per
 * few hundred records of a session, against ~0.05 ms saved on each of their syncs.
 */
export const RESERVE_BYTES = 256 * 1024;

/** fsync of a directory (its entries): a file created or renamed in it survives a power cut. */
export function syncDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class NodeFile implements FilePort {
  readonly #fd: number;
  readonly #reserve: boolean;
  /** Where the content ends: appends go here (the file's size at opening, as the port's contract says). */
  #end: number;
  /** The file's size: the content, then reserved space. */
  #size: number;

  /** Opens (creating it if absent) the file at `name` for reading and writing. */
  constructor(readonly name: string, options: OpenOptions = {}) {
    const created = !existsSync(name);
    this.#fd = openSync(name, constants.O_RDWR | constants.O_CREAT, 0o600);
    if (created) syncDir(dirname(name));
    this.#reserve = options.reserve === true;
    this.#end = this.#size = fstatSync(this.#fd).size;
  }

  size(): number {
    return this.#size;
  }

  read(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, Math.min(length, this.#size - offset)));
    let done = 0;
    while (done < out.length) {
      const n = readSync(this.#fd, out, done, out.length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return out.subarray(0, done);
  }

  append(bytes: Uint8Array): void {
    const end = this.#end + bytes.length;
    let write = bytes;
    if (this.#reserve && end > this.#size) {
      // Past the reserved space: the bytes and a new stretch of fill in one write.
      write = new Uint8Array(Math.ceil(end / RESERVE_BYTES) * RESERVE_BYTES - this.#end);
      write.set(bytes);
      writeReserveFill(write, bytes.length, this.#end);
    }
    for (let done = 0; done < write.length; ) done += writeSync(this.#fd, write, done, write.length - done, this.#end + done);
    this.#size = Math.max(this.#size, this.#end + write.length);
    this.#end = end;
  }

  /** fdatasync: the data and whatever reading it back needs (the size, where it changed), not the times. */
  sync(): void {
    fdatasyncSync(this.#fd);
  }

  syncAsync(): Promise<void> {
    return new Promise((resolve, reject) => fdatasync(this.#fd, (e) => (e ? reject(e) : resolve())));
  }

  truncate(length: number): void {
    ftruncateSync(this.#fd, length);
    this.#end = this.#size = length;
  }

  close(): void {
    closeSync(this.#fd);
  }
}

export class NodeDir implements FileDir {
  /** The directory, created (with its parents, and durably) if absent. */
  constructor(readonly path: string) {
    if (!existsSync(path)) {
      mkdirSync(path, { recursive: true, mode: 0o700 });
      syncDir(dirname(path));
    }
  }

  open(name: string, options?: OpenOptions): NodeFile {
    return new NodeFile(join(this.path, name), options);
  }
}
