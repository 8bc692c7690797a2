/**
 * The audit's read of a device journal: unlike recovery (log/journal/journal.ts), which stops
 * at the first corrupt frame, it reports every bad frame by byte offset and carries on at the
 * next good one, so one damaged record does not hide the rest from the cross-check. It also
 * names, where the damaged payload still decodes, the record id the frame held. The newest
 * good snapshot (and its recent replies) is read too; what the device itself would make of
 * the journal is `Journal.open` on the same in-memory copy (audit/cli.ts, recoverJournal).
 */
import { checkFrame, FRAME_HEADER } from '../log/journal/frame.js';
import type { JournalFiles } from '../log/journal/journal.js';
import { reserveBeginsAt, reserveSuffixStart } from '../log/file-port.js';
import { decodeEntry, decodeStart, isSourced, isStart, type JournalRecord, type JournalStart, requestIdOf, type SourcedRecord } from '../log/journal/record.js';
import { type Snapshot, SnapshotSlots } from '../log/journal/snapshot-slots.js';
import { decodeSnapshotBody, type RecentReply } from '../projections/signer-state.js';

export interface BadFrame {
  readonly offset: number;
  readonly length: number;
  readonly reason: string;
  /** The id the damaged record seems to hold (its payload read without the CRC), if it decodes. */
  readonly id: bigint | undefined;
  /** True when no good frame follows: indistinguishable from a torn last write. */
  readonly tail: boolean;
}

export interface JournalScan {
  readonly file: string;
  readonly size: number;
  readonly start: JournalStart | undefined;
  readonly records: readonly { readonly offset: number; readonly record: JournalRecord }[];
  /** Sourced records (control commands, chain updates): not in the broker log. */
  readonly sourced: readonly { readonly offset: number; readonly record: SourcedRecord }[];
  readonly bad: readonly BadFrame[];
  /** Good frames whose payload is not a record (offset, why). */
  readonly undecodable: readonly { readonly offset: number; readonly reason: string }[];
  readonly snapshot: Snapshot | undefined;
  /** The snapshot's kept replies by id. */
  readonly snapshotReplies: ReadonlyMap<bigint, RecentReply>;
  readonly slotProblems: readonly string[];
}

/** Scans the whole journal, `onProgress(bytes done)` now and then. */
export function scanJournal(files: JournalFiles, onProgress?: (done: number) => void): JournalScan {
  const file = files.journal;
  const bytes = file.read(0, file.size());
  const records: { offset: number; record: JournalRecord }[] = [];
  const sourced: { offset: number; record: SourcedRecord }[] = [];
  const bad: BadFrame[] = [];
  const undecodable: { offset: number; reason: string }[] = [];
  let start: JournalStart | undefined;
  let offset = 0;
  let sinceProgress = 0;
  // Reserved space after the content (docs/journal.md "Reserved space") is neither records nor damage.
  const written = reserveSuffixStart(bytes);
  while (offset < bytes.length) {
    const check = checkFrame(bytes, offset);
    if (!check.ok) {
      if (reserveBeginsAt(bytes, offset)) break;
      let next = offset + 1;
      while (next + FRAME_HEADER < written && !checkFrame(bytes, next).ok) next++;
      const tail = next + FRAME_HEADER >= written;
      const end = tail ? written : next;
      bad.push({ offset, length: end - offset, reason: check.reason, id: requestIdOf(bytes.subarray(offset + FRAME_HEADER)), tail });
      offset = end;
      continue;
    }
    try {
      if (offset === 0 && isStart(check.payload)) start = decodeStart(check.payload);
      else {
        const entry = decodeEntry(check.payload);
        if (isSourced(entry)) sourced.push({ offset, record: entry });
        else records.push({ offset, record: entry });
      }
    } catch (e) {
      undecodable.push({ offset, reason: (e as Error).message });
    }
    offset += FRAME_HEADER + check.payload.length;
    if (onProgress && ++sinceProgress >= 1024) {
      sinceProgress = 0;
      onProgress(offset);
    }
  }
  onProgress?.(bytes.length);
  const { newest: snapshot, problems } = new SnapshotSlots(files.slots).read();
  const snapshotReplies = new Map<bigint, RecentReply>();
  if (snapshot) for (const r of decodeSnapshotBody(snapshot.body).recent) snapshotReplies.set(r.id, r);
  return { file: file.name, size: bytes.length, start, records, sourced, bad, undecodable, snapshot, snapshotReplies, slotProblems: problems };
}
