/**
 * Per-client views (docs/design.md#logs-and-projections projections; `sphinx-audit summary` by client): for each client
 * connection of lightningd's, keyed by (peer, dbid, permissions) as the broker logged it,
 * the requests by hsmd message type, the replies by kind, the errors (bad-request and fatal
 * replies, and broker error records about its requests), the latency distribution of its
 * replies, and when it was first and last heard from. A pure fold over broker-log records;
 * journal records name no client, so there is no journal form.
 */
import type { Reply } from '../signer/decision.js';
import type { ClientContext } from '../signer/envelope.js';
import { bump, withEntry, withoutEntry } from './chain.js';
import { emptyLatency, type LatencyHistogram, recordLatency } from './latency-histogram.js';
import { clientKey, isError, messageName, type StoredLogRecord } from './records.js';

export interface ClientStats {
  readonly client: ClientContext;
  readonly requests: number;
  /** Requests by CLN message name. */
  readonly byType: ReadonlyMap<string, number>;
  readonly replies: ReadonlyMap<Reply['kind'], number>;
  /** Bad-request and fatal replies plus broker error records about its requests. */
  readonly errors: number;
  readonly latency: LatencyHistogram;
  /** Unix ms of its first and last request. */
  readonly firstAt: number;
  readonly lastAt: number;
}

export interface ClientView {
  /** By clientKey (peer hex / dbid / permissions). */
  readonly clients: ReadonlyMap<string, ClientStats>;
  /** Requests awaiting a reply: id → client key. */
  readonly pending: ReadonlyMap<bigint, string>;
  /** Replies and error records whose request is not in the log read (it began later). */
  readonly unattributed: number;
}

export const emptyClientView: ClientView = { clients: new Map(), pending: new Map(), unattributed: 0 };

const newClient = (client: ClientContext, at: number): ClientStats => ({
  client,
  requests: 0,
  byType: new Map(),
  replies: new Map(),
  errors: 0,
  latency: emptyLatency,
  firstAt: at,
  lastAt: at,
});

const update = (view: ClientView, key: string, f: (c: ClientStats) => ClientStats): ReadonlyMap<string, ClientStats> =>
  withEntry(view.clients, key, f(view.clients.get(key)!));

/** Folds one broker-log record into the per-client views. */
export function clientViewFromLog(view: ClientView, { record: r }: StoredLogRecord): ClientView {
  switch (r.kind) {
    case 'request-received': {
      const key = clientKey(r.client);
      const c = view.clients.get(key) ?? newClient(r.client, r.at);
      const next: ClientStats = { ...c, requests: c.requests + 1, byType: bump(c.byType, messageName(r.type)), lastAt: r.at };
      return { ...view, clients: withEntry(view.clients, key, next), pending: withEntry(view.pending, r.id, key) };
    }
    case 'reply-received': {
      const key = view.pending.get(r.id);
      if (key === undefined) return { ...view, unattributed: view.unattributed + 1 };
      const clients = update(view, key, (c) => ({
        ...c,
        replies: bump(c.replies, r.reply.kind),
        errors: c.errors + (isError(r.reply) ? 1 : 0),
        latency: recordLatency(c.latency, r.latencyMicros),
      }));
      return { ...view, clients, pending: withoutEntry(view.pending, r.id) };
    }
    case 'error': {
      const key = r.id === undefined ? undefined : view.pending.get(r.id);
      if (key === undefined) return r.id === undefined ? view : { ...view, unattributed: view.unattributed + 1 };
      return { ...view, clients: update(view, key, (c) => ({ ...c, errors: c.errors + 1 })) };
    }
    case 'signer-connected':
    case 'signer-disconnected':
    case 'unlogged-requests':
      return view;
  }
}
