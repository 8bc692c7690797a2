/**
 * KeptReplies against the plain model it replaces: one Map of every reply by id, in the order
 * they came (the snapshot's recent ones, every recovered record's, every handled one's), where
 * `get` is a lookup and a snapshot keeps the latest `count` (docs/journal.md "Write-ahead").
 * Recovered replies are read back through the reader (here from a table by frame offset,
 * standing in for the journal file); a reader that finds another id there is refused.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import type { RecentReply } from '../projections/signer-state.js';
import { assertProperty } from '../property-tests/settings.js';
import { KeptReplies } from './kept-replies.js';

const replyOf = (id: bigint): RecentReply => ({
  id,
  requestDigest: new Uint8Array(32).fill(Number(id % 251n)),
  reply: { kind: 'bad-request', description: `reply to ${id}` },
});
/** Where recovery found record `id`'s frame (any injective map will do). */
const offsetOf = (id: bigint): number => Number(id) * 37 + 5;
const read = (offset: number): RecentReply => replyOf(BigInt((offset - 5) / 37));

type Op = { kind: 'handle' } | { kind: 'get'; back: number } | { kind: 'snapshot'; keep: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'handle' } as const) },
  { weight: 4, arbitrary: fc.nat(80).map((back) => ({ kind: 'get', back }) as const) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }).map((keep) => ({ kind: 'snapshot', keep }) as const) },
);

test('property: KeptReplies answers and snapshots exactly as one Map of every reply in order', () => {
  assertProperty(
    fc.property(fc.nat(30), fc.nat(200), fc.array(op, { maxLength: 200 }), (inSnapshot, recovered, ops) => {
      let id = 0n;
      const model = new Map<bigint, RecentReply>();
      const recent: RecentReply[] = [];
      for (let i = 0; i < inSnapshot; i++) recent.push(replyOf(++id));
      for (const r of recent) model.set(r.id, r);
      const kept = new KeptReplies(recent);
      for (let i = 0; i < recovered; i++) {
        kept.recovered(++id, offsetOf(id));
        model.set(id, replyOf(id));
      }
      for (const o of ops) {
        if (o.kind === 'handle') {
          const r = replyOf(++id);
          kept.handled(r);
          model.set(r.id, r);
        } else if (o.kind === 'get') {
          const asked = id + 3n - BigInt(o.back); // some not yet given, some never kept
          assert.deepEqual(kept.get(asked, read), model.get(asked), `id ${asked}`);
        } else {
          const latest = kept.latest(o.keep, read);
          assert.deepEqual(latest, [...model.values()].slice(-o.keep), `latest ${o.keep}`);
          kept.restart(latest);
          model.clear();
          for (const r of latest) model.set(r.id, r);
        }
      }
    }),
    300,
  );
});

test('a recovered reply read back with another id is refused, not answered', () => {
  const kept = new KeptReplies([]);
  kept.recovered(7n, offsetOf(7n));
  assert.throws(() => kept.get(7n, () => replyOf(8n)), /the record read back at offset 264 has id 8, recovery found id 7 there/);
  assert.deepEqual(kept.latest(0, read), []);
});
