/**
 * The status page's live views (broker/status-page.ts): the report's BrokerViews kept
 * current, the replies' recent latencies, and the requests lightningd is waiting on.
 * - Remote signer: the views follow the broker log (BrokerLog.subscribe from seq 0: its whole
 *   history first, then each record once it is durable).
 * - Local signer: there is no broker log (the signer journals on its own), so the port is
 *   wrapped and each request and reply is folded as the record the broker log would hold,
 *   in memory, for this process's lifetime only.
 */
import type { Subscription } from '../log/broker-log/broker-log.js';
import type { LogRecord } from '../log/broker-log/record.js';
import { requestType } from '../signer/wire/messages.js';
import { brokerViewsFromLog, type BrokerViews, emptyBrokerViews } from '../projections/replay.js';
import type { SignerPort } from './signer-port.js';

/** How many of the latest replies "recent latency" covers. */
export const RECENT_REPLIES = 1000;

export class LiveViews {
  views: BrokerViews = emptyBrokerViews();
  /** When the signer last answered (Unix ms): a request's time plus its latency. */
  lastReplyAt: number | undefined;
  /** The device that connected last, and when (remote: the broker log's signer-connected). */
  lastConnected: { readonly deviceId: string; readonly at: number } | undefined;
  private readonly recent: number[] = [];
  /** Requests folded and not answered yet: their times, for lastReplyAt. */
  private readonly requestAt = new Map<bigint, number>();
  /** Requests in the returned port and when each started (Unix ms). */
  private readonly inFlight = new Set<{ readonly at: number }>();
  private nextSeq = 0n;
  private localIds = 0n;
  private subscription: Subscription | undefined;

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
    return this.recent;
  }

  private fold(seq: bigint, record: LogRecord): void {
    this.views = brokerViewsFromLog(this.views, { seq, record });
    if (record.kind === 'request-received') this.requestAt.set(record.id, record.at);
    if (record.kind === 'signer-connected') this.lastConnected = { deviceId: record.deviceId, at: record.at };
    if (record.kind !== 'reply-received') return;
    const at = this.requestAt.get(record.id);
    this.requestAt.delete(record.id);
    if (at !== undefined) this.lastReplyAt = Math.max(this.lastReplyAt ?? 0, at + Math.round(record.latencyMicros / 1000));
    this.recent.push(record.latencyMicros);
    if (this.recent.length > RECENT_REPLIES) this.recent.shift();
  }

  /** Follows the signer's broker log if it has one; else folds what passes through the returned port. */
  attach(signer: SignerPort, onError: (text: string) => void): SignerPort {
    if (signer.brokerLog) {
      this.subscription = signer.brokerLog.subscribe(0n, ({ seq, record }) => this.fold(seq, record));
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
        if (logged) this.fold(this.nextSeq++, { kind: 'request-received', id, client: request.client, type: requestType(request.message), message: request.message.slice(), at });
        try {
          const reply = await signer.request(request);
          if (logged) this.fold(this.nextSeq++, { kind: 'reply-received', id, reply, latencyMicros: Math.round((performance.now() - started) * 1000) });
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

/** The exact nearest-rank p-quantile of `values`, or undefined when empty. */
export function nearestRank(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(p * sorted.length)) - 1];
}
