/**
 * The status page's live views (broker/status-page.ts): the report's BrokerViews kept
 * current, the replies' recent latencies, and the requests lightningd is waiting on.
 * - Remote signer: the views follow the broker log (BrokerLog.subscribe from seq 0: its whole
 *   history first, then each record once it is durable).
 * - Local signer: there is no broker log (the signer journals on its own), so the port is
 *   wrapped and each request and reply becomes the record the broker log would hold, in
 *   memory, for this process's lifetime only.
 *
 * Off the reply path (docs/performance-history-local.md): a request or reply only queues its record and
 * updates O(1) counters; the queue is folded into the views when the page reads them, or
 * after the reply has left once FOLD_BATCH records wait. Bounded: the latencies are a ring of
 * RECENT_REPLIES, and each channel's (and the node's) timeline keeps its latest
 * TIMELINE_KEEP entries (sphinx-audit shows a log's whole history).
 */
import type { Subscription } from '../log/broker-log/broker-log.js';
import type { LogRecord } from '../log/broker-log/record.js';
import type { StoredLogRecord } from '../projections/records.js';
import { push, type List, toArray } from '../projections/chain.js';
import type { TimelineView } from '../projections/channel-timeline.js';
import { requestType } from '../signer/wire/messages.js';
import { brokerViewsFromLog, type BrokerViews, emptyBrokerViews } from '../projections/replay.js';
import type { SignerPort } from './signer-port.js';

/** How many of the latest replies "recent latency" covers. */
export const RECENT_REPLIES = 1000;
/** Records that may wait unfolded before a fold is scheduled (after the reply that queued the last). */
export const FOLD_BATCH = 256;
/** Timeline entries kept per channel and for the node (a chain is cut back to this at twice its size). */
export const TIMELINE_KEEP = 1000;

export class LiveViews {
  #views: BrokerViews = emptyBrokerViews();
  /** Records not folded into #views yet, in log order. */
  #queue: StoredLogRecord[] = [];
  #foldScheduled = false;
  /** When the signer last answered (Unix ms): a request's time plus its latency. */
  lastReplyAt: number | undefined;
  /** The device that connected last, and when (remote: the broker log's signer-connected). */
  lastConnected: { readonly deviceId: string; readonly at: number } | undefined;
  /** The latest latencies (µs), a ring: #recentNext is where the next one goes. */
  private readonly recent: number[] = [];
  #recentNext = 0;
  /** Requests seen and not answered yet: their times, for lastReplyAt. */
  private readonly requestAt = new Map<bigint, number>();
  /** Requests in the returned port and when each started (Unix ms). */
  private readonly inFlight = new Set<{ readonly at: number }>();
  private nextSeq = 0n;
  private localIds = 0n;
  private subscription: Subscription | undefined;

  /** `timelineKeep`: entries kept per timeline (TIMELINE_KEEP; tests make it small). */
  constructor(private readonly timelineKeep = TIMELINE_KEEP) {}

  /** The views with every record seen so far folded in. */
  get views(): BrokerViews {
    this.#foldQueue();
    return this.#views;
  }

  /** lightningd's requests handed to the signer and not answered yet. */
  get outstanding(): number {
    return this.inFlight.size;
  }

  /** How long the oldest request lightningd is waiting on has waited (ms), 0 if none. */
  waitingMs(now: number): number {
    let oldest = now;
    for (const r of this.inFlight) oldest = Math.min(oldest, r.at);
    return now - oldest;
  }

  /** The latencies (µs) of the last RECENT_REPLIES replies, oldest first. */
  recentLatencies(): readonly number[] {
    return [...this.recent.slice(this.#recentNext), ...this.recent.slice(0, this.#recentNext)];
  }

  /** Takes one record: the O(1) facts now, the views' fold later. */
  private take(seq: bigint, record: LogRecord): void {
    this.#queue.push({ seq, record });
    if (this.#queue.length >= FOLD_BATCH && !this.#foldScheduled) {
      this.#foldScheduled = true;
      setImmediate(() => this.#foldQueue());
    }
    if (record.kind === 'request-received') this.requestAt.set(record.id, record.at);
    if (record.kind === 'signer-connected') this.lastConnected = { deviceId: record.deviceId, at: record.at };
    if (record.kind !== 'reply-received') return;
    const at = this.requestAt.get(record.id);
    this.requestAt.delete(record.id);
    if (at !== undefined) this.lastReplyAt = Math.max(this.lastReplyAt ?? 0, at + Math.round(record.latencyMicros / 1000));
    if (this.recent.length < RECENT_REPLIES) this.recent.push(record.latencyMicros);
    else {
      this.recent[this.#recentNext] = record.latencyMicros;
      this.#recentNext = (this.#recentNext + 1) % RECENT_REPLIES;
    }
  }

  #foldQueue(): void {
    this.#foldScheduled = false;
    if (this.#queue.length === 0) return;
    const queue = this.#queue;
    this.#queue = [];
    let views = this.#views;
    for (const stored of queue) views = brokerViewsFromLog(views, stored);
    this.#views = { ...views, timeline: boundedTimeline(views.timeline, this.timelineKeep) };
  }

  /** Follows the signer's broker log if it has one; else records what passes through the returned port. */
  attach(signer: SignerPort, onError: (text: string) => void): SignerPort {
    if (signer.brokerLog) {
      this.subscription = signer.brokerLog.subscribe(0n, ({ seq, record }) => this.take(seq, record));
      void this.subscription.ended.then((e) => {
        if (e !== undefined) onError(`status page: stopped following the broker log: ${(e as Error).message ?? String(e)}`);
      });
    }
    const logged = !signer.brokerLog;
    return {
      brokerLog: signer.brokerLog,
      inspect: signer.inspect?.bind(signer),
      control: signer.control?.bind(signer),
      request: async (request) => {
        const at = Date.now();
        const started = performance.now();
        // Local signer: ids of this view only (the port's own ids stay inside it).
        const id = ++this.localIds;
        const waiting = { at };
        this.inFlight.add(waiting);
        // A copy: the message may be a view into the socket's read buffer, and is folded later.
        if (logged) this.take(this.nextSeq++, { kind: 'request-received', id, client: request.client, type: requestType(request.message), message: request.message.slice(), at });
        try {
          const reply = await signer.request(request);
          if (logged) this.take(this.nextSeq++, { kind: 'reply-received', id, reply, latencyMicros: Math.round((performance.now() - started) * 1000) });
          return reply;
        } finally {
          this.inFlight.delete(waiting);
        }
      },
      close: async () => {
        this.subscription?.close();
        await signer.close();
      },
    };
  }
}

/** `list` cut back to its latest `keep` items once it holds twice that (amortized O(1) an entry). */
function bounded<T>(list: List<T>, keep: number): List<T> {
  if ((list?.length ?? 0) < 2 * keep) return list;
  let kept: List<T>;
  for (const item of toArray(list).slice(-keep)) kept = push(kept, item);
  return kept;
}

/** The timeline with every channel's entries, and the node's, bounded. */
function boundedTimeline(timeline: TimelineView, keep: number): TimelineView {
  let channels = timeline.channels;
  for (const [key, channel] of timeline.channels) {
    const entries = bounded(channel.entries, keep);
    if (entries === channel.entries) continue;
    if (channels === timeline.channels) channels = new Map(channels);
    (channels as Map<string, typeof channel>).set(key, { ...channel, entries });
  }
  const node = bounded(timeline.node, keep);
  return channels === timeline.channels && node === timeline.node ? timeline : { ...timeline, channels, node };
}

/** The exact nearest-rank p-quantile of `values`, or undefined when empty. */
export function nearestRank(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(p * sorted.length)) - 1];
}
