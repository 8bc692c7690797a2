/**
 * The file port the device journal and its snapshot slots go through (docs/design.md#firmware `Journal`
 * port): synchronous, because SD-card files on the device and `fs` on the host both are.
 * Adapters: log/memory-file.ts (tests, with fault injection) and node/node-file.ts.
 *
 * Durability contract: bytes appended (or a truncation) are durable only once `sync()`
 * returns; a crash may lose anything after the last sync, or keep part of it.
 *
 * A port opened with `reserve` (FileDir.open) may keep reserved space after its content
 * (log/reserve.ts): appends then go at the content's end, not the file's. On opening, the
 * content's end is taken to be the file's (size() counts reserved space too), so the owner
 * finds where its content ends, as the journal's recovery does, and truncates there before
 * appending.
 */
export interface FilePort {
  /** What the file is called, for error messages (a path on the host). */
  readonly name: string;
  /** Current length in bytes. */
  size(): number;
  /** Bytes [offset, offset+length) (fewer if the file ends first). */
  read(offset: number, length: number): Uint8Array;
  /** Writes at the end of the content (of the file, unless it keeps reserved space). */
  append(bytes: Uint8Array): void;
  /** Makes everything written so far durable (fsync). */
  sync(): void;
  /**
   * sync() off the caller's thread, where the platform has one (Node: the thread pool), so the
   * caller goes on deciding while the disk works (SignerCore's commitLater). Resolves once
   * everything written before the call is durable; rejects where sync() would throw.
   */
  syncAsync?(): Promise<void>;
  /** Cuts the file to `length` bytes (reserved space too): the content ends there. */
  truncate(length: number): void;
}

export interface OpenOptions {
  /**
   * The file is appended to and synced often (the journal): the port may keep reserved space
   * after the content, so that a sync need not change the file's size (docs/journal.md
   * "Reserved space"). A hint: a port may ignore it.
   */
  readonly reserve?: boolean;
}

/** A directory of named files (the journal and its two snapshot slots). */
export interface FileDir {
  /** Opens `name`, creating it (durably: the directory entry too) if absent. */
  open(name: string, options?: OpenOptions): FilePort;
}

/** The whole content of a file. */
export const readWhole = (file: FilePort): Uint8Array => file.read(0, file.size());

/**
 * Replaces a file's content and syncs. Not atomic: a crash may leave it empty or torn, so
 * only content that carries its own check (a CRC'd snapshot slot) is written this way.
 */
export function replaceWhole(file: FilePort, bytes: Uint8Array): void {
  file.truncate(0);
  file.append(bytes);
  file.sync();
}
