/**
 * The crash rule of read-only replies (docs/journal.md "Read-only replies"): with
 * syncReadOnly false (the in-process signer), a record whose decision has no events is
 * answered before it is synced. Power lost anywhere, with flushes and batches anywhere:
 * - every reply whose record had events is in the recovered journal, with every record
 *   before it (asked again, it is the journaled reply, not a second decision);
 * - the recovered state is the crash-free state after every answered request (what was
 *   lost changed nothing);
 * - after hsmd_init (as lightningd restarts), a lost read-only request asked again gets the
 *   reply it got before, and the session goes on with CLN's recorded replies.
 * With the host's flush off the event loop (SignerCore.flushLater, syncs completing at any
 * later step), the high-water mark raised by each flush never exceeds what a crash keeps: for
 * the in-process signer, and for the device, which syncs every record but raises its mark on a
 * timer (firmware/app/device.ts MARK_RAISE_MS).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import { SignerCore } from '../core/signer-core.js';
import { JOURNAL_FILE, openJournalFiles } from '../log/journal/journal.js';
import { MemoryDir, type MemoryFile } from '../log/memory-file.js';
import { stateDigest } from '../projections/signer-state.js';
import { toHex } from '../signer/bytes.js';
import type { Reply } from '../signer/decision.js';
import { Signer } from '../signer/signer.js';
import { sessionRequests, sessionSignerOptions } from '../test/session-records.js';
import { slotMark } from '../log/journal/high-water.js';
import { assertAsyncProperty, assertProperty } from './settings.js';

const NAME = 'session-basic-l1.jsonl';
const requests = sessionRequests(NAME);
const options = sessionSignerOptions(NAME);
const text = (reply: Reply): string => (reply.kind === 'frame' ? toHex(reply.frame) : reply.kind);

/** The crash-free run: each request's reply, whether it had events, and the state digest after it. */
const reference = (() => {
  const signer = new Signer(options);
  return requests.map((r) => {
    const { reply, events } = signer.handle(r.envelope);
    return { reply: text(reply), hasEvents: events.length > 0, digest: toHex(stateDigest(signer.state)) };
  });
})();

/** What the host does between requests: nothing, flush the ridden-along records, or batch the next few. */
const step = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'one' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'flush' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('batch' as const), size: fc.integer({ min: 2, max: 6 }) }) },
);

const scenario = fc.record({
  steps: fc.array(step, { minLength: 1, maxLength: 120 }),
  keep: fc.nat({ max: 400 }), // bytes of the unsynced tail that reach the disk (a torn write)
});

/** Requests from `answered` on, up to `size` of them, as one batch (CLN's replies checked): how many. */
function answerNext(core: SignerCore, answered: number, size: number): number {
  const batch = core.begin();
  const n = Math.min(size, requests.length - answered);
  const replies = requests.slice(answered, answered + n).map((r) => batch.handle(r.envelope));
  batch.commit();
  replies.forEach((h, i) => assert.equal(text(h.reply), reference[answered + i]!.reply, `request ${answered + i + 1}`));
  return n;
}

test('property: read-only replies that ride along lose nothing that matters in a crash', () => {
  assertProperty(
    fc.property(scenario, ({ steps, keep }) => {
      const dir = new MemoryDir();
      const open = () => SignerCore.open(openJournalFiles(dir), (state) => new Signer(options, state), { syncReadOnly: false, snapshotEvery: 30 }).core;
      let core = open();
      let answered = 0;
      for (const s of steps) {
        if (answered >= requests.length) break;
        if (s.kind === 'flush') core.flush();
        else answered += answerNext(core, answered, s.kind === 'batch' ? s.size : 1);
      }
      (dir.open(JOURNAL_FILE) as MemoryFile).crash(keep);

      core = open();
      // Requests up to the last one with events must all be there; only a read-only tail may be lost.
      let lastWithEvents = answered - 1;
      while (lastWithEvents >= 0 && !reference[lastWithEvents]!.hasEvents) lastWithEvents--;
      const recovered = Number(core.lastId ?? 0n);
      assert.ok(recovered >= lastWithEvents + 1, `recovered up to request ${recovered}, but request ${lastWithEvents + 1} had events`);
      for (let i = recovered; i < answered; i++) assert.equal(reference[i]!.hasEvents, false, `request ${i + 1} had events and was lost`);
      assert.equal(toHex(stateDigest(core.state)), answered === 0 ? toHex(stateDigest(new Signer(options).state)) : reference[answered - 1]!.digest, 'recovered state');
      for (let i = 0; i < recovered; i++) {
        const again = core.handle(requests[i]!.envelope);
        assert.ok(again.replayed && text(again.reply) === reference[i]!.reply, `request ${i + 1}: its journaled reply`);
      }
      // As lightningd after a restart: hsmd_init first (the keys are not state), then the
      // lost tail asked again and the rest of the session, under new ids: CLN's replies.
      const init = requests.find((r) => r.envelope.message[1] === 11)!;
      const restarted = [...(recovered > 0 ? [init.envelope] : []), ...requests.slice(recovered).map((r) => r.envelope)];
      const expected = [...(recovered > 0 ? [reference[0]!.reply] : []), ...reference.slice(recovered).map((r) => r.reply)];
      restarted.forEach((envelope, i) => {
        const h = core.handle({ ...envelope, id: 10_000n + BigInt(i) });
        assert.equal(text(h.reply), expected[i], `request ${i + 1} after the crash (recovered ${recovered})`);
      });
    }),
    12,
  );
});

/**
 * A journal file whose syncs off the event loop complete only when the test says: each makes
 * durable what the file held when it began (MemoryFile.syncBegun).
 */
function offLoopJournal() {
  const dir = new MemoryDir();
  const journal = dir.open(JOURNAL_FILE) as MemoryFile & { syncAsync?: () => Promise<void> };
  const running: (() => void)[] = [];
  journal.syncAsync = () => new Promise<void>((resolve) => {
    const began = journal.read(0, journal.size());
    running.push(() => (journal.syncBegun(began), resolve()));
  });
  /** The oldest sync under way completes, and what waits on it runs. */
  const completeOldest = async () => {
    running.shift()?.();
    await new Promise((r) => setImmediate(r));
  };
  return { dir, journal, completeOldest };
}

/** The in-process signer's timer: start a flush off the event loop, or let the oldest sync under way complete. */
const laterStep = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'one' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'flushLater' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'complete' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('batch' as const), size: fc.integer({ min: 2, max: 6 }) }) },
);

test('property: with the flush off the event loop (flushLater), the high-water mark never exceeds what a crash keeps', async () => {
  await assertAsyncProperty(
    fc.asyncProperty(fc.record({ steps: fc.array(laterStep, { minLength: 1, maxLength: 60 }), keep: fc.nat({ max: 400 }) }), async ({ steps, keep }) => {
      const { dir, journal, completeOldest } = offLoopJournal();
      const open = () => SignerCore.open(openJournalFiles(dir), (state) => new Signer(options, state), {
        syncReadOnly: false, markAtFlush: true, mark: slotMark(dir, 'memory'), snapshotEvery: 30,
      }).core;
      const core = open();
      let answered = 0;
      for (const s of steps) {
        if (answered >= requests.length) break;
        if (s.kind === 'flushLater') void core.flushLater();
        else if (s.kind === 'complete') await completeOldest();
        else answered += answerNext(core, answered, s.kind === 'batch' ? s.size : 1);
      }
      // The worst case for the mark: its last write reached the disk, the journal's unsynced tail did not.
      journal.crash(keep);
      const recovered = open(); // throws JournalRollbackError if the mark went above the journal
      let lastWithEvents = answered - 1;
      while (lastWithEvents >= 0 && !reference[lastWithEvents]!.hasEvents) lastWithEvents--;
      assert.ok(Number(recovered.lastId ?? 0n) >= lastWithEvents + 1, `request ${lastWithEvents + 1} had events and was lost`);
      assert.equal(toHex(stateDigest(recovered.state)), answered === 0 ? toHex(stateDigest(new Signer(options).state)) : reference[answered - 1]!.digest, 'recovered state');
    }),
    150,
  );
});

/** The device's host: a `req` message committed off the loop, a flush on its mark timer, or the oldest sync under way completing. */
const deviceStep = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('message' as const), size: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'flushLater' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'complete' as const }) },
);

test('property: the device\'s mark on its timer (markAtFlush, every record synced, messages committed off the loop) never exceeds what a crash keeps; every released reply survives', async () => {
  await assertAsyncProperty(
    fc.asyncProperty(fc.record({ steps: fc.array(deviceStep, { minLength: 1, maxLength: 60 }), keep: fc.nat({ max: 400 }) }), async ({ steps, keep }) => {
      const { dir, journal, completeOldest } = offLoopJournal();
      // As firmware/app/device-boot.ts opens it: syncReadOnly at its default (true), the mark at flush.
      const open = () => SignerCore.open(openJournalFiles(dir), (state) => new Signer(options, state), {
        markAtFlush: true, mark: slotMark(dir, 'memory'), snapshotEvery: 30,
      }).core;
      const core = open();
      let handled = 0;
      let released = 0; // requests whose reply the device may send: their message's sync is done
      for (const s of steps) {
        if (s.kind === 'flushLater') void core.flushLater();
        else if (s.kind === 'complete') await completeOldest();
        else if (handled < requests.length) {
          const batch = core.begin();
          const n = Math.min(s.size, requests.length - handled);
          requests.slice(handled, handled + n).forEach((r, i) => assert.equal(text(batch.handle(r.envelope).reply), reference[handled + i]!.reply));
          handled += n;
          const upTo = handled;
          const durable = batch.commitLater();
          if (durable === undefined) released = Math.max(released, upTo);
          else durable.then(() => void (released = Math.max(released, upTo)), () => {});
        }
      }
      journal.crash(keep);
      const recovered = open(); // throws JournalRollbackError if the mark went above the journal
      const kept = Number(recovered.lastId ?? 0n);
      assert.ok(kept >= released, `reply ${released} was released but the journal kept ${kept}`);
      assert.equal(toHex(stateDigest(recovered.state)), kept === 0 ? toHex(stateDigest(new Signer(options).state)) : reference[kept - 1]!.digest, 'recovered state');
    }),
    150,
  );
});
