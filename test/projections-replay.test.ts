/**
 * The views (projections/channel-timeline, client-view, request-stats, replay) on
 * session-basic-l1, from both logs:
 * - a real broker log (BrokerLog on LevelDB in a temp dir) holding every exchange of the
 *   recording as request-received/reply-received records: ids = the recording's seq,
 *   peers/dbids/permissions as recorded, replies as recorded. Times and latencies are NOT
 *   recorded in the transcript: `at` and `latencyMicros` here are SYNTHETIC (monotone,
 *   derived from seq) and only their bookkeeping is checked;
 * - a real journal: SignerCore on a MemoryDir handling the same requests (same ids).
 * Every expected count comes from the transcript's own `name`/`conn` fields, not from our
 * decoder; the channel's commitments must number consecutively (BOLT 2).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { Signer } from '../signer/signer.js';
import { fromHex } from '../signer/bytes.js';
import type { Reply } from '../signer/decision.js';
import { MASTER_PERMISSIONS } from '../signer/permissions.js';
import { BrokerLog, type StoredRecord } from '../log/broker-log/broker-log.js';
import type { LogRecord } from '../log/broker-log/record.js';
import { Journal, openJournalFiles } from '../log/journal/journal.js';
import { MemoryDir } from '../log/memory-file.js';
import { SignerCore } from '../core/signer-core.js';
import { toArray } from '../projections/chain.js';
import { type TimelineEntry, nodeEntries, timelineOf } from '../projections/channel-timeline.js';
import { clientKey } from '../projections/records.js';
import { histogramRows, percentile } from '../projections/latency-histogram.js';
import { replayBrokerLog, replayJournal, replayJournalViews } from '../projections/replay.js';
import { stateDigest } from '../projections/signer-state.js';
import { sessionRequests, sessionSignerOptions } from './session-records.js';
import { fixturePath } from './fixtures.js';
import { loadTranscript, type Exchange } from './transcript.js';

const NAME = 'session-basic-l1.jsonl';
const { header, exchanges } = loadTranscript(fixturePath(`transcripts/${NAME}`));
const MASTER_PEER = new Uint8Array(33);
/** SYNTHETIC times: the recording has none. 250 ms between requests from its recorded_at. */
const T0 = Date.parse(header['recorded_at'] as string);
const atOf = (seq: number): number => T0 + seq * 250;
/** SYNTHETIC latency in µs, varied so the histogram has spread. */
const latencyOf = (seq: number): number => 200 + ((seq * 7919) % 20_000);

const clientOf = (ex: Exchange) => ({
  peer: ex.peer ? fromHex(ex.peer) : MASTER_PEER,
  dbid: BigInt(ex.dbid),
  permissions: ex.conn === 'master' ? MASTER_PERMISSIONS : BigInt(ex.perms),
});
const replyOf = (ex: Exchange): Reply =>
  ex.rep !== null ? { kind: 'frame', frame: fromHex(ex.rep) } : ex.error ? { kind: 'bad-request', description: ex.error } : { kind: 'none' };

/** The records the broker would log for the recording, in its order. */
const logRecords: LogRecord[] = exchanges.flatMap((ex): LogRecord[] => [
  { kind: 'request-received', id: BigInt(ex.seq), client: clientOf(ex), type: parseInt(ex.req.slice(0, 4), 16), message: fromHex(ex.req), at: atOf(ex.seq) },
  { kind: 'reply-received', id: BigInt(ex.seq), reply: replyOf(ex), latencyMicros: latencyOf(ex.seq) },
]);

/** The channel of the session: the one client connection with a dbid. */
const channelEx = exchanges.find((ex) => ex.dbid !== 0)!;
const channel = { peer: fromHex(channelEx.peer!), dbid: BigInt(channelEx.dbid) };
/** The recording names each exchange's message (a field test/transcript.ts does not type). */
const nameOf = (ex: Exchange): string => (ex as Exchange & { name: string }).name;
const named = (name: string) => exchanges.filter((ex) => nameOf(ex) === name);

async function withLog<T>(f: (log: BrokerLog) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'projections-'));
  const log = await BrokerLog.open(dir);
  try {
    await Promise.all(logRecords.map((r) => log.append(r)));
    return await f(log);
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const collect = async (it: AsyncIterable<StoredRecord>): Promise<StoredRecord[]> => {
  const out: StoredRecord[] = [];
  for await (const s of it) out.push(s);
  return out;
};

const ofKind = <K extends TimelineEntry['what']['kind']>(entries: TimelineEntry[], kind: K) =>
  entries.filter((e) => e.what.kind === kind) as (TimelineEntry & { what: Extract<TimelineEntry['what'], { kind: K }> })[];

/** The journal of SignerCore handling the session with the recording's seq as ids. */
function journalOf(snapshotEvery: number) {
  const dir = new MemoryDir();
  const options = sessionSignerOptions(NAME);
  const { core } = SignerCore.open(openJournalFiles(dir), (s) => new Signer(options, s), { snapshotEvery });
  for (const { exchange, envelope } of sessionRequests(NAME)) core.handle({ ...envelope, id: BigInt(exchange.seq) });
  return { dir, core, recovery: Journal.open(openJournalFiles(dir)).recovery };
}

test('broker log: the channel timeline shows what the recording did to the channel, with times and outcomes', async () => {
  await withLog(async (log) => {
    const stored = await collect(log.read());
    const views = await replayBrokerLog(stored);
    const entries = timelineOf(views.timeline, channel);
    const kinds = entries.map((e) => e.what.kind);
    assert.deepEqual([kinds[0], kinds[1]], ['created', 'set-up']);
    assert.equal(kinds.at(-1), 'forgotten');
    const setup = ofKind(entries, 'set-up')[0]!.what;
    assert.ok(setup.channelValueSat > 0n && setup.localToSelfDelay > 0);

    const signed = ofKind(entries, 'counterparty-commitment-signed');
    assert.equal(signed.length, named('hsmd_sign_remote_commitment_tx').length);
    assert.deepEqual(signed.map((e) => e.what.commitNum), signed.map((_, i) => signed[0]!.what.commitNum + BigInt(i)));
    assert.ok(signed.some((e) => e.what.htlcs! > 0), 'payments put HTLCs on some commitment');
    const validated = ofKind(entries, 'holder-commitment-validated');
    assert.equal(validated.length, named('hsmd_validate_commitment_tx').length);
    assert.equal(ofKind(entries, 'holder-commitment-revoked').length, named('hsmd_revoke_commitment_tx').length);
    assert.equal(ofKind(entries, 'counterparty-secret-stored').length, named('hsmd_validate_revocation').length);
    assert.equal(ofKind(entries, 'counterparty-htlc-tx-signed').length, named('hsmd_sign_remote_htlc_tx').length);
    assert.equal(ofKind(entries, 'mutual-close-signed').length, named('hsmd_sign_mutual_close_tx').length);
    assert.equal(ofKind(entries, 'outpoint-locked').length, named('hsmd_lock_outpoint').length);
    const sweeps = ofKind(entries, 'sweep-signed');
    assert.equal(sweeps.filter((e) => e.what.sweep === 'penalty').length, named('hsmd_sign_penalty_to_us').length);
    assert.equal(sweeps.length, named('hsmd_sign_penalty_to_us').length, 'the recording has no other sweeps');
    // Every entry names its request and reply records and carries the request's time.
    for (const e of entries) {
      const req = stored[Number(e.requestSeq)]!.record;
      assert.equal(req.kind === 'request-received' && req.id, e.id);
      assert.equal(e.at, atOf(Number(e.id)));
      assert.equal(e.latencyMicros, latencyOf(Number(e.id)));
      const rep = stored[Number(e.replySeq)]!.record;
      assert.equal(rep.kind === 'reply-received' && rep.id, e.id);
    }
    assert.deepEqual(nodeEntries(views.timeline), [], 'no policy refusal in the recording');
    assert.equal(views.timeline.pending.size, 0);
    assert.equal(views.gaps, undefined);
  });
});

test('journal: the same channel history from the events (no times, no closes or sweeps), and the same commitments as the broker log', async () => {
  const { recovery, core } = journalOf(Number.MAX_SAFE_INTEGER);
  const views = replayJournalViews(recovery);
  assert.deepEqual(stateDigest(views.state), stateDigest(core.state));
  const entries = timelineOf(views.timeline, channel);
  assert.ok(entries.every((e) => e.at === undefined && e.requestSeq === undefined));
  assert.deepEqual(ofKind(entries, 'mutual-close-signed'), []);
  assert.deepEqual(ofKind(entries, 'sweep-signed'), []);
  const fromLog = await withLog(async (log) => timelineOf((await replayBrokerLog(log.read())).timeline, channel));
  // The kinds both logs know, with their ids and numbers, agree entry for entry.
  const comparable = (es: TimelineEntry[]) =>
    es.filter((e) => ['created', 'set-up', 'outpoint-locked', 'holder-commitment-validated', 'holder-commitment-revoked',
      'counterparty-commitment-signed', 'counterparty-secret-stored', 'forgotten'].includes(e.what.kind))
      .map((e) => ({ id: e.id, what: 'htlcs' in e.what ? { ...e.what, htlcs: undefined } : e.what }));
  assert.deepEqual(comparable(entries), comparable(fromLog));
  assert.equal(ofKind(entries, 'counterparty-commitment-signed').length, named('hsmd_sign_remote_commitment_tx').length);
  assert.equal(views.stats.records, sessionRequests(NAME).length);
  assert.equal(views.stats.replyTypes.get('hsmd_sign_tx_reply'), exchanges.filter((ex) => ex.rep?.startsWith('0070')).length);
});

test('broker log: per-client counts equal the recording\'s per-connection counts; request statistics add up', async () => {
  await withLog(async (log) => {
    const { clients, stats } = await replayBrokerLog(log.read());
    const byConn = new Map<string, Map<string, number>>();
    for (const ex of exchanges) {
      const key = clientKey(clientOf(ex));
      const counts = byConn.get(key) ?? new Map<string, number>();
      counts.set(nameOf(ex), (counts.get(nameOf(ex)) ?? 0) + 1);
      byConn.set(key, counts);
    }
    assert.equal(clients.clients.size, new Set(exchanges.map((ex) => ex.conn)).size);
    for (const [key, counts] of byConn) {
      const c = clients.clients.get(key)!;
      assert.deepEqual(new Map([...c.byType].sort()), new Map([...counts].sort()), key);
      const n = [...counts.values()].reduce((a, b) => a + b);
      assert.equal(c.requests, n);
      assert.equal(c.latency.count, n);
      assert.equal(c.errors, 0);
    }
    assert.equal(stats.requests, exchanges.length);
    assert.equal(stats.firstAt, atOf(exchanges[0]!.seq));
    assert.equal(stats.lastAt, atOf(exchanges.at(-1)!.seq));
    assert.equal(stats.byType.get('hsmd_sign_penalty_to_us')?.requests, named('hsmd_sign_penalty_to_us').length);
    assert.equal(stats.latency.count, exchanges.length);
    const buckets = toArray(stats.overTime);
    assert.equal(buckets.reduce((n, b) => n + [...b.byType.values()].reduce((a, c) => a + c, 0), 0), exchanges.length);
    assert.equal(buckets.length, Math.floor(atOf(exchanges.at(-1)!.seq) / 60_000) - Math.floor(atOf(exchanges[0]!.seq) / 60_000) + 1);
    assert.equal(stats.pending.size, 0);
    // Percentiles from the histogram lie within 12.5 % above the exact ones.
    const sorted = exchanges.map((ex) => latencyOf(ex.seq)).sort((a, b) => a - b);
    for (const p of [0.5, 0.9, 0.99]) {
      const exact = sorted[Math.ceil(p * sorted.length) - 1]!;
      const got = percentile(stats.latency, p)!;
      assert.ok(got >= exact && got <= exact * 1.125, `p${p * 100}: ${got} for ${exact}`);
    }
    assert.equal(histogramRows(stats.latency).reduce((n, r) => n + r.count, 0), exchanges.length);
  });
});

test('replay from a snapshot equals replay from the start, for the broker log and the journal', async () => {
  await withLog(async (log) => {
    const full = await replayBrokerLog(log.read());
    for (const k of [1n, 57n, 200n, log.end - 1n]) {
      const partial = await replayBrokerLog(log.read(0n, k));
      assert.equal(partial.nextSeq, k);
      // Overlapping reads are harmless: records already folded are skipped.
      assert.deepEqual(await replayBrokerLog(log.read(k - 1n), partial), full, `resumed at seq ${k}`);
    }
    // A removed record shows as a gap.
    const all = await collect(log.read());
    const holed = await replayBrokerLog(all.filter((s) => s.seq !== 42n));
    assert.deepEqual(toArray(holed.gaps), [{ from: 42n, to: 43n }]);
  });
  const compacted = journalOf(50);
  const whole = journalOf(Number.MAX_SAFE_INTEGER);
  assert.ok(compacted.recovery.snapshot !== undefined && compacted.recovery.records.length < whole.recovery.records.length);
  const fromStart = replayJournal(whole.recovery);
  assert.deepEqual(stateDigest(replayJournal(compacted.recovery)), stateDigest(fromStart));
  assert.deepEqual(stateDigest(fromStart), stateDigest(whole.core.state));
  const views = replayJournalViews(compacted.recovery);
  assert.equal(views.since, compacted.recovery.snapshot.lastId);
  assert.equal(views.stats.records, compacted.recovery.records.length);
  // Views resumed at any record equal views folded from the start.
  const records = whole.recovery.records;
  const fullViews = replayJournalViews(records);
  for (const k of [0, 1, 100, records.length - 1]) {
    assert.deepEqual(replayJournalViews(records.slice(k), replayJournalViews(records.slice(0, k))), fullViews, `resumed after ${k}`);
  }
});

test('a policy refusal shows on the channel it refused (broker log) and on the node (journal)', async () => {
  // The session up to its third counterparty commitment, then the second one asked again
  // under a new id: the signer refuses it by a commitment policy (signer/policy).
  const options = sessionSignerOptions(NAME);
  const requests = sessionRequests(NAME);
  const signs = requests.filter((r) => nameOf(r.exchange) === 'hsmd_sign_remote_commitment_tx');
  const again = { ...signs[1]!.envelope, id: BigInt(exchanges.at(-1)!.seq + 1) };
  const dir = new MemoryDir();
  const { core } = SignerCore.open(openJournalFiles(dir), (s) => new Signer(options, s));
  const logged: LogRecord[] = [];
  const asked = [...requests.slice(0, requests.indexOf(signs[2]!) + 1).map((r) => ({ ...r.envelope, id: BigInt(r.exchange.seq) })), again];
  for (const envelope of asked) {
    const handled = core.handle(envelope);
    logged.push({ kind: 'request-received', id: envelope.id, client: envelope.client, type: (envelope.message[0]! << 8) | envelope.message[1]!, message: envelope.message, at: atOf(Number(envelope.id)) });
    logged.push({ kind: 'reply-received', id: envelope.id, reply: handled.reply, latencyMicros: latencyOf(Number(envelope.id)) });
  }
  const last = logged.at(-1)! as Extract<LogRecord, { kind: 'reply-received' }>;
  assert.equal(last.reply.kind, 'bad-request');
  assert.match((last.reply as { description: string }).description, /^policy-/);
  const views = await replayBrokerLog(logged.map((record, i) => ({ seq: BigInt(i), record })));
  const refused = ofKind(timelineOf(views.timeline, channel), 'policy-refused');
  assert.deepEqual(refused.map((e) => [e.id, e.what.request]), [[again.id, 'hsmd_sign_remote_commitment_tx']]);
  assert.equal(views.stats.byType.get('hsmd_sign_remote_commitment_tx')?.policyRefusals, 1);
  const journalViews = replayJournalViews(Journal.open(openJournalFiles(dir)).recovery);
  assert.deepEqual(nodeEntries(journalViews.timeline).map((e) => [e.id, e.what.kind]), [[again.id, 'policy-refused']]);
  assert.equal(journalViews.stats.policyRefusals, 1);
});
