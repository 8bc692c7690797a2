/**
 * Per-channel timelines and the refusals table of the audit report, as inline SVG and HTML.
 * Each channel gets an `svg.channel-timeline` (data-channel = peer hex/dbid) with one lane per
 * kind of act (set-up; commitments signed; validated; revoked; close; sweeps; refusals) and one
 * `circle.event` per timeline entry (data-kind), placed by the time the broker received the
 * request, or by order when the entries carry no times (a journal's).
 */
import { toArray } from '../projections/chain.js';
import type { ChannelTimeline, TimelineDetail, TimelineEntry, TimelineView } from '../projections/channel-timeline.js';
import { askedBy } from '../projections/records.js';
import { toHex } from '../signer/bytes.js';
import { esc, facts, isoTime, micros, num, table } from './report-html.js';

/** Channels drawn; the rest are counted, not drawn (a report stays readable). */
export const MAX_CHANNELS = 200;

const LANES: readonly { readonly name: string; readonly kinds: readonly TimelineDetail['kind'][] }[] = [
  { name: 'set-up', kinds: ['created', 'set-up', 'outpoint-locked'] },
  { name: 'signed', kinds: ['counterparty-commitment-signed', 'counterparty-htlc-tx-signed'] },
  { name: 'validated', kinds: ['holder-commitment-validated'] },
  { name: 'revoked', kinds: ['holder-commitment-revoked', 'counterparty-secret-stored'] },
  // sign_commitment_tx signs our own commitment: a unilateral close.
  { name: 'close', kinds: ['mutual-close-signed', 'holder-commitment-signed', 'splice-signed', 'forgotten'] },
  { name: 'sweeps', kinds: ['sweep-signed', 'wallet-spend-signed'] },
  { name: 'refusals', kinds: ['policy-refused', 'policy-warned', 'refused', 'error'] },
];
const laneOf = new Map(LANES.flatMap((l, i) => l.kinds.map((k) => [k, i] as const)));

const REFUSALS: ReadonlySet<TimelineDetail['kind']> = new Set(['policy-refused', 'policy-warned', 'refused', 'error']);

/** One line saying what an entry is. */
export function describeDetail(d: TimelineDetail): string {
  switch (d.kind) {
    case 'set-up':
      return `set up: ${d.isOutbound ? 'outbound' : 'inbound'}, ${d.channelValueSat} sat, push ${d.pushValueMsat} msat, funding ${d.fundingOutpoint}, to_self_delay ${d.localToSelfDelay}/${d.remoteToSelfDelay}`;
    case 'outpoint-locked':
      return `outpoint locked ${d.outpoint}`;
    case 'holder-commitment-validated':
    case 'counterparty-commitment-signed':
      return `${d.kind} #${d.commitNum}${d.htlcs === undefined ? '' : `, ${d.htlcs} HTLC${d.htlcs === 1 ? '' : 's'}`}`;
    case 'holder-commitment-signed':
    case 'holder-commitment-revoked':
    case 'counterparty-secret-stored':
      return `${d.kind} #${d.commitNum}`;
    case 'sweep-signed':
      return `sweep signed (${d.sweep}${d.commitNum === undefined ? '' : `, commitment #${d.commitNum}`})`;
    case 'wallet-spend-signed':
      return `wallet inputs signed (${d.request})`;
    case 'policy-refused':
      return `refused by policy${d.request ? ` (${d.request})` : ''}: ${d.description}`;
    case 'policy-warned':
      return `policy warning ${d.policy}: ${d.detail}`;
    case 'refused':
      return `${d.request} refused (${d.reply.kind}${'description' in d.reply ? `: ${d.reply.description}` : ''})`;
    case 'error':
      return `${d.request}: error: ${d.text}`;
    default:
      return d.kind;
  }
}

const W = 960;
const LANE_H = 18;
const LEFT = 78;

function timelineSvg(key: string, entries: readonly TimelineEntry[]): string {
  const times = entries.map((e) => e.at);
  const timed = times.every((t) => t !== undefined) && Math.max(...(times as number[])) > Math.min(...(times as number[]));
  const [t0, t1] = timed ? [Math.min(...(times as number[])), Math.max(...(times as number[]))] : [0, Math.max(1, entries.length - 1)];
  const xOf = (e: TimelineEntry, i: number): number => LEFT + 8 + (((timed ? e.at! : i) - t0) / (t1 - t0 || 1)) * (W - LEFT - 20);
  const h = LANES.length * LANE_H + 22;
  const lanes = LANES.map((l, i) =>
    `<line class="lane" x1="${LEFT}" x2="${W - 4}" y1="${i * LANE_H + 12}" y2="${i * LANE_H + 12}"/><text class="tick" x="${LEFT - 6}" y="${i * LANE_H + 16}" text-anchor="end">${l.name}</text>`).join('');
  const marks = entries.map((e, i) => {
    const lane = laneOf.get(e.what.kind) ?? LANES.length - 1;
    const when = e.at === undefined ? `id ${e.id}` : `${isoTime(e.at)} (id ${e.id}${e.latencyMicros === undefined ? '' : `, ${micros(e.latencyMicros)}`})`;
    return `<circle class="event kind-${e.what.kind}" data-kind="${e.what.kind}" data-id="${e.id}" cx="${xOf(e, i).toFixed(2)}" cy="${lane * LANE_H + 12}" r="4">` +
      `<title>${esc(when)}: ${esc(describeDetail(e.what))}</title></circle>`;
  }).join('');
  const axis = timed
    ? `<text class="tick" x="${LEFT}" y="${h - 4}">${esc(isoTime(t0))}</text><text class="tick" x="${W - 4}" y="${h - 4}" text-anchor="end">${esc(isoTime(t1))}</text>`
    : `<text class="tick" x="${LEFT}" y="${h - 4}">in log order (no times)</text>`;
  return `<svg class="channel-timeline" data-channel="${esc(key)}" data-entries="${entries.length}" viewBox="0 0 ${W} ${h}" role="img">` +
    `<title>Timeline of channel ${esc(key)}</title>${lanes}${marks}${axis}</svg>`;
}

function channelSection(key: string, ch: ChannelTimeline): string {
  const entries = toArray(ch.entries);
  const setUp = entries.find((e) => e.what.kind === 'set-up')?.what as Extract<TimelineDetail, { kind: 'set-up' }> | undefined;
  const nums = (kind: TimelineDetail['kind']): bigint[] =>
    entries.flatMap((e) => (e.what.kind === kind && 'commitNum' in e.what && e.what.commitNum !== undefined ? [e.what.commitNum] : []));
  const range = (xs: bigint[]): string => (xs.length === 0 ? '–' : `${xs.length} (#${xs[0]} … #${xs.at(-1)})`);
  const count = (...kinds: TimelineDetail['kind'][]): number => entries.filter((e) => kinds.includes(e.what.kind)).length;
  const pairs: [string, string][] = [
    ['peer', `<code>${esc(toHex(ch.ref.peer))}</code>`],
    ['dbid', esc(ch.ref.dbid)],
    ['value', setUp ? `${num(setUp.channelValueSat)} sat${setUp.isOutbound ? ' (outbound)' : ' (inbound)'}` : '–'],
    ['funding', setUp ? `<code>${esc(setUp.fundingOutpoint)}</code>` : '–'],
    ['their commitments signed', esc(range(nums('counterparty-commitment-signed')))],
    ['our commitments validated', esc(range(nums('holder-commitment-validated')))],
    ['revoked', esc(range(nums('holder-commitment-revoked')))],
    ['closes', num(count('mutual-close-signed', 'holder-commitment-signed'))],
    ['sweeps', num(count('sweep-signed'))],
    ['refusals', num(count('policy-refused', 'refused', 'error'))],
    ['forgotten', count('forgotten') > 0 ? 'yes' : 'no'],
  ];
  return `<section class="channel" data-channel="${esc(key)}"><h3>Channel <code>${esc(key)}</code></h3>${facts('channel-facts', pairs)}${timelineSvg(key, entries)}</section>`;
}

export function channelTimelines(view: TimelineView): string {
  const channels = [...view.channels];
  if (channels.length === 0) return '<p class="empty">No channel requests in the log.</p>';
  const drawn = channels.slice(0, MAX_CHANNELS).map(([key, ch]) => channelSection(key, ch)).join('');
  const omitted = channels.length - MAX_CHANNELS;
  return drawn + (omitted > 0 ? `<p class="note">${num(omitted)} more channels not drawn (the first ${MAX_CHANNELS} by first appearance are).</p>` : '');
}

/** Every refusal, warning and error entry, channel and node-wide, in id order. */
export function refusalEntries(view: TimelineView): { channel: string | undefined; entry: TimelineEntry }[] {
  const all = [
    ...[...view.channels].flatMap(([key, ch]) => toArray(ch.entries).map((entry) => ({ channel: key as string | undefined, entry }))),
    ...toArray(view.node).map((entry) => ({ channel: undefined, entry })),
  ];
  return all.filter((r) => REFUSALS.has(r.entry.what.kind)).sort((a, b) => (a.entry.id < b.entry.id ? -1 : a.entry.id > b.entry.id ? 1 : 0));
}

export function refusalsTable(view: TimelineView): string {
  const rows = refusalEntries(view).map(({ channel, entry }) => {
    const d = entry.what;
    const request = 'request' in d && d.request ? d.request : '–';
    const who = entry.client === undefined ? '–' : esc(askedBy(entry.client));
    return [esc(entry.id), esc(isoTime(entry.at)), who, channel === undefined ? 'node' : `<code>${esc(channel)}</code>`, esc(d.kind), esc(request), esc(describeDetail(d))];
  });
  return table('refusals', ['id', 'received', 'asked by', 'channel', 'kind', 'request', 'what'], rows);
}
