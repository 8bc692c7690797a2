/**
 * SignerCore's commitLater (the device on Node: the journal sync off the event loop) on
 * session-basic-l1, its replies checked against CLN's recording, over an in-memory journal
 * whose syncs the test completes by hand: no batch is released before a sync that covers
 * every record appended before it (a known id's journaled reply included); the batches
 * committed during one sync share the next; the observer hears of records, and the mark
 * rises, only to what a completed sync covered; a failed sync stops the core; a lone record
 * with no sync under way is synced on the loop instead. flushLater (the in-process signer's
 * timer) syncs read-only records the same way.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { toHex } from '../signer/bytes.js';
import type { Reply } from '../signer/decision.js';
import { Signer } from '../signer/signer.js';
import { JOURNAL_FILE, openJournalFiles } from '../log/journal/journal.js';
import { MemoryDir, type MemoryFile } from '../log/memory-file.js';
import { decodeEntry } from '../log/journal/record.js';
import { slotMark } from '../log/journal/high-water.js';
import { sessionRequests, sessionSignerOptions } from '../test/session-records.js';
import { SignerCore } from './signer-core.js';

const NAME = 'session-basic-l1.jsonl';
const requests = sessionRequests(NAME);
const options = sessionSignerOptions(NAME);
const text = (reply: Reply): string | null => (reply.kind === 'frame' ? toHex(reply.frame) : reply.kind === 'none' ? null : reply.kind);

/** `dir`'s journal with a syncAsync the test completes: each sync makes durable what was written when it started. */
function manualSyncs(dir: MemoryDir) {
  const file = dir.open(JOURNAL_FILE) as MemoryFile & { syncAsync?: () => Promise<void> };
  const running: { written: number; done: (error?: Error) => void }[] = [];
  file.syncAsync = () =>
    new Promise<void>((resolve, reject) => {
      const written = file.size();
      running.push({ written, done: (error) => (error ? reject(error) : (file.sync(), resolve())) });
    });
  const settle = () => new Promise((r) => setImmediate(r));
  return {
    started: () => running.length,
    /** Completes the oldest running sync (failing it with `error`), then lets its continuations run. */
    async complete(error?: Error) {
      running.shift()!.done(error);
      await settle();
    },
  };
}

function openCore(dir: MemoryDir) {
  const heard: bigint[] = [];
  const observer = { recovered: () => {}, durable: (payloads: readonly Uint8Array[]) => heard.push(...payloads.map((p) => decodeEntry(p)).map((e) => ('id' in e ? e.id : -1n))), snapshotting: () => {} };
  const mark = slotMark(dir, 'memory');
  const { core } = SignerCore.open(openJournalFiles(dir), (state) => new Signer(options, state), { mark, observer });
  return { core, heard, mark };
}

test('commitLater: replies wait for a sync covering every record before them; batches during a sync share the next', async () => {
  const dir = new MemoryDir();
  const syncs = manualSyncs(dir);
  const { core, heard, mark } = openCore(dir);
  const released: number[] = [];
  const handleBatch = (from: number, to: number) => {
    const batch = core.begin();
    const replies = requests.slice(from, to).map((r) => text(batch.handle(r.envelope).reply));
    replies.forEach((reply, i) => assert.equal(reply, requests[from + i]!.exchange.rep, `request ${from + i}: CLN's reply`));
    const durable = batch.commitLater();
    assert.ok(durable, 'records appended and not durable: the replies must wait');
    void durable.then(() => released.push(from));
    return durable;
  };
  handleBatch(0, 3);
  assert.equal(syncs.started(), 1);
  handleBatch(3, 5);
  handleBatch(5, 6);
  assert.equal(syncs.started(), 1, 'one sync at a time');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(released, []);
  assert.deepEqual(heard, []);
  assert.equal(mark.read(), 0n, 'still the 0 the first open of the empty journal wrote');

  await syncs.complete();
  assert.deepEqual(released, [0], 'the first batch only: the others were written after its sync began');
  assert.deepEqual(heard, requests.slice(0, 3).map((r) => r.envelope.id));
  assert.equal(mark.read(), requests[2]!.envelope.id, 'the mark rises to what that sync covered');
  assert.equal(syncs.started(), 1, 'the next sync started for the batches that waited');

  // A known id (redelivered) while its record's sync runs: its journaled reply waits too.
  const again = core.begin();
  assert.equal(again.handle(requests[4]!.envelope).replayed, true);
  const replayed = again.commitLater();
  assert.ok(replayed);
  let replayedReleased = false;
  void replayed.then(() => (replayedReleased = true));

  await syncs.complete();
  assert.deepEqual(released, [0, 3, 5], 'both batches that waited, in order, on one sync');
  assert.equal(replayedReleased, true);
  assert.deepEqual(heard, requests.slice(0, 6).map((r) => r.envelope.id));
  assert.equal(mark.read(), requests[5]!.envelope.id);
  assert.equal(syncs.started(), 0);

  // Nothing appended since the last sync: the replies may leave at once.
  const known = core.begin();
  known.handle(requests[1]!.envelope);
  assert.equal(known.commitLater(), undefined);
});

test('commitLater: a failed sync rejects every waiting batch and stops the core', async () => {
  const dir = new MemoryDir();
  const syncs = manualSyncs(dir);
  const { core, heard, mark } = openCore(dir);
  const batch = core.begin();
  batch.handle(requests[0]!.envelope);
  batch.handle(requests[1]!.envelope);
  const durable = batch.commitLater()!;
  const outcome = durable.then(() => 'released', (e: Error) => e.message);
  await syncs.complete(new Error('EIO: i/o error, fsync'));
  assert.equal(await outcome, 'EIO: i/o error, fsync');
  assert.deepEqual(heard, []);
  assert.equal(mark.read(), 0n, 'still the 0 the first open of the empty journal wrote');
  assert.throws(() => core.begin(), /EIO/);
  assert.throws(() => core.handle(requests[2]!.envelope), /EIO/);
});

test('commitLater: a lone record with no sync under way is synced on the loop, before commitLater returns', async () => {
  const dir = new MemoryDir();
  const syncs = manualSyncs(dir);
  const journal = dir.open(JOURNAL_FILE) as MemoryFile;
  const { core, heard, mark } = openCore(dir);
  const lone = (i: number) => {
    const batch = core.begin();
    assert.equal(text(batch.handle(requests[i]!.envelope).reply), requests[i]!.exchange.rep, `request ${i}: CLN's reply`);
    return batch.commitLater();
  };
  assert.equal(lone(0), undefined, 'the reply may leave at once');
  assert.equal(syncs.started(), 0, 'no sync off the loop');
  assert.equal(journal.unsynced, 0, 'its record is durable');
  assert.deepEqual(heard, [requests[0]!.envelope.id]);
  assert.equal(mark.read(), requests[0]!.envelope.id);

  // While a sync runs off the loop, a lone record waits for the next one like any batch.
  const pair = core.begin();
  pair.handle(requests[1]!.envelope);
  pair.handle(requests[2]!.envelope);
  const first = pair.commitLater();
  assert.ok(first);
  const second = lone(3);
  assert.ok(second, 'a sync is under way: the lone record waits');
  assert.ok(journal.unsynced > 0);
  let released = 0;
  void first.then(() => released++);
  void second.then(() => released++);
  await syncs.complete();
  assert.equal(released, 1);
  await syncs.complete();
  assert.equal(released, 2);
  assert.deepEqual(heard, requests.slice(0, 4).map((r) => r.envelope.id));
  assert.equal(lone(4), undefined, 'no sync under way again');
  assert.equal(journal.unsynced, 0);
});

test('flushLater: read-only records synced off the event loop; the mark rises only to what was appended before the call', async () => {
  const dir = new MemoryDir();
  const syncs = manualSyncs(dir);
  const heard: bigint[] = [];
  const observer = { recovered: () => {}, durable: (payloads: readonly Uint8Array[]) => heard.push(...payloads.map((p) => decodeEntry(p)).map((e) => ('id' in e ? e.id : -1n))), snapshotting: () => {} };
  const mark = slotMark(dir, 'memory');
  const { core } = SignerCore.open(openJournalFiles(dir), (state) => new Signer(options, state), { mark, observer, syncReadOnly: false, markAtFlush: true });
  const handle = (i: number) => assert.equal(text(core.handle(requests[i]!.envelope).reply), requests[i]!.exchange.rep, `request ${i}: CLN's reply`);
  handle(0); // hsmd_init: events, synced before its reply
  handle(1); // derive_secret, check_pubkey: no events, answered unsynced
  handle(2);
  assert.deepEqual(heard, [requests[0]!.envelope.id]);
  assert.equal(core.unsynced, 2);

  const flushed = core.flushLater();
  let done = false;
  void flushed.then(() => (done = true));
  assert.equal(syncs.started(), 1, 'the sync runs off the event loop');
  handle(3); // answered while that sync runs: not covered by it
  await new Promise((r) => setImmediate(r));
  assert.equal(done, false);
  assert.equal(mark.read(), 0n, 'not raised before the sync completes (0: the first open of the empty journal)');

  await syncs.complete();
  assert.equal(done, true);
  assert.deepEqual(heard, requests.slice(0, 3).map((r) => r.envelope.id));
  assert.equal(mark.read(), requests[2]!.envelope.id, 'the mark: the last record appended before the call, not the one during the sync');
  assert.equal(core.unsynced, 1);
  assert.equal(core.flushPending, true);
  assert.equal(syncs.started(), 0, 'no sync chained behind it for a record nothing waits on: it waits for the next flush');

  const again = core.flushLater();
  await syncs.complete();
  await again;
  assert.equal(mark.read(), requests[3]!.envelope.id);
  assert.equal(core.flushPending, false);
  await core.flushLater(); // nothing to sync: resolves without one
  assert.equal(syncs.started(), 0);
});

test('flushLater: a failed sync rejects it and stops the core', async () => {
  const dir = new MemoryDir();
  const syncs = manualSyncs(dir);
  const { core } = SignerCore.open(openJournalFiles(dir), (state) => new Signer(options, state), { syncReadOnly: false, markAtFlush: true, mark: slotMark(dir, 'memory') });
  core.handle(requests[0]!.envelope);
  core.handle(requests[1]!.envelope);
  const outcome = core.flushLater().then(() => 'flushed', (e: Error) => e.message);
  await syncs.complete(new Error('EIO: i/o error, fsync'));
  assert.equal(await outcome, 'EIO: i/o error, fsync');
  assert.throws(() => core.handle(requests[2]!.envelope), /EIO/);
});
