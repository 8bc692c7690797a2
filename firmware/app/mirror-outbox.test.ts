/**
 * The device mirror's bounded outbox (docs/journal.md "Mirror", mirror-outbox.ts): the pure
 * rule, then the real JournalMirror under a real SignerCore answering a recorded session, with
 * a manual clock and the broker's own decision (mirror-store.ts acceptEntries, test/mirror-kit.ts).
 * Offline, or beside a broker that never answers or keeps refusing, the outbox stays within its
 * bound (a snapshot the mirror asks for stands in for the records), and the log says so a
 * bounded number of times; once the broker takes the entries, its chain passes the restore's
 * check (log/mirror/verify.ts) and the journal rebuilt from it (restore.ts rebuildJournal)
 * holds the device's state.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import type { JournalObserver } from '../../core/journal-observer.js';
import { SignerCore } from '../../core/signer-core.js';
import { Journal, openJournalFiles } from '../../log/journal/journal.js';
import { MemoryDir } from '../../log/memory-file.js';
import { GENESIS, makeEntry, type MirrorEntry, snapshotPayload } from '../../log/mirror/entry.js';
import { checkMirror } from '../../log/mirror/verify.js';
import { stateDigest } from '../../projections/signer-state.js';
import { toHex } from '../../signer/bytes.js';
import type { Envelope } from '../../signer/envelope.js';
import { peekType } from '../../signer/wire/messages.js';
import { Signer } from '../../signer/signer.js';
import type { SignerState } from '../../signer/state.js';
import { ManualClock, MirrorBroker } from '../../test/mirror-kit.js';
import { sessionRequests, sessionSignerOptions } from '../../test/session-records.js';
import { MIRROR_REPORT_MS } from '../../log/mirror/report-limit.js';
import { DEVICE_MIRROR_OUTBOX_BYTES } from './device-memory.js';
import { entryHeapBytes, MIRROR_ENTRY_OVERHEAD, MirrorOutbox } from './mirror-outbox.js';
import { JournalMirror, MIRROR_RESEND_MS, openAnchorFiles } from './mirror.js';
import { rebuildJournal } from './restore.js';

const KEY = new Uint8Array(32).fill(0x3c);

const record = (counter: number, size: number): MirrorEntry => ({ kind: 'record', counter: BigInt(counter), prevMac: GENESIS.mac, payload: new Uint8Array(size), mac: GENESIS.mac });
const snapshot = (counter: number, size: number): MirrorEntry => ({ ...record(counter, size), kind: 'snapshot' });
const counters = (o: MirrorOutbox): bigint[] => o.after(0n).map((e) => e.counter);

test('the outbox rule: under the bound nothing; over it the newest snapshot supersedes what is before it, and a fresh one is wanted only where it reclaims half the bound', () => {
  const size = 1000 - MIRROR_ENTRY_OVERHEAD; // entries of 1,000 bytes
  const o = new MirrorOutbox(10_000);
  for (let c = 1; c <= 10; c++) o.push(record(c, size));
  assert.equal(o.bytes, 10_000);
  assert.equal(o.trim(), undefined, 'at the bound: nothing');
  o.push(record(11, size));
  assert.deepEqual(o.trim(), { dropped: undefined, wantSnapshot: true, oversized: undefined }, 'no snapshot held: only a fresh one helps');
  assert.equal(o.length, 11, 'records are never dropped without a snapshot after them');
  o.push(snapshot(12, size));
  o.push(record(13, size));
  assert.deepEqual(o.trim(), { dropped: { from: 1n, to: 11n, count: 11, bytes: 11_000, by: 12n }, wantSnapshot: false, oversized: undefined });
  assert.deepEqual(counters(o), [12n, 13n]);
  for (let c = 14; c <= 22; c++) o.push(record(c, size));
  // 11 entries, 11,000 bytes: the 10 records after the snapshot are more than half the bound.
  assert.deepEqual(o.trim(), { dropped: undefined, wantSnapshot: true, oversized: undefined });
  assert.equal(o.acknowledge(13n)?.counter, 13n, 'the last one acknowledged');
  assert.deepEqual(counters(o), [14n, 15n, 16n, 17n, 18n, 19n, 20n, 21n, 22n]);
  assert.equal(o.bytes, 9_000);
  assert.equal(o.acknowledge(13n), undefined);
});

test('the outbox rule: a snapshot bigger than half the bound is kept with what follows, said as oversized, and a fresh one waits for half the bound of records', () => {
  const o = new MirrorOutbox(10_000);
  o.push(record(1, 100));
  o.push(snapshot(2, 7_000));
  o.push(record(3, 2_000));
  o.push(record(4, 1_000));
  const big = { counter: 2n, bytes: entryHeapBytes(snapshot(2, 7_000)) };
  const first = o.trim()!;
  assert.equal(first.dropped?.count, 1);
  assert.deepEqual({ want: first.wantSnapshot, oversized: first.oversized }, { want: false, oversized: big });
  assert.deepEqual(counters(o), [2n, 3n, 4n], 'the snapshot and what follows it are kept');
  o.push(record(5, 2_000));
  assert.deepEqual(o.trim(), { dropped: undefined, wantSnapshot: true, oversized: undefined }, 'records after it now over half the bound');
});

const SESSION = 'session-basic-l1.jsonl';
const RECORDED = sessionRequests(SESSION).map((r) => r.envelope);
const DERIVE_SECRET = RECORDED.filter((e) => peekType(e.message) === 27);
/** The session, then its hsmd_derive_secret requests again and again with new ids: many records (164 bytes each as entries). */
const REQUESTS: readonly Envelope[] = [...RECORDED, ...Array.from({ length: 800 }, (_, i) => ({ ...DERIVE_SECRET[i % DERIVE_SECRET.length]!, id: BigInt(RECORDED.length + i + 1) }))];
const SIGNER_OPTIONS = sessionSignerOptions(SESSION);
const makeSigner = (state?: SignerState) => new Signer(SIGNER_OPTIONS, state);
const digest = (state: SignerState): string => toHex(stateDigest(state));

/**
 * A device answering the session: its core, its mirror (bound `outboxBytes`) publishing to
 * `broker`, and the size as entries of what the core told the mirror.
 */
function device(outboxBytes = DEVICE_MIRROR_OUTBOX_BYTES) {
  const clock = new ManualClock();
  const broker = new MirrorBroker(clock);
  const lines: string[] = [];
  let opened: SignerCore | undefined;
  const mirror = new JournalMirror({
    key: KEY, dir: new MemoryDir(), clock, publish: broker.publish, log: (level, line) => lines.push(`${level}: ${line}`),
    snapshotNeeded: () => opened?.snapshotSoon(), outboxBytes,
  });
  const made = { recordBytes: 0, largestRecord: 0, snapshotBytes: [] as number[] };
  const asEntry = (payload: Uint8Array) => entryHeapBytes({ kind: 'record', counter: 0n, prevMac: GENESIS.mac, payload, mac: GENESIS.mac });
  const observer: JournalObserver = {
    recovered: (snapshot, payloads) => mirror.recovered(snapshot, payloads),
    durable: (payloads) => {
      for (const p of payloads) {
        made.recordBytes += asEntry(p);
        made.largestRecord = Math.max(made.largestRecord, asEntry(p));
      }
      mirror.durable(payloads);
    },
    snapshotting: (lastId, body) => {
      made.snapshotBytes.push(asEntry(snapshotPayload(lastId, body)));
      mirror.snapshotting(lastId, body);
    },
  };
  const { core } = SignerCore.open(openJournalFiles(new MemoryDir()), makeSigner, { observer });
  opened = core;
  return { clock, broker, lines, mirror, core, made };
}

/**
 * Answers REQUESTS, `before(i)` and `after()` around each and `msEach` ms of the clock after it
 * (its timers run then, as the event loop would); returns the largest outbox seen after the
 * timers and the largest seen at all.
 */
function answer(d: ReturnType<typeof device>, msEach: number, before: (i: number) => void = () => {}, after: () => void = () => {}): { settled: number; peak: number } {
  let settled = 0;
  let peak = 0;
  for (const [i, r] of REQUESTS.entries()) {
    before(i);
    d.core.handle(r);
    peak = Math.max(peak, d.mirror.unacknowledgedBytes);
    after();
    d.clock.advance(msEach);
    settled = Math.max(settled, d.mirror.unacknowledgedBytes);
  }
  return { settled, peak };
}

/** What a restore from the broker's chain finds: it must pass the check, and its rebuilt journal's state. */
function restoredDigest(broker: MirrorBroker): string {
  const checked = checkMirror(KEY, broker.entries, { repliedUpTo: REQUESTS.at(-1)!.id });
  const dir = new MemoryDir();
  rebuildJournal(Journal.open(openJournalFiles(dir)).journal, openAnchorFiles(dir), checked);
  return digest(SignerCore.open(openJournalFiles(dir), makeSigner).core.state);
}

const lineCount = (lines: readonly string[], pattern: RegExp): number => lines.filter((l) => pattern.test(l)).length;
const DROPPED = /^unusual: mirror: dropped entries \d+\.\.\d+ .* the snapshot entry \d+ supersedes them/;

for (const bound of [DEVICE_MIRROR_OUTBOX_BYTES, 20 * 1024]) {
  test(`offline for ${REQUESTS.length} records (outbox bound ${bound} bytes): the outbox stays within it; on reconnect the broker's chain restores the device's state`, () => {
    const d = device(bound);
    d.mirror.connected();
    d.mirror.disconnected();
    const { settled, peak } = answer(d, 1000);
    const made = d.mirror.position.counter;
    assert.ok(made > BigInt(REQUESTS.length), 'the snapshots the mirror asked for are entries too');
    assert.ok(settled <= bound, `${settled} bytes unacknowledged, bound ${bound}`);
    assert.ok(peak <= bound + d.made.largestRecord, `${peak} bytes before the snapshot asked for came`);
    assert.equal(d.broker.sent.length, 0, 'nothing sent offline');
    const drops = lineCount(d.lines, DROPPED);
    assert.ok(drops >= 1 && drops <= 1 + (REQUESTS.length * 1000) / MIRROR_REPORT_MS, d.lines.join('\n'));
    assert.deepEqual(d.lines.filter((l) => !DROPPED.test(l)), []);

    d.mirror.connected();
    d.broker.deliver(d.mirror);
    assert.equal(d.mirror.unacknowledged, 0);
    assert.equal(d.broker.tip?.counter, made);
    assert.equal(d.broker.entries[0]?.kind, 'snapshot', 'the broker holds the chain from a snapshot on');
    assert.equal(restoredDigest(d.broker), digest(d.core.state));
  });
}

test('a snapshot bigger than half the bound: kept with what follows it, said once as a configuration problem, and no snapshot at every record', () => {
  const bound = 12 * 1024;
  const d = device(bound);
  d.mirror.connected();
  d.mirror.disconnected();
  const { settled } = answer(d, 1000);
  const largest = Math.max(...d.made.snapshotBytes);
  assert.ok(largest > bound / 2, `the session's snapshots reach ${largest} bytes`);
  const oversized = d.lines.filter((l) => /the snapshot entry \d+ is \d+ bytes, more than half the outbox bound of 12288 bytes: .* A configuration problem/.test(l));
  assert.equal(oversized.length, 1, d.lines.join('\n'));
  assert.match(oversized[0]!, /^broken: /);
  assert.ok(settled <= largest + bound / 2, `${settled} bytes: the snapshot and half the bound`);
  // A fresh snapshot once the records after the last one pass half the bound: one per that many record bytes at most.
  assert.ok(d.made.snapshotBytes.length <= d.made.recordBytes / (bound / 2), `${d.made.snapshotBytes.length} snapshots for ${d.made.recordBytes} bytes of records`);
  d.mirror.connected();
  d.broker.deliver(d.mirror);
  assert.equal(restoredDigest(d.broker), digest(d.core.state));
});

test('a broker that never answers: the outbox and every resend stay within the bound, the resend line is logged once per 10 min', () => {
  const d = device();
  d.mirror.connected();
  const { settled } = answer(d, 10_000);
  assert.ok(settled <= DEVICE_MIRROR_OUTBOX_BYTES);
  const sentAt = new Map<number, number>();
  for (const s of d.broker.sent) sentAt.set(s.at, (sentAt.get(s.at) ?? 0) + s.counters.length);
  // Every entry weighs at least the overhead: no more of them than that fit in the outbox.
  assert.ok(Math.max(...sentAt.values()) <= DEVICE_MIRROR_OUTBOX_BYTES / MIRROR_ENTRY_OVERHEAD, 'no resend carries more than the outbox');
  const minutes = (REQUESTS.length * 10_000) / 60_000;
  const resends = lineCount(d.lines, /unacknowledged for 5 s; sending them again/);
  assert.ok(resends >= 2 && resends <= 1 + minutes / 10, `${resends} resend lines in ${minutes} min`);
  assert.ok(d.lines.some((l) => /sending them again \(\d+ more times since this was last logged\)$/.test(l)), 'with how many were not logged');
  assert.ok(lineCount(d.lines, DROPPED) <= 1 + minutes / 10);
  assert.ok(MIRROR_RESEND_MS < 10_000);
});

test('another device with this seed writing in turn: memory stays bounded, each line is logged a bounded number of times, and once it stops this device\'s snapshot makes the broker\'s chain its own', () => {
  const d = device();
  d.mirror.connected();
  let foreign = 0;
  const bursts: number[] = [];
  // Every 250 requests, in the first two thirds, the other device stores entries of its own
  // after the broker's chain until it is 5 ahead of this device.
  const { settled } = answer(d, 10_000, (i) => {
    if (i === 0 || i % 250 !== 0 || i > (2 * REQUESTS.length) / 3) return;
    bursts.push(i);
    while ((d.broker.tip?.counter ?? 0n) < d.mirror.position.counter + 5n) {
      d.broker.storeForeign(makeEntry(KEY, d.broker.tip ?? GENESIS, 'record', Uint8Array.of(2, ++foreign)));
    }
  }, () => d.broker.deliver(d.mirror));
  d.broker.deliver(d.mirror);
  assert.deepEqual(bursts, [250, 500]);
  assert.ok(settled <= DEVICE_MIRROR_OUTBOX_BYTES, `${settled} bytes`);
  const windows = 1 + (REQUESTS.length * 10_000) / MIRROR_REPORT_MS;
  const ahead = d.lines.filter((l) => /the broker holds entries up to \d+, this device only made \d+/.test(l));
  assert.equal(ahead.length, bursts.length, 'once per burst, 40 min apart');
  assert.match(ahead[1]!, /\(\d+ more times? since this was last logged\)$/);
  const drops = lineCount(d.lines, DROPPED);
  assert.ok(drops >= bursts.length && drops <= windows, `${drops} drop lines`);
  assert.ok(d.lines.length <= 5 * windows, `${d.lines.length} lines in all:\n${d.lines.join('\n')}`);
  // The last snapshot the bound asked for followed the other device's entries after a gap.
  assert.equal(d.mirror.unacknowledged, 0);
  assert.equal(d.broker.tip?.counter, d.mirror.position.counter);
  assert.equal(restoredDigest(d.broker), digest(d.core.state));
});
