/** The terminal forms of the audit's results (the --json forms print the same values). */
import type { Reply } from '../signer/decision.js';
import { micros } from './report-html.js';
import type { ChannelReport, Summary } from './views.js';
import { describeEntry, type stateOf } from './views.js';
import { describeFinding, type VerifyReport } from './verify.js';

type Out = (line: string) => void;

/** The log's reply kinds (signer/decision.ts Reply), as the summary words them. */
const REPLY_KINDS: Readonly<Record<Reply['kind'], string>> = {
  frame: 'answered',
  none: 'without a reply (as hsmd)',
  'bad-request': 'bad requests',
  fatal: 'fatal (hsmd stopped)',
};

/** The histogram's rows merged per power of two (the log's buckets are eighths of one). */
export function compactHistogram(rows: Summary['histogram']): Summary['histogram'] {
  const out: Summary['histogram'][number][] = [];
  for (const r of rows) {
    const octave = (us: number) => (us < 16 ? 0 : Math.floor(Math.log2(us)));
    const last = out.at(-1);
    if (last && octave(last.lowMicros) === octave(r.lowMicros)) out[out.length - 1] = { ...last, highMicros: r.highMicros, count: last.count + r.count };
    else out.push({ ...r });
  }
  return out;
}

export function printSummary(out: Out, s: Summary): void {
  const replies = Object.entries(s.replies).map(([kind, n]) => `${n} ${REPLY_KINDS[kind as Reply['kind']] ?? kind}`).join(', ') || 'none';
  out(`${s.records} records: ${s.requests} requests, replies: ${replies}; ${s.pending} unanswered, ` +
    `${s.errorRecords} error records, signer connected ${s.signerConnected}× / disconnected ${s.signerDisconnected}×`);
  out("  (lightningd's hsmd_client_hsmfd requests, one per client connection it asks for, are answered by the broker " +
    'itself and not logged: a count taken at lightningd, e.g. npm start\'s, is higher by that many)');
  out(`time range: ${s.timeRange.first ?? '-'} .. ${s.timeRange.last ?? '-'} (${s.timeRange.seconds} s)`);
  if (s.gaps.length > 0) out(`HOLES in the sequence: ${s.gaps.map((g) => `${g.from}..${BigInt(g.to) - 1n}`).join(', ')}`);
  const l = s.latency;
  out(`latency: ${l.count} replies, p50 ${micros(l.p50Micros)}, p90 ${micros(l.p90Micros)}, p99 ${micros(l.p99Micros)}, max ${micros(l.maxMicros)}`);
  const rows = compactHistogram(s.histogram);
  const peak = Math.max(1, ...rows.map((r) => r.count));
  for (const r of rows) out(`  ${micros(r.lowMicros).padStart(10)} .. ${micros(r.highMicros).padEnd(10)} ${String(r.count).padStart(8)} ${'#'.repeat(Math.ceil((r.count / peak) * 40))}`);
  out('by message type:');
  for (const t of s.byType) {
    out(`  ${t.type.padEnd(40)} ${String(t.requests).padStart(8)}  errors ${t.errors}  refusals ${t.policyRefusals}  p50 ${micros(t.latency.p50Micros)}  max ${micros(t.latency.maxMicros)}`);
  }
  out('by client (peer/dbid, requests, errors, first .. last, permissions):');
  for (const c of s.byClient) out(`  ${c.peer}/${c.dbid} ${String(c.requests).padStart(8)}  errors ${c.errors}  ${c.firstAt} .. ${c.lastAt}  ${c.permissionNames}`);
  out('by channel (peer/dbid):');
  if (s.byChannel.length === 0) out('  (none)');
  for (const c of s.byChannel) out(`  ${c.peer}/${c.dbid} ${String(c.requests).padStart(8)} requests  errors ${c.errors}  timeline entries ${c.timelineEntries}`);
  out('policy refusals (received, request id, who asked, request, rule: why):');
  if (s.policyRefusals.length === 0) out('  (none)');
  for (const r of s.policyRefusals) out(`  ${r.at ?? '-'}  id ${r.id}  ${r.askedBy ?? '-'}  ${r.request ?? '-'}  ${r.description}`);
}

export function printVerify(out: Out, r: VerifyReport): void {
  out(`${r.mode === 'replay' ? 'replayed through a fresh signer (hsm_secret given)' : 'signatures checked against the keys the log establishes (no hsm_secret)'}`);
  out(`${r.records} records, ${r.requests} requests, ${r.replies} replies, ${r.verified} ${r.mode === 'replay' ? 'identical' : 'with verified signatures'}`);
  out('per message type: ok / bad / unchecked / no signature — how');
  for (const [type, c] of [...r.byType].sort(([a], [b]) => (a < b ? -1 : 1))) {
    out(`  ${type.padEnd(40)} ${c.ok} / ${c.bad} / ${c.unchecked} / ${c.none} — ${[...c.how].join('; ')}`);
  }
  if (r.journal) {
    out(`journal ${r.journal.path}: ${r.journal.records} records, ${r.journal.matched} identical to the logged replies` +
      (r.journal.coveredBySnapshot ? `, ${r.journal.coveredBySnapshot} logged replies before its snapshot` : ''));
  }
  for (const n of r.notes) out(`note: ${describeFinding(n)}`);
  if (r.findings.length === 0) {
    out('OK: no mismatch');
    return;
  }
  out(`MISMATCH: ${r.findings.length} finding${r.findings.length === 1 ? '' : 's'}`);
  for (const f of r.findings) out(`  ${describeFinding(f)}`);
}

export function printChannel(out: Out, c: ChannelReport): void {
  out(`channel ${c.channel}`);
  if (c.fromLog) {
    out(`from the broker log (${c.fromLog.length} entries):`);
    for (const e of c.fromLog) out(`  ${describeEntry(e)}`);
  }
  if (c.fromJournal) {
    out(`from the journal (${c.fromJournal.length} entries${c.journalSince ? `, after its snapshot of id ${c.journalSince}` : ''}):`);
    for (const e of c.fromJournal) out(`  ${describeEntry(e)}`);
  }
}

export function printState(out: Out, s: ReturnType<typeof stateOf>): void {
  out(`journal ${s.journal}: ${s.records} records replayed${s.sourced.length ? ` and ${s.sourced.length} sourced records` : ''}${s.snapshotLastId ? ` on the snapshot of id ${s.snapshotLastId}` : ''}`);
  for (const n of s.notes) out(`note: ${n}`);
  for (const r of s.sourced) out(`${r.source} #${r.seq} at ${r.at}: ${r.events.map((e) => (e as { kind: string }).kind).join(', ') || 'no events'}`);
  out(`state digest (SHA-256 of its ${s.encodedBytes}-byte encoding): ${s.digest}`);
  if (s.chain) {
    out(`chain (${s.chain.network}): tip ${s.chain.tip.height} ${s.chain.tip.hash}, ${s.chain.headersKept} headers kept`);
    for (const o of s.chain.outpoints) {
      const confirmed = o.confirmed ? `confirmed at ${o.confirmed.height} (${o.confirmed.valueSat} sat)` : 'not seen confirmed';
      out(`  outpoint ${o.outpoint}: ${confirmed}${o.spent ? `, spent at ${o.spent.height} by ${o.spent.by}` : ', unspent'}`);
    }
  }
  out(JSON.stringify(s.state, null, 2));
}
