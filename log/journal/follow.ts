/**
 * The records of a scanned journal that its snapshot does not cover, handed on one at a time
 * as they are decoded (docs/journal.md "Recovery"): the caller folds each and keeps only what
 * it needs, so no record outlives its turn unless the caller keeps it. Pure: the caller reads
 * the file, cuts a torn tail and finishes a compaction this asks for.
 *
 * Every frame is decoded and checked (request ids strictly increase, sourced sequence numbers
 * increase per source), covered ones too. The journal must continue the snapshot (its start
 * marker names the same generation), or the one before it when a crash came between the
 * snapshot and compaction: then the covered records are its head, ending at the snapshot's
 * journal offset with its last id. A refusal found before the end is thrown only after every
 * frame has been decoded, so a journal that is both refused and undecodable names the same
 * offset whichever check runs first.
 */
import { JournalCorruptError, payloadAt } from './frame.js';
import { type EntryToFold, type JournalEntry, type JournalStart, decodeStart, isSourced, isStart } from './record.js';
import type { Snapshot } from './snapshot-slots.js';

/** Told each record after the snapshot, in journal order: its frame's offset and payload (a view into the scanned bytes). */
export type EntryVisitor<E extends EntryToFold = JournalEntry> = (entry: E, offset: number, payload: Uint8Array) => void;

/**
 * How a recovery decodes each record: whole (decodeEntry), or as the device's fold needs it
 * (decodeEntryToFold: its reply checked, not kept). Either throws on the same records.
 */
export type EntryDecoder<E extends EntryToFold> = (payload: Uint8Array) => E;

export interface Followed {
  /** The last request id handed on, or the snapshot's. */
  readonly lastId: bigint | undefined;
  /** Set when the snapshot covers the whole journal: the compaction to finish, and the note saying so. */
  readonly finishCompaction: string | undefined;
}

/**
 * Decodes the frames at `offsets` of `bytes` (a journal named `file` whose good length is
 * `end`), hands on those after `snapshot`, and checks the journal continues it. Throws
 * JournalCorruptError; what `visit` built from a journal that throws must be dropped.
 */
export function followJournal<E extends EntryToFold>(
  file: string,
  bytes: Uint8Array,
  offsets: readonly number[],
  end: number,
  snapshot: Snapshot | undefined,
  visit: EntryVisitor<E>,
  decode: EntryDecoder<E>,
): Followed {
  if (snapshot !== undefined && end === 0) {
    // A crash mid-compaction after the truncation reached the disk, before the marker did.
    return { lastId: snapshot.lastId, finishCompaction: `journal ${file}: empty after the snapshot of id ${snapshot.lastId}; compaction finished` };
  }
  const follow = new Follower(file, snapshot);
  for (const offset of offsets) {
    const payload = payloadAt(bytes, offset);
    if (offset === 0) {
      // Only the first frame may be a start marker; without one the journal follows no snapshot.
      const start = isStart(payload) ? decodeOrRefuse(file, offset, () => decodeStart(payload)) : undefined;
      follow.start(start);
      if (start !== undefined) continue;
    }
    const entry = decodeOrRefuse(file, offset, () => decode(payload));
    follow.check(entry, offset);
    if (follow.after(entry, offset)) visit(entry, offset, payload);
  }
  if (offsets.length === 0) follow.start(undefined);
  return follow.finish(end);
}

function decodeOrRefuse<T>(file: string, offset: number, decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    throw new JournalCorruptError(file, offset, `record does not decode: ${(e as Error).message}`);
  }
}

/** Where a covered head (crash between snapshot and compaction) stands while it is read. */
interface CoveredHead {
  readonly snapshot: Snapshot;
  /** The last request id among the covered records, or the start marker's. */
  lastCovered: bigint | undefined;
  /** Where the first record after the snapshot starts, once one is seen. */
  coveredEnd: number | undefined;
  /** Records (request and sourced) in the head. */
  covered: number;
}

class Follower {
  #lastId: bigint | undefined;
  #previous: bigint | undefined;
  readonly #seqs = new Map<string, bigint>();
  /** Why the journal is refused, thrown once every frame is decoded. */
  #refusal: JournalCorruptError | undefined;
  #head: CoveredHead | undefined;

  constructor(
    private readonly file: string,
    private readonly snapshot: Snapshot | undefined,
  ) {
    this.#lastId = snapshot?.lastId;
  }

  /** The start marker (or none): which snapshot the journal continues decides what is covered. */
  start(start: JournalStart | undefined): void {
    const { file, snapshot } = this;
    const follows = start?.generation ?? -1n;
    const have = snapshot?.generation ?? -1n;
    if (have === follows) {
      if (start !== undefined && start.lastId !== snapshot!.lastId) {
        this.#refusal = new JournalCorruptError(file, 0, `starts after id ${start.lastId}, its snapshot (generation ${have}) ends at id ${snapshot!.lastId}`);
      }
    } else if (have !== follows + 1n) {
      const missing = start === undefined ? 'no snapshot' : `the snapshot of generation ${follows} (last id ${start.lastId})`;
      this.#refusal = new JournalCorruptError(file, 0,
        `the journal continues ${missing} but the newest usable snapshot is ${snapshot ? `generation ${have}` : 'none'}: records would be missing`);
    } else {
      this.#head = { snapshot: snapshot!, lastCovered: start?.lastId, coveredEnd: undefined, covered: 0 };
    }
  }

  /** Ids strictly increase; a source's sequence numbers too. */
  check(entry: EntryToFold, offset: number): void {
    if (isSourced(entry)) {
      const last = this.#seqs.get(entry.source);
      if (last !== undefined && entry.seq <= last) {
        throw new JournalCorruptError(this.file, offset, `${entry.source} record ${entry.seq} after ${last} (sequence numbers must increase)`);
      }
      this.#seqs.set(entry.source, entry.seq);
    } else {
      if (this.#previous !== undefined && entry.id <= this.#previous) {
        throw new JournalCorruptError(this.file, offset, `record id ${entry.id} after id ${this.#previous} (ids must increase)`);
      }
      this.#previous = entry.id;
    }
  }

  /** Whether `entry` is to be handed on: after the snapshot, in a journal not refused. */
  after(entry: EntryToFold, offset: number): boolean {
    if (this.#refusal !== undefined) return false;
    const head = this.#head;
    if (head !== undefined && head.coveredEnd === undefined) {
      if (offset < head.snapshot.journalOffset) {
        if (!isSourced(entry)) head.lastCovered = entry.id;
        head.covered++;
        return false;
      }
      head.coveredEnd = offset;
      this.#checkHead(head);
      if (this.#refusal !== undefined) return false;
    }
    if (!isSourced(entry)) this.#lastId = entry.id;
    return true;
  }

  /** Throws the refusal found, if any; else what the caller is to do with the journal. */
  finish(end: number): Followed {
    const head = this.#head;
    let finishCompaction: string | undefined;
    if (this.#refusal === undefined && head !== undefined && head.coveredEnd === undefined) {
      head.coveredEnd = end;
      this.#checkHead(head);
      finishCompaction = `journal ${this.file}: ${head.covered} records already in the snapshot of id ${head.snapshot.lastId}; compaction finished`;
    }
    if (this.#refusal !== undefined) throw this.#refusal;
    return { lastId: this.#lastId, finishCompaction };
  }

  /** The snapshot covers what was written before it: the head up to its journal offset, holding its last id. */
  #checkHead(head: CoveredHead): void {
    const s = head.snapshot;
    if (head.coveredEnd !== s.journalOffset) {
      this.#refusal = new JournalCorruptError(this.file, head.coveredEnd!,
        `the records the snapshot of id ${s.lastId} covers end at offset ${head.coveredEnd}, the snapshot says ${s.journalOffset}`);
    } else if (head.lastCovered !== s.lastId) {
      this.#refusal = new JournalCorruptError(this.file, head.coveredEnd,
        `the records before the snapshot's offset ${s.journalOffset} end at id ${head.lastCovered ?? 'none'}, the snapshot says ${s.lastId}`);
    }
  }
}
