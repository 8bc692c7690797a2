/**
 * The device mirror's resends after `gap` answers (docs/journal.md "Mirror"), over the real
 * JournalMirror with a manual clock and the broker's own decision (mirror-store.ts
 * acceptEntries) on a stored chain: a lost message is made up for at once; a chain the broker
 * keeps refusing (another device with this seed wrote its own) is sent again later and later,
 * up to the cap, and said in the log a bounded number of times; an acknowledgement that
 * advances ends the waits; a disconnect ends the pending one; the way out the log names (the
 * broker's mirror moved aside) ends them with a snapshot.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { MemoryDir } from '../../log/memory-file.js';
import { type ChainPosition, GENESIS, makeEntry, positionAfter } from '../../log/mirror/entry.js';
import { GAP_FIRST_WAIT_MS, GAP_MAX_WAIT_MS } from './mirror-backoff.js';
import { JournalMirror } from './mirror.js';
import { ManualClock, MirrorBroker } from '../../test/mirror-kit.js';

const KEY = new Uint8Array(32).fill(0x3c);
const payload = (n: number, device = 1): Uint8Array => Uint8Array.of(device, n, n + 1, n + 2);

function setUp() {
  const clock = new ManualClock();
  const broker = new MirrorBroker(clock);
  const lines: string[] = [];
  // As SignerCore.snapshotSoon does with no sync under way: the snapshot at once.
  const snapshotNeeded = () => mirror.snapshotting(mirror.position.counter, Uint8Array.of(9, 9));
  const mirror: JournalMirror = new JournalMirror({ key: KEY, dir: new MemoryDir(), clock, publish: broker.publish, log: (level, line) => lines.push(`${level}: ${line}`), snapshotNeeded });
  mirror.recovered(undefined, []);
  mirror.connected();
  return { clock, broker, lines, mirror };
}

/** Another device with this seed wrote `n` records of its own: the broker holds their chain. */
function foreignChain(n: number): ChainPosition {
  let at = GENESIS;
  for (let i = 1; i <= n; i++) at = positionAfter(makeEntry(KEY, at, 'record', payload(i, 2)));
  return at;
}

/** This device's own chain of `n` records, as setUp's mirror makes it from payload(1..n). */
function ownChain(n: number): ChainPosition {
  let at = GENESIS;
  for (let i = 1; i <= n; i++) at = positionAfter(makeEntry(KEY, at, 'record', payload(i)));
  return at;
}

const stuckLines = (lines: readonly string[]) => lines.filter((l) => /refused the entries after \d+ again after a wait/.test(l));

test('a lost message: the first gap answer is met at once, with no wait', () => {
  const { clock, broker, mirror } = setUp();
  mirror.durable([payload(1), payload(2)]);
  broker.lose();
  mirror.durable([payload(3)]);
  broker.deliver(mirror);
  assert.deepEqual(broker.sent.map((s) => s.counters), [[1n, 2n], [3n], [1n, 2n, 3n]], 'sent again on the gap answer');
  assert.ok(broker.sent.every((s) => s.at === broker.sent[0]!.at), 'without the clock moving');
  assert.equal(mirror.unacknowledged, 0);
  assert.equal(broker.tip?.counter, 3n);
  assert.equal(clock.nextIn, undefined, 'no timer left');
});

test('a chain the broker keeps refusing: resent later and later up to the cap, said in the log a bounded number of times', () => {
  const { clock, broker, lines, mirror } = setUp();
  broker.tip = foreignChain(2);
  mirror.durable([payload(1), payload(2), payload(3)]);
  broker.deliver(mirror);
  // The broker skipped 1..2 (its counters), refused 3 (another previous MAC); the first resend went at once.
  assert.deepEqual(broker.sent.map((s) => s.counters), [[1n, 2n, 3n], [3n]]);
  assert.equal(broker.sent[1]!.at, broker.sent[0]!.at);
  const waits: number[] = [];
  for (let i = 0; i < 16; i++) {
    const before = broker.sent.length;
    const wait = clock.nextIn!;
    clock.advance(wait - 1);
    assert.equal(broker.sent.length, before, 'nothing sent before the wait is over');
    clock.advance(1);
    assert.deepEqual(broker.sent.slice(before).map((s) => s.counters), [[3n]], 'one resend when it is over');
    waits.push(wait);
    broker.deliver(mirror);
  }
  const expected = Array.from({ length: 16 }, (_, i) => Math.min(GAP_FIRST_WAIT_MS * 2 ** i, GAP_MAX_WAIT_MS));
  assert.deepEqual(waits, expected);
  assert.deepEqual(expected.slice(0, 4), [100, 200, 400, 800]);
  assert.equal(expected.at(-1), 60_000);
  // Refused after a wait 16 times: said at the 1st, 2nd, 4th, 8th and 16th; no 5 s resend meanwhile.
  const stuck = stuckLines(lines);
  assert.equal(stuck.length, 5, lines.join('\n'));
  assert.match(stuck[0]!, /^broken: mirror: the broker refused the entries after 2 again after a wait \(1 time in 0 s\): .*another device with this seed.*"Retiring a device".*Sending again in 0\.2 s$/);
  assert.match(stuck[4]!, /\(16 times in \d+ s\): .*Sending again in 60 s$/);
  assert.deepEqual(lines.filter((l) => !stuck.includes(l)), []);
  assert.equal(mirror.unacknowledged, 1);
});

test('an acknowledgement that advances ends the waits: the next gap answer is met at once again', () => {
  const { clock, broker, mirror } = setUp();
  mirror.durable([payload(1), payload(2)]);
  broker.deliver(mirror);
  broker.lose();
  // Entry 3 lost; 4 and 5 each answered with a gap at 2: the first at once, the second (an
  // answer to what went before the resend) waits, and the resend's acknowledgement ends that wait.
  mirror.durable([payload(3)]);
  broker.lose();
  mirror.durable([payload(4)]);
  mirror.durable([payload(5)]);
  broker.deliver(mirror);
  assert.equal(mirror.unacknowledged, 0);
  assert.equal(broker.tip?.counter, 5n);
  assert.deepEqual(broker.sent.map((s) => s.counters), [[1n, 2n], [3n], [4n], [5n], [3n, 4n, 5n]]);
  assert.equal(clock.nextIn, undefined, 'the wait and the resend timer are gone');

  // Stuck at 6 (another device's entry 6 stored: this device's 7 does not follow it), waiting
  // longer each time; then the broker holds this device's own chain up to 7 (the other one
  // gone): its acknowledgement advances, and the gap after it is met at once again.
  broker.tip = positionAfter(makeEntry(KEY, broker.tip!, 'record', payload(6, 2)));
  mirror.durable([payload(6), payload(7)]);
  broker.deliver(mirror);
  assert.equal(clock.nextIn, GAP_FIRST_WAIT_MS);
  clock.advance(GAP_FIRST_WAIT_MS);
  broker.deliver(mirror);
  assert.equal(clock.nextIn, 2 * GAP_FIRST_WAIT_MS, 'refused again: the wait doubled');
  broker.tip = ownChain(7);
  const sent = broker.sent.length;
  mirror.durable([payload(8)]);
  broker.lose();
  mirror.durable([payload(9)]);
  broker.deliver(mirror);
  assert.deepEqual(broker.sent.slice(sent).map((s) => s.counters), [[8n], [9n], [8n, 9n]], 'new entries went at once while waiting; the gap after 7 (advanced) was met at once');
  assert.ok(broker.sent.slice(sent).every((s) => s.at === clock.now()));
  assert.equal(mirror.unacknowledged, 0);
  assert.equal(clock.nextIn, undefined, 'the wait and the resend timer are gone');
  // Refused again later: the waits start over from the first.
  broker.tip = positionAfter(makeEntry(KEY, broker.tip!, 'record', payload(10, 2)));
  mirror.durable([payload(10), payload(11)]);
  broker.deliver(mirror);
  assert.equal(clock.nextIn, GAP_FIRST_WAIT_MS);
});

test('a disconnect ends the wait: nothing is sent while offline; on reconnect everything goes at once', () => {
  const { clock, broker, mirror } = setUp();
  broker.tip = foreignChain(1);
  mirror.durable([payload(1), payload(2)]);
  broker.deliver(mirror);
  assert.equal(clock.nextIn, GAP_FIRST_WAIT_MS, 'waiting after the second refusal');
  mirror.disconnected();
  assert.equal(clock.nextIn, undefined, 'no timer while offline');
  const sent = broker.sent.length;
  clock.advance(10 * GAP_MAX_WAIT_MS);
  mirror.durable([payload(3)]);
  assert.equal(broker.sent.length, sent, 'nothing sent offline');
  mirror.connected();
  assert.deepEqual(broker.sent.slice(sent).map((s) => s.counters), [[1n], [2n, 3n]], 'the last acknowledged entry (the probe), then everything after it');
  broker.deliver(mirror);
  assert.equal(clock.nextIn, 2 * GAP_FIRST_WAIT_MS, 'still refused: the streak goes on where it was');
});

test('the way out the log names: the broker\'s mirror moved aside, the stuck device sends a snapshot at once and the waits end', () => {
  const { clock, broker, lines, mirror } = setUp();
  broker.tip = foreignChain(2);
  mirror.durable([payload(1), payload(2), payload(3)]);
  broker.deliver(mirror);
  clock.advance(GAP_FIRST_WAIT_MS);
  broker.deliver(mirror);
  assert.equal(stuckLines(lines).length, 1);
  assert.equal(clock.nextIn, 2 * GAP_FIRST_WAIT_MS);
  // The broker restarted with an empty store: the probe on reconnect is answered with a gap at 0.
  broker.forget();
  mirror.disconnected();
  mirror.connected();
  broker.deliver(mirror);
  assert.equal(mirror.unacknowledged, 0, 'the snapshot and everything after it acknowledged');
  assert.equal(broker.tip?.counter, mirror.position.counter);
  assert.equal(clock.nextIn, undefined, 'no wait left');
  assert.equal(lines.filter((l) => /making a snapshot now/.test(l)).length, 1);
});
