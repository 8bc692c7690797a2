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

/**
 * What a sync does: `fdatasync` (the durability contract every journal relies on), or `none`
 * for throwaway files no crash needs (the local hsmd's warm start journals a test seed's
 * records hundreds of times at every start: an fsync each was seconds on a slow card).
 */
export type SyncMode = 'fdatasync' | 'none';

export class NodeFile implements FilePort {
  readonly #fd: number;
  readonly #syncs: boolean;
  /**
   * With reserved space, where the content ends and the file's size: this process is the
   * journal's only writer (its directory's lock). Undefined for a file that only appends.
   */
  readonly #reserved: { end: number; size: number } | undefined;

  /** Opens (creating it if absent) the file at `name` for reading and appending. */
  constructor(readonly name: string, options: OpenOptions = {}, syncs: SyncMode = 'fdatasync') {
    const created = !existsSync(name);
    this.#syncs = syncs === 'fdatasync';
    // A file that only appends is opened O_APPEND: every write goes to the end, whatever the
    // position and whoever else has it open. Reserved space is written over in place.
    this.#fd = openSync(name, options.reserve ? constants.O_RDWR | constants.O_CREAT : 'a+', 0o600);
    if (created && this.#syncs) syncDir(dirname(name));
    if (options.reserve) {
      const size = fstatSync(this.#fd).size;
      this.#reserved = { end: size, size };
    }
  }

  size(): number {
    return this.#reserved?.size ?? fstatSync(this.#fd).size;
  }

  read(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, Math.min(length, this.size() - offset)));
    let done = 0;
    while (done < out.length) {
      const n = readSync(this.#fd, out, done, out.length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return out.subarray(0, done);
  }

  append(bytes: Uint8Array): void {
    const r = this.#reserved;
    if (r === undefined) return this.#write(bytes, null);
    const end = r.end + bytes.length;
    let write = bytes;
    if (end > r.size) {
      // Past the reserved space: the bytes and a new stretch of fill in one write.
      write = new Uint8Array(Math.ceil(end / RESERVE_BYTES) * RESERVE_BYTES - r.end);
      write.set(bytes);
      writeReserveFill(write, bytes.length, r.end);
    }
    this.#write(write, r.end);
    r.size = Math.max(r.size, r.end + write.length);
    r.end = end;
  }

  /** Writes all of `bytes` at `position` (null: at the end, O_APPEND). */
  #write(bytes: Uint8Array, position: number | null): void {
    for (let done = 0; done < bytes.length; ) done += writeSync(this.#fd, bytes, done, bytes.length - done, position === null ? null : position + done);
  }

  /** fdatasync: the data and whatever reading it back needs (the size, where it changed), not the times. */
  sync(): void {
    if (this.#syncs) fdatasyncSync(this.#fd);
  }

  syncAsync(): Promise<void> {
    if (!this.#syncs) return Promise.resolve();
    return new Promise((resolve, reject) => fdatasync(this.#fd, (e) => (e ? reject(e) : resolve())));
  }

  truncate(length: number): void {
    ftruncateSync(this.#fd, length);
    if (this.#reserved) this.#reserved.end = this.#reserved.size = length;
  }

  close(): void {
    closeSync(this.#fd);
  }
}

export class NodeDir implements FileDir {
  /** The directory, created (with its parents, and durably unless `syncs` is `none`) if absent; its files sync as `syncs` says. */
  constructor(readonly path: string, private readonly syncs: SyncMode = 'fdatasync') {
    if (!existsSync(path)) {
      mkdirSync(path, { recursive: true, mode: 0o700 });
      if (syncs === 'fdatasync') syncDir(dirname(path));
    }
  }

  open(name: string, options?: OpenOptions): NodeFile {
    return new NodeFile(join(this.path, name), options, this.syncs);
  }
}
