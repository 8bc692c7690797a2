/**
 * `summary`, `channel` and `state` as plain JSON-ready facts, built from the projections
 * (projections/replay.ts): the terminal and `--json` outputs print the same values.
 */
import type { SourcedRecord } from '../log/journal/record.js';
import { toArray } from '../projections/chain.js';
import { type TimelineEntry, timelineOf } from '../projections/channel-timeline.js';
import { histogramRows, summarizeLatency } from '../projections/latency-histogram.js';
import type { BrokerViews, JournalViews } from '../projections/replay.js';
import { encodeState, stateDigest } from '../projections/signer-state.js';
import { fromHex, toHex } from '../signer/bytes.js';
import type { ChannelRef } from '../signer/events.js';
import { permissionNames } from '../signer/permissions.js';
import { parseDecimalU64 } from '../signer/remote/decimal-u64.js';
import { askedBy } from '../projections/records.js';
import { micros } from './report-html.js';
import { refusalEntries } from './report-timeline.js';
import { toJsonValue } from './views-json.js';
import type { SignerState } from '../signer/state.js';
import { hashHex as displayHex } from '../signer/chain/track.js';

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

export function summaryOf(views: BrokerViews) {
  const { stats, clients } = views;
  const byType = [...stats.byType.entries()]
    .map(([type, t]) => ({ type, requests: t.requests, errors: t.errors, policyRefusals: t.policyRefusals, latency: summarizeLatency(t.latency) }))
    .sort((a, b) => b.requests - a.requests || (a.type < b.type ? -1 : 1));
  const byClient = [...clients.clients.values()]
    .map((c) => ({ peer: toHex(c.client.peer), dbid: c.client.dbid.toString(), permissions: c.client.permissions.toString(), permissionNames: permissionNames(c.client.permissions), requests: c.requests, errors: c.errors, firstAt: iso(c.firstAt), lastAt: iso(c.lastAt) }))
    .sort((a, b) => b.requests - a.requests);
  const channels = new Map<string, { peer: string; dbid: string; requests: number; errors: number; timelineEntries: number }>();
  for (const c of clients.clients.values()) {
    if (c.client.dbid === 0n) continue;
    const key = `${toHex(c.client.peer)}/${c.client.dbid}`;
    const ch = channels.get(key) ?? { peer: toHex(c.client.peer), dbid: c.client.dbid.toString(), requests: 0, errors: 0, timelineEntries: 0 };
    channels.set(key, { ...ch, requests: ch.requests + c.requests, errors: ch.errors + c.errors });
  }
  for (const [key, t] of views.timeline.channels) {
    const [peer, dbid] = key.split('/') as [string, string];
    const ch = channels.get(key) ?? { peer, dbid, requests: 0, errors: 0, timelineEntries: 0 };
    channels.set(key, { ...ch, timelineEntries: t.entries?.length ?? 0 });
  }
  return {
    records: Number(views.nextSeq),
    requests: stats.requests,
    replies: Object.fromEntries(stats.replies),
    pending: stats.pending.size,
    signerConnected: stats.signerConnected,
    signerDisconnected: stats.signerDisconnected,
    errorRecords: stats.errorRecords,
    timeRange: { first: iso(stats.firstAt), last: iso(stats.lastAt), seconds: stats.firstAt === undefined ? 0 : (stats.lastAt! - stats.firstAt) / 1000 },
    latency: summarizeLatency(stats.latency),
    histogram: histogramRows(stats.latency),
    byType,
    byClient,
    byChannel: [...channels.values()].sort((a, b) => b.requests - a.requests),
    gaps: toArray(views.gaps).map((g) => ({ from: g.from.toString(), to: g.to.toString() })),
    policyRefusals: policyRefusalsOf(views),
  };
}
export type Summary = ReturnType<typeof summaryOf>;

/** Each policy refusal in the log: when the broker received the request, who asked, the request, the rule and why. */
function policyRefusalsOf(views: BrokerViews) {
  return refusalEntries(views.timeline).flatMap(({ entry: e }) => {
    if (e.what.kind !== 'policy-refused') return [];
    const { request, description } = e.what;
    return [{ id: e.id.toString(), at: iso(e.at), askedBy: e.client && askedBy(e.client), request, rule: description.split(':')[0]!, description }];
  });
}

/** "peerhex/dbid" → the channel, or an Error saying which part is malformed (a dbid is a u64). */
export function parseChannel(arg: string): ChannelRef | Error {
  const m = /^([0-9a-fA-F]{66})\/(.*)$/.exec(arg);
  if (!m) return new Error('not <peer>/<dbid> with the peer node id in 66 hex digits');
  const dbid = parseDecimalU64('dbid', m[2]);
  return dbid instanceof Error ? dbid : { peer: fromHex(m[1]!.toLowerCase()), dbid };
}

const entryJson = (e: TimelineEntry) => ({
  id: e.id.toString(),
  at: iso(e.at),
  requestSeq: e.requestSeq?.toString(),
  replySeq: e.replySeq?.toString(),
  latencyMicros: e.latencyMicros,
  ...(toJsonValue(e.what) as object),
});

export function channelOf(ref: ChannelRef, log: BrokerViews | undefined, journal: JournalViews | undefined) {
  return {
    channel: `${toHex(ref.peer)}/${ref.dbid}`,
    fromLog: log && timelineOf(log.timeline, ref).map(entryJson),
    fromJournal: journal && timelineOf(journal.timeline, ref).map(entryJson),
    journalSince: journal?.since?.toString(),
  };
}
export type ChannelReport = ReturnType<typeof channelOf>;

/** One line for a timeline entry (the JSON form's `kind` and its fields). */
export function describeEntry(e: ReturnType<typeof entryJson>): string {
  const { id, at, requestSeq, replySeq, latencyMicros, ...what } = e as Record<string, unknown>;
  const { kind, ...fields } = what;
  const detail = Object.entries(fields).filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ');
  const place = requestSeq === undefined ? `id ${id}` : `id ${id} seq ${requestSeq}→${replySeq}`;
  return `${at ?? '(journal)'}  ${place}  ${kind}${detail ? '  ' + detail : ''}${latencyMicros === undefined ? '' : `  ${micros(latencyMicros as number)}`}`;
}

export function stateOf(
  state: SignerState,
  source: { path: string; records: number; sourced: readonly SourcedRecord[]; snapshotLastId: bigint | undefined; notes: readonly string[] },
) {
  return {
    journal: source.path,
    records: source.records,
    /** Records of events no hsmd request caused (control commands, chain updates), replayed too. */
    sourced: source.sourced.map((r) => ({ source: r.source, seq: r.seq.toString(), at: new Date(r.at).toISOString(), events: r.events.map(toJsonValue) })),
    snapshotLastId: source.snapshotLastId?.toString(),
    notes: source.notes,
    digest: toHex(stateDigest(state)),
    encodedBytes: encodeState(state).length,
    chain: chainOf(state),
    state: toJsonValue(state),
  };
}

/** The device's chain view (docs/chain.md): tip, headers kept, every outpoint it was shown; null without one. */
export function chainOf(state: SignerState) {
  const view = state.chain;
  if (!view) return null;
  const tip = view.recent[view.recent.length - 1]!;
  return {
    network: view.network,
    tip: { height: tip.height, hash: displayHex(tip.hash) },
    headersKept: view.recent.length,
    outpoints: [...view.outpoints].map(([key, o]) => ({
      outpoint: `${displayHex(fromHex(key.split(':')[0]!))}:${key.split(':')[1]}`,
      confirmed: o.confirmed ? { height: o.confirmed.height, block: displayHex(o.confirmed.blockHash), valueSat: o.confirmed.valueSat.toString() } : null,
      spent: o.spent ? { height: o.spent.height, block: displayHex(o.spent.blockHash), by: displayHex(o.spent.txid) } : null,
    })),
  };
}
