/**
 * Replay (docs/design.md#logs-and-projections: fold from the start or from a snapshot) of both logs into the views:
 * - the broker's LevelDB log (`BrokerLog.read(from)` yields what `replayBrokerLog` takes):
 *   channel timelines, per-client views and request statistics in one pass. Views are plain
 *   values: keep one and resume with `log.read(views.nextSeq)`; records already folded are
 *   skipped, and a seq skipped in the input is kept in `gaps` (the log never has holes, so
 *   a gap means records were removed);
 * - a device journal (its `Recovery`, or records): the SignerState from the snapshot (or from
 *   the start), and the journal's timelines and statistics. A compacted journal's history
 *   before its snapshot survives only as state: the views cover the records after `since`.
 *   Sourced records (control commands, chain updates) fold into the state only; the
 *   timelines and statistics are of requests.
 */
import type { Recovery, ScannedEntry, ScannedRecord } from '../log/journal/journal.js';
import { isSourced, type JournalEntry } from '../log/journal/record.js';
import { initialState, type SignerState } from '../signer/state.js';
import { type List, push } from './chain.js';
import { emptyTimeline, timelineFromJournal, timelineFromLog, type TimelineView } from './channel-timeline.js';
import { clientViewFromLog, type ClientView, emptyClientView } from './client-view.js';
import type { StoredLogRecord } from './records.js';
import { DEFAULT_BUCKET_MS, emptyJournalStats, emptyRequestStats, journalStatsFromRecord, type JournalStats, requestStatsFromLog, type RequestStats } from './request-stats.js';
import { decodeSnapshotBody, replayEvents } from './signer-state.js';

export interface BrokerViews {
  readonly timeline: TimelineView;
  readonly clients: ClientView;
  readonly stats: RequestStats;
  /** The seq of the next record to fold. */
  readonly nextSeq: bigint;
  /** Seqs missing from the records folded: [from, to). */
  readonly gaps: List<{ readonly from: bigint; readonly to: bigint }>;
}

export const emptyBrokerViews = (bucketMs = DEFAULT_BUCKET_MS): BrokerViews => ({
  timeline: emptyTimeline,
  clients: emptyClientView,
  stats: emptyRequestStats(bucketMs),
  nextSeq: 0n,
  gaps: undefined,
});

/** Folds one broker-log record into every view (unchanged if its seq was folded already). */
export function brokerViewsFromLog(v: BrokerViews, stored: StoredLogRecord): BrokerViews {
  if (stored.seq < v.nextSeq) return v;
  return {
    timeline: timelineFromLog(v.timeline, stored),
    clients: clientViewFromLog(v.clients, stored),
    stats: requestStatsFromLog(v.stats, stored),
    nextSeq: stored.seq + 1n,
    gaps: stored.seq > v.nextSeq ? push(v.gaps, { from: v.nextSeq, to: stored.seq }) : v.gaps,
  };
}

/** Folds broker-log records (e.g. `log.read()`, or `log.read(from.nextSeq)` to resume). */
export async function replayBrokerLog(
  records: AsyncIterable<StoredLogRecord> | Iterable<StoredLogRecord>,
  from: BrokerViews = emptyBrokerViews(),
): Promise<BrokerViews> {
  let views = from;
  for await (const stored of records) views = brokerViewsFromLog(views, stored);
  return views;
}

type JournalInput = Recovery | Iterable<JournalEntry | ScannedRecord | ScannedEntry>;

const isRecovery = (input: JournalInput): input is Recovery => 'entries' in input && 'notes' in input;
const entryOf = (r: JournalEntry | ScannedRecord | ScannedEntry): JournalEntry => ('record' in r ? r.record : 'entry' in r ? r.entry : r);

/** Every record, request and sourced, in journal order. */
function* journalEntries(input: JournalInput): Generator<JournalEntry> {
  const items: Iterable<JournalEntry | ScannedRecord | ScannedEntry> = isRecovery(input) ? input.entries : input;
  for (const item of items) yield entryOf(item);
}

/** The state a journal's snapshot holds (the initial state without one). */
const snapshotState = (input: JournalInput): SignerState => {
  const body = isRecovery(input) ? input.snapshot?.body : undefined;
  return body === undefined ? initialState : decodeSnapshotBody(body).state;
};

/**
 * The SignerState of a journal: a Recovery replays its records on its snapshot's state;
 * bare records replay on `from` (default: the initial state, i.e. from the start).
 */
export function replayJournal(input: JournalInput, from?: SignerState): SignerState {
  return replayEvents(journalEntries(input), from ?? snapshotState(input));
}

export interface JournalViews {
  readonly state: SignerState;
  readonly timeline: TimelineView;
  readonly stats: JournalStats;
  /** The last id folded (or the snapshot's); records up to it are skipped. */
  readonly lastId: bigint | undefined;
  /** The views cover the records after this id (a snapshot's last id), or all when undefined. */
  readonly since: bigint | undefined;
}

export const emptyJournalViews: JournalViews = {
  state: initialState,
  timeline: emptyTimeline,
  stats: emptyJournalStats,
  lastId: undefined,
  since: undefined,
};

/** Folds one journal record into the state and the journal's views (a sourced one into the state only). */
export function journalViewsFromRecord(v: JournalViews, record: JournalEntry): JournalViews {
  if (isSourced(record)) return { ...v, state: replayEvents([record], v.state) };
  if (v.lastId !== undefined && record.id <= v.lastId) return v;
  return {
    state: replayEvents([record], v.state),
    timeline: timelineFromJournal(v.timeline, record),
    stats: journalStatsFromRecord(v.stats, record),
    lastId: record.id,
    since: v.since,
  };
}

/** The state and views of a journal, from its snapshot (a Recovery) or from `from`. */
export function replayJournalViews(input: JournalInput, from?: JournalViews): JournalViews {
  const lastId = isRecovery(input) ? input.snapshot?.lastId : undefined;
  let views = from ?? { ...emptyJournalViews, state: snapshotState(input), lastId, since: lastId };
  for (const record of journalEntries(input)) views = journalViewsFromRecord(views, record);
  return views;
}
