/**
 * The device journal (docs/design.md#logs-and-projections): an append-only file of records (record.ts) in frames
 * (frame.ts), and two snapshot slots (snapshot-slots.ts), all through the FilePort.
 *
 * Opening recovers: the newest good snapshot; the journal scanned (a torn last frame cut
 * off and reported; damage refused, naming the byte offset, with nothing cut: frame.ts; given a
 * judge, a torn frame or blank tail after the last good frame is cut only as it says, after the
 * records are read); the records the snapshot
 * does not cover, for the caller to replay, handed on one at a time as they are decoded
 * (follow.ts) or all held (`open`). Record ids strictly increase.
 *
 * A snapshot covers every record journaled so far; compaction then restarts the journal
 * with a start marker naming that snapshot (generation and last id). Opening checks that
 * the journal continues the snapshot it recovered: if the snapshot the journal follows is
 * unusable (a bad slot), records would be missing, so it refuses instead. A crash between
 * the snapshot and compaction leaves covered records at the head of the journal: opening
 * skips them (they end at the snapshot's journal offset) and finishes the compaction.
 *
 * Besides request records the journal holds sourced records (record.ts): events from a
 * control command or a chain update, numbered per source. Their sequence numbers must
 * increase per source within the file; which numbers a source has used is its owner's
 * business (SignerCore keeps them in the snapshot body).
 */
import { concat } from '../../signer/bytes.js';
import type { FileDir, FilePort } from '../file-port.js';
import { type EntryDecoder, type EntryVisitor, followJournal } from './follow.js';
import { describeTail, encodeFrame, JournalCorruptError, readFrame, scanFrameOffsets, type TailJudge, type TornTail } from './frame.js';
import { type EntryToFold, type JournalEntry, type JournalRecord, type SourcedRecord, decodeEntry, encodeRecord, encodeSourced, encodeStart, isSourced } from './record.js';
import { type Snapshot, SnapshotSlots } from './snapshot-slots.js';

export const JOURNAL_FILE = 'journal';
export const SNAPSHOT_FILES = ['snapshot-a', 'snapshot-b'] as const;

export interface JournalFiles {
  readonly journal: FilePort;
  readonly slots: readonly [FilePort, FilePort];
}

export const openJournalFiles = (dir: FileDir): JournalFiles => ({
  // Synced after every state-changing request: reserved space spares each sync a size change.
  journal: dir.open(JOURNAL_FILE, { reserve: true }),
  slots: [dir.open(SNAPSHOT_FILES[0]), dir.open(SNAPSHOT_FILES[1])],
});

/** A request record as found by the scan, with where its frame starts. */
export interface ScannedRecord {
  readonly offset: number;
  readonly record: JournalRecord;
}

/** Any record (request or sourced) as found by the scan, with where its frame starts. */
export interface ScannedEntry {
  readonly offset: number;
  readonly entry: JournalEntry;
}

/** What opening found and did, besides the records. */
export interface RecoveryReport {
  /** The newest good snapshot, if any. */
  readonly snapshot: Snapshot | undefined;
  /** A torn last frame that was cut off. */
  readonly torn: TornTail | undefined;
  /** What recovery found and did, one line each, for the caller's log. */
  readonly notes: readonly string[];
}

export interface Recovery extends RecoveryReport {
  /** The request records after the snapshot (all of them without one), in journal order. */
  readonly records: readonly ScannedRecord[];
  /** Every record after the snapshot, request and sourced, in journal order: what to replay. */
  readonly entries: readonly ScannedEntry[];
}

export interface RecoverOptions {
  /**
   * Judges a torn frame or blank tail after the last good frame (high-water.ts tailAgainstMark).
   * Without it a torn frame is cut as the scan finds it, and a blank tail is damage, refused as any other.
   */
  readonly tail?: TailJudge;
}

export class Journal {
  #lastId: bigint | undefined;
  /** Where the content ends: the next frame's offset (the file may go on with reserved space). */
  #end: number;
  /** Frames appended since hold(), written together by write() or sync(). */
  #held: Uint8Array[] | undefined;

  private constructor(
    private readonly files: JournalFiles,
    private readonly slots: SnapshotSlots,
    lastId: bigint | undefined,
    end: number,
  ) {
    this.#lastId = lastId;
    this.#end = end;
  }

  /**
   * Opens and recovers, holding every record after the snapshot (tools and tests; the device
   * core folds them as they come: `recover`). Throws JournalCorruptError if the journal must
   * not be used.
   */
  static open(files: JournalFiles, options: RecoverOptions = {}): { journal: Journal; recovery: Recovery } {
    const entries: ScannedEntry[] = [];
    const records: ScannedRecord[] = [];
    const { journal, recovery } = Journal.recover(files, () => (entry, offset) => {
      entries.push({ offset, entry });
      if (!isSourced(entry)) records.push({ offset, record: entry });
    }, decodeEntry, options);
    return { journal, recovery: { ...recovery, records, entries } };
  }

  /**
   * Opens and recovers: `begin` is told the snapshot found, then the visitor it returns each
   * record after it as `decode` makes it (follow.ts), in journal order. Throws JournalCorruptError
   * if the journal must not be used; what the visitor was told by then must be dropped. A torn
   * frame or blank tail after the last good frame is cut only if `options.tail`, if given, judges
   * it a torn write.
   */
  static recover<E extends EntryToFold>(
    files: JournalFiles,
    begin: (snapshot: Snapshot | undefined) => EntryVisitor<E>,
    decode: EntryDecoder<E>,
    options: RecoverOptions = {},
  ): { journal: Journal; recovery: RecoveryReport } {
    const slots = new SnapshotSlots(files.slots);
    const { newest: snapshot, problems } = slots.read();
    const notes = [...problems];
    const file = files.journal;
    const bytes = file.read(0, file.size());
    const scan = scanFrameOffsets(file.name, bytes, { blankTail: options.tail !== undefined });
    // A tail to judge is cut only once judged, which needs the last id: the file stays as it is till then.
    const tail = options.tail && (scan.blankTail ?? scan.torn);
    if (scan.end < bytes.length && tail === undefined) {
      // Reserved space, or (no judge) a torn last write: cut, so appends go where the content ends.
      file.truncate(scan.end);
      file.sync();
    }
    const { lastId, finishCompaction } = followJournal(file.name, bytes, scan.offsets, scan.end, snapshot, begin(snapshot), decode);
    let torn = scan.torn;
    if (tail !== undefined) {
      const why = options.tail!(file.name, tail, lastId);
      file.truncate(scan.end);
      file.sync();
      torn = { offset: tail.offset, length: tail.length, reason: scan.torn ? `${scan.torn.reason}; ${why}` : `blank after the last good frame; ${why}` };
    }
    if (torn) {
      const what = scan.blankTail ? describeTail(scan.blankTail) : `${torn.length} bytes`;
      notes.push(`journal ${file.name}: torn last write of ${what} at offset ${torn.offset} (${torn.reason}); truncated`);
    }
    const journal = new Journal(files, slots, lastId, scan.end);
    if (finishCompaction !== undefined) {
      journal.#compact(snapshot!);
      notes.push(finishCompaction);
    }
    return { journal, recovery: { snapshot, torn, notes } };
  }

  /** The id of the last record journaled (or covered by the snapshot). */
  get lastId(): bigint | undefined {
    return this.#lastId;
  }

  /**
   * The request record whose frame starts at `offset`, read back from the file (one recovery
   * handed on, before the next snapshot compacts the journal). Throws JournalCorruptError if
   * the frame no longer checks or holds no request record.
   */
  readRecord(offset: number): JournalRecord {
    const file = this.files.journal;
    const payload = readFrame(file, offset);
    let entry: JournalEntry;
    try {
      entry = decodeEntry(payload);
    } catch (e) {
      throw new JournalCorruptError(file.name, offset, `record read back does not decode: ${(e as Error).message}`);
    }
    if (isSourced(entry)) throw new JournalCorruptError(file.name, offset, `a ${entry.source} record where a request record was`);
    return entry;
  }

  /** Appends a request record; durable only after sync(). Returns its encoding (the frame's payload). */
  append(record: JournalRecord): Uint8Array {
    if (this.#lastId !== undefined && record.id <= this.#lastId) {
      throw new RangeError(`journal: record id ${record.id} is not after the last id ${this.#lastId}`);
    }
    const payload = encodeRecord(record);
    this.#frame(encodeFrame(payload));
    this.#lastId = record.id;
    return payload;
  }

  /** Appends a sourced record (its seq is the caller's to keep increasing); durable only after sync(). Returns its encoding. */
  appendSourced(record: SourcedRecord): Uint8Array {
    const payload = encodeSourced(record);
    this.#frame(encodeFrame(payload));
    return payload;
  }

  #frame(frame: Uint8Array): void {
    this.#end += frame.length;
    if (this.#held) this.#held.push(frame);
    else this.files.journal.append(frame);
  }

  /** Appends from now on stay in memory until write() or sync(): a batch's records in one write. */
  hold(): void {
    this.#held ??= [];
  }

  /** Writes the held appends to the file in one write (durable only after a sync), and stops holding. */
  write(): void {
    const held = this.#held;
    this.#held = undefined;
    if (held === undefined || held.length === 0) return;
    this.files.journal.append(held.length === 1 ? held[0]! : concat(...held));
  }

  sync(): void {
    this.write();
    this.files.journal.sync();
  }

  /** The file can sync off the event loop (FilePort.syncAsync). */
  get syncsOffLoop(): boolean {
    return this.files.journal.syncAsync !== undefined;
  }

  /** sync() off the event loop; only where syncsOffLoop. */
  syncAsync(): Promise<void> {
    this.write();
    return this.files.journal.syncAsync!();
  }

  /**
   * Starts an empty journal at a snapshot made elsewhere (a restore from the mirror,
   * docs/journal.md "Restore"): the slot, then the start marker naming it.
   */
  install(lastId: bigint, body: Uint8Array): Snapshot {
    if (this.#lastId !== undefined || this.#end > 0) throw new RangeError('journal: a snapshot is installed only into an empty journal');
    const snapshot = this.slots.write(lastId, 0, body);
    this.#compact(snapshot);
    this.#lastId = lastId;
    return snapshot;
  }

  /**
   * Writes a snapshot covering every record so far (`body` is the caller's encoding of the
   * state they fold to), then compacts: the journal restarts empty after its id. Needs a
   * request record (the slot names the last id).
   */
  snapshot(body: Uint8Array): Snapshot {
    if (this.#lastId === undefined) throw new RangeError('journal: nothing to snapshot (no request record yet)');
    this.sync();
    const snapshot = this.slots.write(this.#lastId, this.#end, body);
    this.#compact(snapshot);
    return snapshot;
  }

  /** Restarts the journal after `snapshot`: only its start marker remains. */
  #compact(snapshot: Snapshot): void {
    const journal = this.files.journal;
    journal.truncate(0);
    const start = encodeFrame(encodeStart({ generation: snapshot.generation, lastId: snapshot.lastId }));
    journal.append(start);
    journal.sync();
    this.#end = start.length;
  }
}
