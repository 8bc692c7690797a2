/**
 * Request statistics (docs/design.md#logs-and-projections projections; `sphinx-audit summary` and the report's charts):
 * - over broker-log records (`requestStatsFromLog`): requests by hsmd message type (with
 *   refusals and latency per type), replies by kind, the time range, the latency
 *   distribution, requests over time in fixed buckets by type, signer connections and
 *   error records; requests not answered yet stay in `pending`;
 * - over journal records (`journalStatsFromRecord`): what a journal alone can say: id range,
 *   events by kind, replies by kind and by reply message type. It has no times or latencies.
 * Both are pure folds.
 */
import type { JournalRecord } from '../log/journal/record.js';
import type { Reply } from '../signer/decision.js';
import { peekType } from '../signer/wire/messages.js';
import { bump, type List, push, replaceLast, withEntry, withoutEntry } from './chain.js';
import { emptyLatency, type LatencyHistogram, recordLatency } from './latency-histogram.js';
import { isError, isPolicyRefusal, messageName, policyRefusalOf, type StoredLogRecord } from './records.js';

export interface TypeStats {
  readonly requests: number;
  /** Bad-request and fatal replies. */
  readonly errors: number;
  readonly policyRefusals: number;
  readonly latency: LatencyHistogram;
}

/** Requests received in [startAt, startAt + bucketMs), by message name. */
export interface TimeBucket {
  readonly startAt: number;
  readonly byType: ReadonlyMap<string, number>;
}

export interface RequestStats {
  readonly bucketMs: number;
  readonly requests: number;
  readonly byType: ReadonlyMap<string, TypeStats>;
  readonly replies: ReadonlyMap<Reply['kind'], number>;
  readonly latency: LatencyHistogram;
  /** Unix ms of the first and last request, or undefined before any. */
  readonly firstAt: number | undefined;
  readonly lastAt: number | undefined;
  /**
   * Time buckets, oldest first, only those with requests. A request stamped before the
   * latest bucket (a clock step back) is counted in the latest one and in `lateStamps`.
   */
  readonly overTime: List<TimeBucket>;
  readonly lateStamps: number;
  readonly signerConnected: number;
  readonly signerDisconnected: number;
  readonly errorRecords: number;
  /** Requests awaiting a reply: id → message name. */
  readonly pending: ReadonlyMap<bigint, string>;
}

export const DEFAULT_BUCKET_MS = 60_000;

export const emptyRequestStats = (bucketMs = DEFAULT_BUCKET_MS): RequestStats => ({
  bucketMs,
  requests: 0,
  byType: new Map(),
  replies: new Map(),
  latency: emptyLatency,
  firstAt: undefined,
  lastAt: undefined,
  overTime: undefined,
  lateStamps: 0,
  signerConnected: 0,
  signerDisconnected: 0,
  errorRecords: 0,
  pending: new Map(),
});

const NO_TYPE_STATS: TypeStats = { requests: 0, errors: 0, policyRefusals: 0, latency: emptyLatency };

function countInBucket(s: RequestStats, at: number, name: string): Pick<RequestStats, 'overTime' | 'lateStamps'> {
  const startAt = Math.floor(at / s.bucketMs) * s.bucketMs;
  const head = s.overTime;
  if (head === undefined || startAt > head.last.startAt) return { overTime: push(head, { startAt, byType: new Map([[name, 1]]) }), lateStamps: s.lateStamps };
  const bucket = { ...head.last, byType: bump(head.last.byType, name) };
  return { overTime: replaceLast(head, bucket), lateStamps: s.lateStamps + (startAt < head.last.startAt ? 1 : 0) };
}

/** Folds one broker-log record into the statistics. */
export function requestStatsFromLog(s: RequestStats, { record: r }: StoredLogRecord): RequestStats {
  switch (r.kind) {
    case 'request-received': {
      const name = messageName(r.type);
      const t = s.byType.get(name) ?? NO_TYPE_STATS;
      return {
        ...s,
        ...countInBucket(s, r.at, name),
        requests: s.requests + 1,
        byType: withEntry(s.byType, name, { ...t, requests: t.requests + 1 }),
        firstAt: s.firstAt === undefined || r.at < s.firstAt ? r.at : s.firstAt,
        lastAt: s.lastAt === undefined || r.at > s.lastAt ? r.at : s.lastAt,
        pending: withEntry(s.pending, r.id, name),
      };
    }
    case 'reply-received': {
      const next = { ...s, replies: bump(s.replies, r.reply.kind), latency: recordLatency(s.latency, r.latencyMicros) };
      const name = s.pending.get(r.id);
      if (name === undefined) return next; // its request is before this log's start
      const t = s.byType.get(name)!;
      const typeStats: TypeStats = {
        requests: t.requests,
        errors: t.errors + (isError(r.reply) ? 1 : 0),
        policyRefusals: t.policyRefusals + (policyRefusalOf(r.reply) !== undefined ? 1 : 0),
        latency: recordLatency(t.latency, r.latencyMicros),
      };
      return { ...next, byType: withEntry(s.byType, name, typeStats), pending: withoutEntry(s.pending, r.id) };
    }
    case 'signer-connected':
      return { ...s, signerConnected: s.signerConnected + 1 };
    case 'signer-disconnected':
      return { ...s, signerDisconnected: s.signerDisconnected + 1 };
    case 'error':
      return { ...s, errorRecords: s.errorRecords + 1 };
    case 'unlogged-requests':
      return s;
  }
}

export interface JournalStats {
  readonly records: number;
  readonly firstId: bigint | undefined;
  readonly lastId: bigint | undefined;
  readonly events: ReadonlyMap<string, number>;
  readonly replies: ReadonlyMap<Reply['kind'], number>;
  /** Frame replies by CLN message name of the reply (e.g. hsmd_sign_tx_reply). */
  readonly replyTypes: ReadonlyMap<string, number>;
  readonly policyRefusals: number;
}

export const emptyJournalStats: JournalStats = {
  records: 0,
  firstId: undefined,
  lastId: undefined,
  events: new Map(),
  replies: new Map(),
  replyTypes: new Map(),
  policyRefusals: 0,
};

/** Folds one journal record into the journal statistics. */
export function journalStatsFromRecord(s: JournalStats, record: JournalRecord): JournalStats {
  const events = new Map(s.events);
  for (const e of record.events) events.set(e.kind, (events.get(e.kind) ?? 0) + 1);
  const { reply } = record;
  return {
    records: s.records + 1,
    firstId: s.firstId ?? record.id,
    lastId: record.id,
    events,
    replies: bump(s.replies, reply.kind),
    replyTypes: reply.kind === 'frame' && reply.frame.length >= 2 ? bump(s.replyTypes, messageName(peekType(reply.frame))) : s.replyTypes,
    policyRefusals: s.policyRefusals + (isPolicyRefusal(reply) || record.events.some((e) => e.kind === 'PolicyRefused') ? 1 : 0),
  };
}
