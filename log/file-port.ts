/**
 * The file port the device journal and its snapshot slots go through (docs/design.md#firmware `Journal`
 * port): synchronous, because SD-card files on the device and `fs` on the host both are.
 * Adapters: log/memory-file.ts (tests, with fault injection) and node/node-file.ts.
 *
 * Durability contract: bytes appended (or a truncation) are durable only once `sync()`
 * returns; a crash may lose anything after the last sync, or keep part of it.
 *
 * A port opened with `reserve` (FileDir.open) may keep reserved space after its content (its
 * fill is below: reserveFillAt): appends then go at the content's end, not the file's. On
 * opening, the content's end is taken to be the file's (size() counts reserved space too), so
 * the owner finds where its content ends, as the journal's recovery does, and truncates there
 * before appending.
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

/*
 * Reserved space (docs/journal.md "Reserved space"): a port opened with `reserve` may write
 * space ahead of its content, filled with the reserve fill, so that an append overwrites bytes
 * the file already has and its sync flushes data only, not the file's size and block map as
 * well. Readers that see the fill (recovery after a crash, another process) tell it from
 * content and from damage: byte i of reserved space is 0xa0 + (i mod 16), so it is never
 * zeros, never 0xff, and four of its bytes never make a frame's length field (≥ 0xa0000000,
 * above the largest frame).
 */

/** The reserve fill's byte at file offset `offset`. */
export const reserveFillAt = (offset: number): number => 0xa0 + (offset & 15);

/** One period of the fill: 16 bytes of it starting anywhere say "reserved", not content, with certainty. */
export const RESERVE_PERIOD = 16;

/** Writes the fill into `bytes[from..]`, whose byte 0 lies at file offset `fileOffset`. */
export function writeReserveFill(bytes: Uint8Array, from: number, fileOffset: number): void {
  for (let i = from; i < bytes.length; i++) bytes[i] = reserveFillAt(fileOffset + i);
}

/** True if `bytes[from, to)` (file offsets, `bytes` being the file from offset 0) is all fill. */
export function isReserveFill(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== reserveFillAt(i)) return false;
  return true;
}

/** Where the longest run of fill that ends the file begins (`bytes.length` if it ends in none). */
export function reserveSuffixStart(bytes: Uint8Array): number {
  let i = bytes.length;
  while (i > 0 && bytes[i - 1] === reserveFillAt(i - 1)) i--;
  return i;
}

/** True if reserved space begins at `offset`: a period of fill there, or fill to the end of a shorter file. */
export const reserveBeginsAt = (bytes: Uint8Array, offset: number): boolean =>
  offset < bytes.length && isReserveFill(bytes, offset, Math.min(bytes.length, offset + RESERVE_PERIOD));
