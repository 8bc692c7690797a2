/**
 * SignerCore on session-basic-l1 (recorded CLN replies) over the in-memory file with
 * faults: replies byte-identical to CLN's; the record is synced before the state changes
 * (write-ahead); a redelivered id gets its journaled reply without a second decision,
 * after a restart and after compaction too; a retry with a new id and the same content
 * gets the identical reply; a crash at any request (losing or tearing the unsynced
 * record) recovers the state of the acknowledged prefix and the session then continues
 * (after hsmd_init, as lightningd restarts) with every reply identical; snapshots bound the journal.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { toHex } from '../signer/bytes.js';
import type { Reply } from '../signer/decision.js';
import { Signer } from '../signer/signer.js';
import { JOURNAL_FILE, Journal, openJournalFiles } from '../log/journal/journal.js';
import { MemoryDir, type MemoryFile } from '../log/memory-file.js';
import { stateDigest } from '../projections/signer-state.js';
import { liveSession, sessionRequests, sessionSignerOptions } from '../test/session-records.js';
import { SignerCore, type SignerCoreOptions } from './signer-core.js';
import { slotMark } from '../log/journal/high-water.js';
import { JournalCorruptError } from '../log/journal/frame.js';

const NAME = 'session-basic-l1.jsonl';
const requests = sessionRequests(NAME);
const live = liveSession(NAME);
const options = sessionSignerOptions(NAME);
/** The live signer's state digest after each prefix of the session. */
const liveDigests: string[] = (() => {
  const signer = new Signer(options);
  return [toHex(stateDigest(signer.state)), ...requests.map((r) => (signer.handle(r.envelope), toHex(stateDigest(signer.state))))];
})();

const recorded = (reply: Reply): string | null => (reply.kind === 'frame' ? toHex(reply.frame) : reply.kind === 'none' ? null : `${reply.kind}`);
const open = (dir: MemoryDir, opts: SignerCoreOptions = {}) => SignerCore.open(openJournalFiles(dir), (state) => new Signer(options, state), opts);

/** The journal file of `dir`, and the state `current()` gave at its latest sync. */
function watchSyncs(dir: MemoryDir, current: () => unknown): { journal: MemoryFile; stateAtSync: () => unknown } {
  const journal = dir.open(JOURNAL_FILE) as MemoryFile;
  const sync = journal.sync.bind(journal);
  let stateAtSync: unknown;
  journal.sync = () => {
    stateAtSync = current();
    sync();
  };
  return { journal, stateAtSync: () => stateAtSync };
}

test('every reply through the core equals CLN\'s recording; each record is synced before the state changes', () => {
  const dir = new MemoryDir();
  const { core } = open(dir);
  const { journal, stateAtSync } = watchSyncs(dir, () => core.state);
  for (const { exchange, envelope } of requests) {
    const before = core.state;
    const handled = core.handle(envelope);
    assert.equal(recorded(handled.reply), exchange.rep, `seq ${exchange.seq}`);
    assert.equal(stateAtSync(), before, `seq ${exchange.seq}: synced before apply`);
  }
  assert.equal(journal.syncs, requests.length);
  assert.equal(toHex(stateDigest(core.state)), liveDigests.at(-1));
});

test('a redelivered id gets its journaled reply, no second decision; after restart and compaction too', () => {
  const dir = new MemoryDir();
  let { core } = open(dir, { snapshotEvery: 50, recentReplies: 8 });
  for (const { envelope } of requests.slice(0, 120)) core.handle(envelope);
  const size = dir.open(JOURNAL_FILE).size();
  const again = core.handle(requests[115]!.envelope);
  assert.deepEqual([again.replayed, again.events], [true, []]);
  assert.deepEqual(again.reply, live.decisions[115]!.decision.reply);
  assert.equal(dir.open(JOURNAL_FILE).size(), size, 'nothing journaled');
  ({ core } = open(dir, { snapshotEvery: 50, recentReplies: 8 }));
  // 100 was snapshotted (with the 8 latest replies: ids 93-100), 101-120 are in the journal.
  for (const id of [93, 100, 101, 120]) {
    const h = core.handle(requests[id - 1]!.envelope);
    assert.ok(h.replayed, `id ${id}`);
    assert.deepEqual(h.reply, live.decisions[id - 1]!.decision.reply);
  }
  const stale = core.handle(requests[91]!.envelope);
  assert.deepEqual(stale.reply, { kind: 'bad-request', description: 'request id 92 is not after the last handled id 120 and its reply is no longer kept: not deciding it again' });
  const other = core.handle({ ...requests[119]!.envelope, message: requests[118]!.envelope.message });
  assert.deepEqual(other.reply, { kind: 'bad-request', description: 'request id 120 was already answered for a different request' });
  assert.equal(toHex(stateDigest(core.state)), liveDigests[120]);
});

test('replies of recovered records are read back from the journal: kept across the next snapshot, refused if damaged since', () => {
  // What lightningd sends: the session's first 120 requests, then after each restart
  // hsmd_init again and the session going on, ids increasing throughout.
  const init = requests.find((r) => r.envelope.message[1] === 11)!.envelope;
  const sent = requests.slice(0, 120).map((r) => r.envelope);
  const next = (env: (typeof sent)[number]) => sent.push({ ...env, id: BigInt(sent.length + 1) });
  const answered: Reply[] = [];
  const dir = new MemoryDir();
  const opts = { snapshotEvery: 50, recentReplies: 40 };
  let { core } = open(dir, opts);
  const handleNew = (from: number) => {
    for (const env of sent.slice(from)) answered.push(core.handle(env).reply);
  };
  handleNew(0);
  // Reopened: 101-120 recovered from the journal; 30 more make the next snapshot (at 150), whose
  // 40 latest replies are 111-120 read back and 121-150 handled since.
  ({ core } = open(dir, opts));
  next(init);
  for (const r of requests.slice(120, 149)) next(r.envelope);
  handleNew(120);
  ({ core } = open(dir, opts));
  for (const id of [111, 120, 121, 150]) {
    const h = core.handle(sent[id - 1]!);
    assert.deepEqual([h.replayed, h.reply], [true, answered[id - 1]], `id ${id}`);
  }
  assert.equal(recorded(answered[149]!), requests[148]!.exchange.rep, 'the session went on after hsmd_init');
  assert.match(core.handle(sent[109]!).reply.kind, /bad-request/);
  // A recovered record's frame damaged after open: its id is refused, never answered from garbage.
  next(init);
  for (const r of requests.slice(149, 158)) next(r.envelope);
  handleNew(150);
  ({ core } = open(dir, opts));
  const offsets = Journal.open(openJournalFiles(dir)).recovery.records.map((r) => r.offset);
  assert.equal(offsets.length, 10);
  dir.open(JOURNAL_FILE).flipBit(offsets[4]! + 20);
  assert.throws(() => core.handle(sent[154]!), (e: unknown) => e instanceof JournalCorruptError && e.offset === offsets[4]);
  assert.deepEqual(core.handle(sent[155]!).reply, answered[155]);
});

test('a retry with a new id and the same content gets the identical reply, for every request of the session', () => {
  const { core } = open(new MemoryDir());
  let id = 0n;
  for (const { exchange, envelope } of requests) {
    const first = core.handle({ ...envelope, id: ++id });
    const retry = core.handle({ ...envelope, id: ++id });
    assert.equal(recorded(first.reply), exchange.rep, `seq ${exchange.seq}`);
    assert.deepEqual(retry.reply, first.reply, `seq ${exchange.seq} retried`);
    assert.equal(retry.replayed, false);
  }
});

/** Answers the first `k` requests, then journals request `k` with the power going before its sync (never acknowledged). */
function powerLossAtSync(core: SignerCore, dir: MemoryDir, k: number): MemoryFile {
  for (const { envelope } of requests.slice(0, k)) core.handle(envelope);
  const journal = dir.open(JOURNAL_FILE) as MemoryFile;
  const sync = journal.sync;
  journal.sync = () => {
    throw new Error('power lost');
  };
  assert.throws(() => core.handle(requests[k]!.envelope), /power lost/);
  journal.sync = sync;
  return journal;
}

test('a crash at any request (record lost or torn) recovers the acknowledged prefix; the session then goes on identically', () => {
  // Every 23rd request (crossing snapshots every 40), the torn and the lost form alternating.
  for (let k = 0; k < requests.length; k += 23) {
    for (const keep of [k % 2 === 0 ? 0 : 13]) {
      const dir = new MemoryDir();
      powerLossAtSync(open(dir, { snapshotEvery: 40 }).core, dir, k);
      dir.crash(keep);
      const logged: string[] = [];
      const { core: recovered } = open(dir, { snapshotEvery: 40, log: (l) => logged.push(l) });
      assert.equal(toHex(stateDigest(recovered.state)), liveDigests[k], `crash at ${k}, keep ${keep}`);
      assert.equal(logged.some((l) => /torn last write of 13 bytes/.test(l)), keep > 0, `crash at ${k}: ${logged}`);
      // As lightningd after a restart: hsmd_init first (the keys are not state), then the rest.
      const init = requests.find((r) => r.envelope.message[1] === 11)!;
      const restarted = [...(k > 0 ? [init] : []), ...requests.slice(k)];
      restarted.forEach(({ exchange, envelope }, i) => {
        const handled = recovered.handle({ ...envelope, id: 1000n + BigInt(i) });
        assert.equal(recorded(handled.reply), exchange.rep, `crash at ${k}: seq ${exchange.seq}`);
      });
      assert.equal(toHex(stateDigest(recovered.state)), liveDigests.at(-1));
    }
  }
});

test('snapshots every N records keep the journal short and reopen to the same state', () => {
  const dir = new MemoryDir();
  const { core } = open(dir, { snapshotEvery: 25 });
  for (const { envelope } of requests) core.handle(envelope);
  const { recovery, core: reopened } = open(dir);
  assert.equal(recovery.snapshot?.lastId, 175n);
  assert.equal(Journal.open(openJournalFiles(dir)).recovery.records.length, requests.length - 175);
  assert.equal(toHex(stateDigest(reopened.state)), liveDigests.at(-1));
});

test('handleBatch: the session in batches, one sync each, replies in order as recorded, the same state as one at a time', () => {
  const dir = new MemoryDir();
  const { core } = open(dir);
  const journal = dir.open(JOURNAL_FILE) as MemoryFile;
  const syncs = journal.syncs;
  assert.ok(requests.length < 1000, 'no snapshot (its own syncs) in this run');
  let batches = 0;
  for (let i = 0; i < requests.length; i += 37, batches++) {
    const batch = requests.slice(i, i + 37);
    const handled = core.handleBatch(batch.map((r) => r.envelope));
    assert.equal(handled.length, batch.length);
    handled.forEach((h, k) => assert.equal(recorded(h.reply), batch[k]!.exchange.rep, `seq ${batch[k]!.exchange.seq}`));
  }
  assert.equal(journal.syncs - syncs, batches);
  assert.equal(toHex(stateDigest(core.state)), liveDigests.at(-1));
  // Reopened from the journal (and its snapshots): the same state.
  assert.equal(toHex(stateDigest(open(dir).core.state)), liveDigests.at(-1));
  // A batch of known ids only: their journaled replies, nothing appended or synced.
  const again = core.handleBatch(requests.slice(-3).map((r) => r.envelope));
  assert.deepEqual(again.map((h) => h.replayed), [true, true, true]);
  assert.equal(journal.syncs - syncs, batches);

  // With snapshots and compaction between batches: the same state, after reopening too.
  const snapDir = new MemoryDir();
  const snap = open(snapDir, { snapshotEvery: 50, recentReplies: 8 }).core;
  for (let i = 0; i < requests.length; i += 37) snap.handleBatch(requests.slice(i, i + 37).map((r) => r.envelope));
  assert.equal(toHex(stateDigest(snap.state)), liveDigests.at(-1));
  assert.equal(toHex(stateDigest(open(snapDir).core.state)), liveDigests.at(-1));
});

test('commit(source, events): sourced records between requests, numbered per source, synced before applied, replayed after reopen and across snapshots', () => {
  const dir = new MemoryDir();
  const opts = { snapshotEvery: 30 };
  let { core } = open(dir, opts);
  const { stateAtSync } = watchSyncs(dir, () => core.state);
  // A control command's change: the dev flags the preapprove handler reads.
  const refuse = { kind: 'DevPreinitialized', failPreapprove: true, noPreapproveCheck: false, warnOnOvergrind: false } as const;
  const warn = (n: number) => ({ kind: 'PolicyWarned', policy: 'policy-htlc-count', detail: `note ${n}` }) as const;
  assert.throws(() => core.commit('Control!', [], 1), /source name "Control!" must be 1 to 32 characters/);
  requests.forEach(({ exchange, envelope }, i) => {
    if (i % 17 === 5) {
      const before = core.state;
      const record = core.commit(i % 2 ? 'control' : 'chain', [warn(i)], 1_700_000_000_000 + i);
      assert.equal(stateAtSync(), before, `${record.source} #${record.seq}: synced before apply`);
    }
    assert.equal(recorded(core.handle(envelope).reply), exchange.rep, `seq ${exchange.seq}`);
  });
  const seqs = { control: core.lastSeq('control'), chain: core.lastSeq('chain') };
  assert.ok(seqs.control > 2n && seqs.chain > 2n);
  assert.equal(toHex(stateDigest(core.state)), liveDigests.at(-1), 'PolicyWarned changes no state');
  const batch = core.begin();
  assert.throws(() => core.commit('control', [refuse], 2), /inside a request batch/);
  batch.commit();

  const record = core.commit('control', [refuse], 1_700_000_000_999);
  assert.equal(record.seq, seqs.control + 1n);
  assert.equal(core.state.dev.failPreapprove, true);
  // Reopened: the state holds the change, the numbering goes on (the snapshot kept it), and
  // the sourced record after the last snapshot is recovered as an entry, in order.
  const reopened = open(dir, opts);
  core = reopened.core;
  assert.equal(core.state.dev.failPreapprove, true);
  assert.deepEqual({ control: core.lastSeq('control'), chain: core.lastSeq('chain') }, { control: seqs.control + 1n, chain: seqs.chain });
  const { entries, records } = Journal.open(openJournalFiles(dir)).recovery;
  assert.deepEqual(entries.at(-1)!.entry, record);
  assert.equal(records.length, entries.length - entries.filter((e) => 'source' in e.entry).length);
  assert.equal(core.commit('chain', [], 3).seq, seqs.chain + 1n);
});

test('markAtFlush: the high-water mark is raised at flush(), to the last synced id, never above the journal', () => {
  const dir = new MemoryDir();
  const mark = slotMark(dir, 'memory');
  const core = open(dir, { syncReadOnly: false, markAtFlush: true, mark }).core;
  const first = live.decisions.findIndex((d) => d.decision.events.length > 0);
  for (const r of requests.slice(0, first + 1)) core.handle(r.envelope);
  assert.equal(mark.read(), 0n, 'a state-changing reply left without a mark raise (0: the first open of the empty journal)');
  assert.equal(core.flushPending, true);
  core.flush();
  assert.equal(mark.read(), requests[first]!.envelope.id);
  assert.equal(core.flushPending, false);
  // Reopened at the same journal, the mark is not above it.
  assert.equal(open(dir, { mark }).core.lastId, requests[first]!.envelope.id);
});

test('a power cut that leaves the unsynced record as zeros (FAT): cut against the mark kept apart, refused without one', () => {
  for (const k of [0, 1, 57, 140]) {
    const dir = new MemoryDir();
    const nvs = new MemoryDir(); // the mark apart from the card, committed on every write (NVS: docs/journal.md "Rollback")
    const mark = slotMark(nvs, 'NVS');
    const journal = powerLossAtSync(open(dir, { snapshotEvery: 40, mark }).core, dir, k);
    const zeros = journal.unsynced;
    journal.crashKeepingSize();
    const damaged = journal.read(0, journal.size());
    assert.ok(zeros > 8 && damaged.subarray(-zeros).every((b) => b === 0), `crash at ${k}: ${zeros} zero bytes at the end`);
    // Without a mark the zeros could stand for answered records: refused, the file kept.
    assert.throws(() => open(dir, { snapshotEvery: 40 }), (e) => e instanceof JournalCorruptError && e.offset === damaged.length - zeros);
    assert.throws(() => open(dir, { snapshotEvery: 40, mark: slotMark(new MemoryDir(), 'nowhere') }), /no high-water mark in nowhere/);
    assert.deepEqual(journal.read(0, journal.size()), damaged);
    // The mark is at the last acknowledged id (0: the new device's first open): nothing answered was in the zeros.
    assert.equal(mark.read(), k === 0 ? 0n : requests[k - 1]!.envelope.id);
    const logged: string[] = [];
    const { core: recovered } = open(dir, { snapshotEvery: 40, mark, log: (l) => logged.push(l) });
    assert.equal(toHex(stateDigest(recovered.state)), liveDigests[k], `crash at ${k}`);
    assert.ok(logged.some((l) => new RegExp(`torn last write of ${zeros} zero bytes .*high-water mark in NVS is id ${mark.read()}`).test(l)), `crash at ${k}: ${logged}`);
    assert.equal(journal.size(), damaged.length - zeros);
    // As lightningd after a restart: hsmd_init first, then the rest, identically.
    const init = requests.find((r) => r.envelope.message[1] === 11)!;
    [...(k > 0 ? [init] : []), ...requests.slice(k)].forEach(({ exchange, envelope }, i) => {
      assert.equal(recorded(recovered.handle({ ...envelope, id: 1000n + BigInt(i) }).reply), exchange.rep, `crash at ${k}: seq ${exchange.seq}`);
    });
    assert.equal(toHex(stateDigest(recovered.state)), liveDigests.at(-1));
  }
});
