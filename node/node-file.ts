/**
 * The FilePort on Node `fs` (docs/design.md#firmware firmware/host): synchronous calls, `fsync` on
 * sync(), and the directory fsynced when a file (or the directory itself) is created, so
 * a new file's entry survives a power cut too.
 */
import { closeSync, existsSync, fstatSync, fsync, fsyncSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FileDir, FilePort } from '../log/file-port.js';

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

  /** Opens (creating it if absent) the file at `name` for reading and appending. */
  constructor(readonly name: string) {
    const created = !existsSync(name);
    this.#fd = openSync(name, 'a+', 0o600);
    if (created) syncDir(dirname(name));
  }

  size(): number {
    return fstatSync(this.#fd).size;
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
    // O_APPEND ('a+'): every write goes to the end, whatever the position.
    let done = 0;
    while (done < bytes.length) done += writeSync(this.#fd, bytes, done, bytes.length - done);
  }

  sync(): void {
    fsyncSync(this.#fd);
  }

  syncAsync(): Promise<void> {
    return new Promise((resolve, reject) => fsync(this.#fd, (e) => (e ? reject(e) : resolve())));
  }

  truncate(length: number): void {
    ftruncateSync(this.#fd, length);
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

  open(name: string): NodeFile {
    return new NodeFile(join(this.path, name));
  }
}
