/**
 * The mirror's pure parts (docs/journal.md "Mirror", "Restore"): a chain made by makeEntry
 * passes checkMirror; each kind of tampering a broker can do without the key is refused by
 * name; the broker's acceptance keeps each counter once, asks again after a gap, lets a
 * snapshot supersede what is before it; the payloads round-trip and refuse trailing bytes.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { acceptEntries, acceptMessages } from '../../broker/remote/mirror-store.js';
import { encodeRecord, type JournalRecord } from '../journal/record.js';
import { GENESIS, makeEntry, type MirrorEntry, positionAfter, snapshotPayload } from './entry.js';
import { decodeAck, decodeDump, decodeJournal, encodeAck, encodeDump, encodeJournal } from './messages.js';
import { checkMirror, MirrorRefusedError } from './verify.js';

const key = new Uint8Array(32).fill(7);
const record = (id: bigint): JournalRecord => ({ id, requestDigest: new Uint8Array(32).fill(Number(id % 256n)), events: [], reply: { kind: 'none' } });

/** A chain: records 1..n (ids 10, 20, ...), a snapshot after the `snapshotAfter`th if given. */
function chain(n: number, snapshotAfter?: number): MirrorEntry[] {
  const out: MirrorEntry[] = [];
  let at = GENESIS;
  for (let i = 1; i <= n; i++) {
    const e = makeEntry(key, at, 'record', encodeRecord(record(BigInt(i * 10))));
    out.push(e);
    at = positionAfter(e);
    if (i === snapshotAfter) {
      const s = makeEntry(key, at, 'snapshot', snapshotPayload(BigInt(i * 10), Uint8Array.of(1, 2, 3)));
      out.push(s);
      at = positionAfter(s);
    }
  }
  return out;
}

const refused = (f: () => unknown, problem: string, text: RegExp): void =>
  assert.throws(f, (e: unknown) => e instanceof MirrorRefusedError && e.problem === problem && text.test(e.message));

test('a whole chain passes; restore takes the newest snapshot and the records after it', () => {
  const all = chain(6, 3);
  const checked = checkMirror(key, all, { repliedUpTo: 60n });
  assert.equal(checked.lastId, 60n);
  assert.equal(checked.snapshot?.lastId, 30n);
  assert.deepEqual(checked.records.map((r) => (r.entry as JournalRecord).id), [40n, 50n, 60n]);
  assert.equal(checked.end.counter, 7n);
  // The broker may prune before a snapshot: the chain from the snapshot on passes too.
  assert.equal(checkMirror(key, all.slice(3)).lastId, 60n);
});

test('changed, dropped, reordered, spliced, cut off or made with another key: refused by name', () => {
  const all = chain(6);
  const changed = all.map((e, i) => (i === 2 ? { ...e, payload: encodeRecord(record(31n)) } : e));
  refused(() => checkMirror(key, changed), 'forged', /entry 3 \(record\): its MAC does not verify/);
  refused(() => checkMirror(key, [...all.slice(0, 2), ...all.slice(3)]), 'gap', /entries 3\.\.3 are missing between entry 2 and entry 4/);
  refused(() => checkMirror(key, all.slice(1)), 'gap', /starts at entry 2/);
  refused(() => checkMirror(key, [all[0]!, all[1]!, all[2]!, all[1]!]), 'reordered', /entry 2 \(record\) comes after entry 3/);
  const other = chain(3).map((e) => ({ ...e }));
  const splicedFrom = makeEntry(key, { counter: 2n, mac: new Uint8Array(32).fill(9) }, 'record', encodeRecord(record(30n)));
  refused(() => checkMirror(key, [...other.slice(0, 2), splicedFrom]), 'forged', /entry 3 \(record\) does not continue entry 2's MAC/);
  refused(() => checkMirror(key, all.slice(0, 4), { repliedUpTo: 60n }), 'rollback', /ends at request id 40, but the broker's reply log shows the device answered id 60/);
  refused(() => checkMirror(key, all.slice(0, 4), { proven: positionAfter(all[5]!) }), 'rollback', /ends at entry 4, but this device's own data proves entry 6/);
  refused(() => checkMirror(key, all, { proven: { counter: 5n, mac: new Uint8Array(32) } }), 'forged', /entry 5 differs from the one this device's own data proves/);
  refused(() => checkMirror(new Uint8Array(32).fill(8), all), 'forged', /entry 1 \(record\): its MAC does not verify/);
});

test('the broker keeps each counter once, asks again after a gap, and a snapshot supersedes what is before it', () => {
  const all = chain(6, 3);
  const first = acceptEntries(undefined, all.slice(0, 3));
  assert.deepEqual([first.store.length, first.ack], [3, { counter: 3n, gap: false }]);
  const tip = positionAfter(all[2]!);
  const again = acceptEntries(tip, all.slice(0, 5));
  assert.deepEqual(again.store.map((e) => e.counter), [4n, 5n], 'resent entries are kept once');
  assert.equal(again.pruneBelow, 4n, 'the snapshot (entry 4) supersedes entries 1..3');
  const gap = acceptEntries(tip, all.slice(4));
  assert.deepEqual([gap.store.length, gap.ack], [0, { counter: 3n, gap: true }]);
  const afterGap = acceptEntries(positionAfter(all[1]!), all.slice(3));
  assert.deepEqual(afterGap.store.map((e) => e.counter), [4n, 5n, 6n, 7n], 'a snapshot may follow a gap');
  const foreign = makeEntry(key, { counter: 3n, mac: new Uint8Array(32).fill(1) }, 'record', encodeRecord(record(40n)));
  const spliced = acceptEntries(tip, [foreign]);
  assert.deepEqual(spliced.ack, { counter: 3n, gap: true });
  assert.match(spliced.notes[0]!, /entry 4 does not continue the stored chain/);
});

test('messages gathered together are decided in order as one write, with one cumulative acknowledgement', () => {
  const all = chain(6, 3);
  const together = acceptMessages(undefined, [all.slice(0, 2), all.slice(2, 5), all.slice(1, 3)]);
  assert.deepEqual(together.store.map((e) => e.counter), [1n, 2n, 3n, 4n, 5n]);
  assert.deepEqual([together.ack, together.pruneBelow], [{ counter: 5n, gap: false }, 4n]);
  const withGap = acceptMessages(undefined, [all.slice(0, 2), all.slice(3, 4).map((e) => ({ ...e, kind: 'record' as const })), all.slice(2, 3)]);
  assert.deepEqual(withGap.store.map((e) => e.counter), [1n, 2n, 3n]);
  assert.deepEqual(withGap.ack, { counter: 3n, gap: true }, 'a message that did not follow is asked for again');
});

test('mirror payloads round-trip; trailing bytes and unknown versions are refused', () => {
  const all = chain(3);
  assert.deepEqual(decodeJournal(encodeJournal(all)), all);
  assert.deepEqual(decodeAck(encodeAck({ counter: 9n, gap: true })), { counter: 9n, gap: true });
  assert.deepEqual(decodeDump(encodeDump({ final: true, repliedUpTo: 5n, entries: all })), { final: true, repliedUpTo: 5n, entries: all });
  assert.throws(() => decodeJournal(Uint8Array.of(...encodeJournal(all), 0)), /trailing bytes/);
  assert.throws(() => decodeAck(Uint8Array.of(2, 0, 0, 0, 0, 0, 0, 0, 0, 1)), /unknown version 2/);
});
