/**
 * The FilePort on the SD card through Moddable's `file` module (FAT over SPI). The module
 * has no fsync and no truncate: sync() closes and reopens the file (the FAT driver writes
 * data and directory entry on close); truncate() rewrites the kept prefix to a new file and
 * renames it over the old one (rare: a torn tail, a compaction, a snapshot slot).
 */
import { File } from 'file';
import type { FileDir, FilePort } from '../../log/file-port.js';

export class SdFile implements FilePort {
  #file: File;

  constructor(readonly name: string) {
    this.#file = new File(name, true);
  }

  size(): number {
    return this.#file.length;
  }

  read(offset: number, length: number): Uint8Array {
    const n = Math.max(0, Math.min(length, this.#file.length - offset));
    if (n === 0) return new Uint8Array(0);
    this.#file.position = offset;
    return new Uint8Array(this.#file.read(ArrayBuffer, n));
  }

  append(bytes: Uint8Array): void {
    this.#file.position = this.#file.length;
    this.#file.write(bytes.slice().buffer);
  }

  sync(): void {
    this.#file.close();
    this.#file = new File(this.name, true);
  }

  truncate(length: number): void {
    const kept = this.read(0, length);
    this.#file.close();
    const temporary = `${this.name}.tmp`;
    File.delete(temporary);
    const next = new File(temporary, true);
    if (kept.length) next.write(kept.slice().buffer);
    next.close();
    File.delete(this.name);
    File.rename(temporary, this.name.slice(this.name.lastIndexOf('/') + 1));
    this.#file = new File(this.name, true);
  }
}

export class SdDir implements FileDir {
  constructor(readonly path: string) {}

  open(name: string): SdFile {
    return new SdFile(`${this.path}/${name}`);
  }
}
