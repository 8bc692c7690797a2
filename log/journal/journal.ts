/**
 * The device journal (docs/design.md#logs-and-projections): an append-only file of records (record.ts) in frames
 * (frame.ts), and two snapshot slots (snapshot-slots.ts), all through the FilePort.
 *
 * Opening recovers: the newest good snapshot; the journal scanned (a torn last frame cut
 * off and reported; damage refused, naming the byte offset, with nothing cut: frame.ts); the records the snapshot
 * does not cover, for the caller to replay. Record ids strictly increase.
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
import type { FileDir, FilePort } from '../file-port.js';
import { JournalCorruptError, encodeFrame, payloadAt, scanFrameOffsets, type TornTail } from './frame.js';
import { type JournalEntry, type JournalRecord, type JournalStart, type SourcedRecord, decodeEntry, decodeStart, encodeRecord, encodeSourced, encodeStart, isSourced, isStart } from './record.js';
import { type Snapshot, SnapshotSlots } from './snapshot-slots.js';

export const JOURNAL_FILE = 'journal';
export const SNAPSHOT_FILES = ['snapshot-a', 'snapshot-b'] as const;

export interface JournalFiles {
  readonly journal: FilePort;
  readonly slots: readonly [FilePort, FilePort];
}

export const openJournalFiles = (dir: FileDir): JournalFiles => ({
  journal: dir.open(JOURNAL_FILE),
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

export interface Recovery {
  /** The newest good snapshot, if any. */
  readonly snapshot: Snapshot | undefined;
  /** The request records after the snapshot (all of them without one), in journal order. */
  readonly records: readonly ScannedRecord[];
  /** Every record after the snapshot, request and sourced, in journal order: what to replay. */
  readonly entries: readonly ScannedEntry[];
  /** A torn last frame that was cut off. */
  readonly torn: TornTail | undefined;
  /** What recovery found and did, one line each, for the caller's log. */
  readonly notes: readonly string[];
}

export class Journal {
  #lastId: bigint | undefined;

  private constructor(
    private readonly files: JournalFiles,
    private readonly slots: SnapshotSlots,
    lastId: bigint | undefined,
  ) {
    this.#lastId = lastId;
  }

  /** Opens and recovers; throws JournalCorruptError if the journal must not be used. */
  static open(files: JournalFiles): { journal: Journal; recovery: Recovery } {
    const slots = new SnapshotSlots(files.slots);
    const { newest: snapshot, problems } = slots.read();
    const notes = [...problems];
    const file = files.journal;
    const bytes = file.read(0, file.size());
    const scan = scanFrameOffsets(file.name, bytes);
    if (scan.torn) {
      // A torn last write (never acknowledged: frame.ts tells it from damage): cut it, log it.
      file.truncate(scan.end);
      file.sync();
      notes.push(`journal ${file.name}: torn last write of ${scan.torn.length} bytes at offset ${scan.torn.offset} (${scan.torn.reason}); truncated`);
    }
    let start: JournalStart | undefined;
    const scanned: ScannedEntry[] = [];
    let previous: bigint | undefined;
    const seqs = new Map<string, bigint>();
    for (const offset of scan.offsets) {
      const payload = payloadAt(bytes, offset);
      let entry: JournalEntry;
      try {
        if (offset === 0 && isStart(payload)) {
          start = decodeStart(payload);
          continue;
        }
        entry = decodeEntry(payload);
      } catch (e) {
        throw new JournalCorruptError(file.name, offset, `record does not decode: ${(e as Error).message}`);
      }
      if (isSourced(entry)) {
        const last = seqs.get(entry.source);
        if (last !== undefined && entry.seq <= last) {
          throw new JournalCorruptError(file.name, offset, `${entry.source} record ${entry.seq} after ${last} (sequence numbers must increase)`);
        }
        seqs.set(entry.source, entry.seq);
      } else {
        if (previous !== undefined && entry.id <= previous) {
          throw new JournalCorruptError(file.name, offset, `record id ${entry.id} after id ${previous} (ids must increase)`);
        }
        previous = entry.id;
      }
      scanned.push({ offset, entry });
    }
    const journal = new Journal(files, slots, snapshot?.lastId);
    const entries = journal.#afterSnapshot(snapshot, start, scanned, scan.end, notes);
    const records = requestRecords(entries);
    journal.#lastId = records.at(-1)?.record.id ?? snapshot?.lastId;
    return { journal, recovery: { snapshot, records, entries, torn: scan.torn, notes } };
  }

  /** The id of the last record journaled (or covered by the snapshot). */
  get lastId(): bigint | undefined {
    return this.#lastId;
  }

  /** Appends a request record; durable only after sync(). */
  append(record: JournalRecord): void {
    if (this.#lastId !== undefined && record.id <= this.#lastId) {
      throw new RangeError(`journal: record id ${record.id} is not after the last id ${this.#lastId}`);
    }
    this.files.journal.append(encodeFrame(encodeRecord(record)));
    this.#lastId = record.id;
  }

  /** Appends a sourced record (its seq is the caller's to keep increasing); durable only after sync(). */
  appendSourced(record: SourcedRecord): void {
    this.files.journal.append(encodeFrame(encodeSourced(record)));
  }

  sync(): void {
    this.files.journal.sync();
  }

  /**
   * Starts an empty journal at a snapshot made elsewhere (a restore from the mirror,
   * docs/journal.md "Restore"): the slot, then the start marker naming it.
   */
  install(lastId: bigint, body: Uint8Array): Snapshot {
    if (this.#lastId !== undefined || this.files.journal.size() > 0) throw new RangeError('journal: a snapshot is installed only into an empty journal');
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
    const journal = this.files.journal;
    journal.sync();
    const snapshot = this.slots.write(this.#lastId, journal.size(), body);
    this.#compact(snapshot);
    return snapshot;
  }

  /** Restarts the journal after `snapshot`: only its start marker remains. */
  #compact(snapshot: Snapshot): void {
    const journal = this.files.journal;
    journal.truncate(0);
    journal.append(encodeFrame(encodeStart({ generation: snapshot.generation, lastId: snapshot.lastId })));
    journal.sync();
  }

  /**
   * The records the snapshot does not cover. The journal must continue the snapshot (its
   * start marker names the same generation), or the one before it when a crash came
   * between the snapshot and compaction: then the covered records are its head, ending
   * at the snapshot's journal offset.
   */
  #afterSnapshot(
    snapshot: Snapshot | undefined,
    start: JournalStart | undefined,
    scanned: readonly ScannedEntry[],
    end: number,
    notes: string[],
  ): readonly ScannedEntry[] {
    const file = this.files.journal;
    if (snapshot !== undefined && end === 0) {
      // A crash mid-compaction after the truncation reached the disk, before the marker did.
      this.#compact(snapshot);
      notes.push(`journal ${file.name}: empty after the snapshot of id ${snapshot.lastId}; compaction finished`);
      return [];
    }
    const follows = start?.generation ?? -1n;
    const have = snapshot?.generation ?? -1n;
    if (have === follows) {
      if (start !== undefined && start.lastId !== snapshot!.lastId) {
        throw new JournalCorruptError(file.name, 0, `starts after id ${start.lastId}, its snapshot (generation ${have}) ends at id ${snapshot!.lastId}`);
      }
      return scanned;
    }
    if (have !== follows + 1n) {
      const missing = start === undefined ? 'no snapshot' : `the snapshot of generation ${follows} (last id ${start.lastId})`;
      throw new JournalCorruptError(file.name, 0,
        `the journal continues ${missing} but the newest usable snapshot is ${snapshot ? `generation ${have}` : 'none'}: records would be missing`);
    }
    const s = snapshot!;
    // The snapshot covers what was written before it: the head up to its journal offset,
    // which must hold its last id and end on a frame boundary.
    const firstNew = scanned.findIndex((r) => r.offset >= s.journalOffset);
    const covered = firstNew === -1 ? scanned.length : firstNew;
    const coveredEnd = covered === scanned.length ? end : scanned[covered]!.offset;
    if (coveredEnd !== s.journalOffset) {
      throw new JournalCorruptError(file.name, coveredEnd,
        `the records the snapshot of id ${s.lastId} covers end at offset ${coveredEnd}, the snapshot says ${s.journalOffset}`);
    }
    const lastCovered = requestRecords(scanned.slice(0, covered)).at(-1)?.record.id ?? start?.lastId;
    if (lastCovered !== s.lastId) {
      throw new JournalCorruptError(file.name, coveredEnd,
        `the records before the snapshot's offset ${s.journalOffset} end at id ${lastCovered ?? 'none'}, the snapshot says ${s.lastId}`);
    }
    if (covered < scanned.length) return scanned.slice(covered);
    this.#compact(s);
    notes.push(`journal ${file.name}: ${covered} records already in the snapshot of id ${s.lastId}; compaction finished`);
    return [];
  }
}

/** The request records among `entries`, in order. */
function requestRecords(entries: readonly ScannedEntry[]): ScannedRecord[] {
  const records: ScannedRecord[] = [];
  for (const { offset, entry } of entries) if (!isSourced(entry)) records.push({ offset, record: entry });
  return records;
}
