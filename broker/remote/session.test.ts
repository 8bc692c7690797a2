/**
 * The broker's session (session.ts) one rule at a time, driven by events with the commands
 * checked against docs/remote-protocol.md. Requests and replies are session-basic-l1's,
 * recorded from CLN v25.12.1.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { decodeRefusal } from '../../signer/remote/refusal.js';
import { fromHex } from '../../signer/bytes.js';
import type { Reply } from '../../signer/decision.js';
import { decodeOrderedBatch, decodeRequestBatch, encodeReplyBatch } from '../../signer/remote/envelope-codec.js';
import { sessionRequests } from '../../test/session-records.js';
import type { RequestReceived } from '../../log/broker-log/record.js';
import { MAX_IN_FLIGHT } from './session-protocol.js';
import { MAX_HELLO_LAST_ID } from './hello.js';
import { type Now, RESEND_BACKOFF_MS, Session, type SessionCommand, type SessionOptions, UNLOGGED_IDS } from './session.js';

const RECORDED = sessionRequests('session-basic-l1.jsonl');
const DEVICE = '02'.repeat(33);
const utf8 = (s: string) => new TextEncoder().encode(s);
const hello = (lastId: string) => utf8(JSON.stringify({ lastId, firmware: 'test' }));
const recordedReply = (k: number): Reply => ({ kind: 'frame', frame: fromHex(RECORDED[k]!.exchange.rep!) });

/** A session with a clock and the commands it gave, sorted by kind. */
function drive(options: Partial<SessionOptions> = {}) {
  const session = new Session({ lastId: 0n, answeredUpTo: 0n, ...options });
  let mono = 0;
  const now = (advance = 1): Now => ({ wall: 1_700_000_000_000 + mono, mono: (mono += advance) });
  const all: SessionCommand[] = [];
  const step = (commands: SessionCommand[]) => (all.push(...commands), commands);
  const of = <K extends SessionCommand['kind']>(cs: SessionCommand[], kind: K) => cs.filter((c): c is Extract<SessionCommand, { kind: K }> => c.kind === kind);
  const api = {
    session,
    all,
    of,
    request: (k: number, token = k) => {
      const { client, at, message } = RECORDED[k]!.envelope;
      return step(session.handle({ kind: 'request', token, request: { client, at, message }, now: now() }));
    },
    /** Makes every append carrying an ack durable, in order. */
    durable: (cs: SessionCommand[]) => of(cs, 'append').flatMap((a) => (a.ack === undefined ? [] : step(session.handle({ kind: 'appended', ack: a.ack, now: now() })))),
    pump: () => step(session.handle({ kind: 'pump', now: now() })),
    hello: (lastId: string) => step(session.handle({ kind: 'hello', device: DEVICE, payload: hello(lastId), now: now() })),
    res: (replies: { id: bigint; reply: Reply }[]) => step(session.handle({ kind: 'res', device: DEVICE, payload: encodeReplyBatch(replies), now: now() })),
    offline: () => step(session.handle({ kind: 'status', device: DEVICE, payload: utf8('offline'), now: now() })),
    timer: (id: bigint, after: number) => step(session.handle({ kind: 'timer', id, now: now(after) })),
    /** The ids of each `req` message published. */
    published: (cs: SessionCommand[]) => of(cs, 'publish').map((p) => decodeRequestBatch(p.payload).map((e) => e.id)),
    /** Each `req` message published, with its `after`. */
    payloads: (...css: SessionCommand[][]) => of(css.flat(), 'publish').map((p) => decodeOrderedBatch(p.payload)),
    logs: (cs: SessionCommand[]) => of(cs, 'log').map((l) => `${l.level}: ${l.text}`),
  };
  return api;
}

/** A ready device and lightningd's init answered with the recorded reply (ids: init 1). */
function withInit(options: Partial<SessionOptions> = {}) {
  const d = drive(options);
  d.hello('0');
  d.durable(d.request(0));
  d.pump();
  d.durable(d.res([{ id: 1n, reply: recordedReply(0) }]));
  return d;
}

test('a request is published before its RequestReceived is durable (that sync overlaps the round trip) and answered only once its ReplyReceived is', () => {
  const d = drive();
  d.hello('0');
  const first = d.request(0);
  assert.deepEqual(d.of(first, 'append').map((a) => a.record.kind), ['request-received']);
  assert.deepEqual(d.of(first, 'arm'), [{ kind: 'arm', id: 1n, ms: RESEND_BACKOFF_MS[0] }]);
  assert.deepEqual(d.published(d.pump()), [], 'an empty log: the first request waits for its own record');
  d.durable(first);
  assert.deepEqual(d.published(d.pump()), [[1n]]);
  d.durable(d.res([{ id: 1n, reply: recordedReply(0) }]));
  const second = d.request(1);
  assert.deepEqual(d.published(d.pump()), [[2n]], 'within UNLOGGED_IDS of a durable record: published before its own is durable');
  assert.deepEqual(d.of(first, 'append').map((a) => a.lazy ?? false), [false], 'waited for: written at once');
  assert.deepEqual(d.of(second, 'append').map((a) => a.lazy ?? false), [true], 'not waited for: it shares the next sync');
  const replied = d.res([{ id: 2n, reply: recordedReply(1) }]);
  assert.deepEqual(d.of(replied, 'append').map((a) => a.record.kind), ['reply-received']);
  assert.equal(d.of(replied, 'answer').length, 0, 'not answered before ReplyReceived is durable');
  const answered = d.durable([...second, ...replied]);
  assert.deepEqual(d.of(answered, 'answer'), [{ kind: 'answer', token: 1, reply: recordedReply(1) }]);
});

test('a starting broker continues ids UNLOGGED_IDS past its log, and publishes a request ahead of its record only within that reach', () => {
  const d = drive({ lastId: 7n });
  assert.equal(d.session.nextId, 8n + UNLOGGED_IDS, 'an id published and lost in a crash is never reused');
  d.hello('7');
  const first = d.request(0);
  assert.deepEqual(d.published(d.pump()), [], 'beyond the reach of the last durable record (id 7)');
  d.durable(first);
  assert.deepEqual(d.published(d.pump()), [[8n + UNLOGGED_IDS]]);
});

test('a request whose RequestReceived cannot be appended fails once, even when the device answered it', () => {
  const d = withInit();
  const received = d.request(1);
  d.pump();
  const replied = d.res([{ id: 2n, reply: recordedReply(1) }]);
  const failed = [...received, ...replied].flatMap((c) => (c.kind === 'append' && c.ack !== undefined ? d.session.handle({ kind: 'append-failed', ack: c.ack, error: 'disk full', now: { wall: 0, mono: 100 } }) : []));
  assert.deepEqual(d.of(failed, 'fail'), [{ kind: 'fail', token: 1, error: 'disk full' }]);
  assert.equal(d.of(failed, 'answer').length, 0);
  assert.equal(d.session.inspect().outstanding, 0);
});

test('up to MAX_IN_FLIGHT messages in flight; each names in `after` the highest unanswered id before it', () => {
  const d = withInit();
  const flights = [1, 2, 3, 4, 5].map((k) => d.payloads(d.request(k), d.pump()));
  assert.deepEqual(flights.map((f) => f.map((p) => [p.after, p.envelopes.map((e) => e.id)])), [
    [[0n, [2n]]], [[2n, [3n]]], [[3n, [4n]]], [[4n, [5n]]], [],
  ].slice(0, MAX_IN_FLIGHT + 1), `at most ${MAX_IN_FLIGHT} in flight`);
  const next = d.payloads(d.res([{ id: 2n, reply: recordedReply(1) }]));
  assert.deepEqual(next.map((p) => [p.after, p.envelopes.map((e) => e.id)]), [[5n, [6n]]], 'the answer to the first lets the waiting one go, after the others');
  // A resend of the second names what is still unanswered before it: nothing.
  const resent = d.payloads(d.timer(3n, RESEND_BACKOFF_MS[0]!));
  assert.deepEqual(resent.map((p) => [p.after, p.envelopes.map((e) => e.id)]), [[0n, [3n]]]);
});

test('an unanswered request is resent after each backoff wait, with a loud line and an error record', () => {
  const d = withInit();
  d.durable(d.request(1));
  d.pump();
  const resent = d.timer(2n, RESEND_BACKOFF_MS[0]!);
  assert.deepEqual(d.published(resent), [[2n]]);
  assert.match(d.logs(resent)[0]!, /^unusual: remote signer: request 2 \(type 27\) unanswered after 1 s; resending it to device 02/);
  assert.deepEqual(d.of(resent, 'append').map((a) => a.record.kind), ['error']);
  assert.deepEqual(d.of(resent, 'arm'), [{ kind: 'arm', id: 2n, ms: RESEND_BACKOFF_MS[1] }]);
  d.res([{ id: 2n, reply: recordedReply(1) }]);
  assert.deepEqual(d.timer(2n, 5000), [], 'an answered request is not resent');
});

test('a device saying hello later gets the same init under a fresh id first; the same reply makes it ready', () => {
  const d = withInit();
  d.durable(d.request(1)); // id 2, published to the device, which restarts without journaling it
  d.pump();
  d.offline();
  const check = d.hello('1');
  assert.match(d.logs(check).join('\n'), /sending lightningd's init to 0202\S* to check it holds the same seed/);
  assert.match(d.logs(check).join('\n'), /request 2 renumbered as 4: device 0202\S* had not journaled it when it restarted/);
  assert.deepEqual(d.session.inspect().devices, [{ id: DEVICE, state: 'verifying', active: false }]);
  d.durable(check);
  assert.deepEqual(d.published(d.pump()), [[3n]], 'only the check goes out before the device passed it');
  const ready = d.durable(d.res([{ id: 3n, reply: recordedReply(0) }]));
  assert.match(d.logs(ready).join('\n'), /device 0202\S* is ready; resending 1 outstanding request\(s\) \(ids 4\)/);
  assert.deepEqual(d.published(d.pump()), [[4n]]);
  assert.deepEqual(d.session.inspect().devices, [{ id: DEVICE, state: 'ready', active: true }]);
});

test('a device whose init reply differs (another seed) is refused and gets nothing', () => {
  const d = withInit();
  d.offline();
  d.durable(d.hello('1'));
  d.pump();
  const refused = d.durable(d.res([{ id: 2n, reply: { kind: 'frame', frame: fromHex('0072') } }]));
  assert.match(d.logs(refused).join('\n'), /broken: remote signer: device 0202\S* refused: its init reply differs/);
  assert.deepEqual(d.session.inspect().devices, [{ id: DEVICE, state: 'refused', active: false }]);
  d.durable(d.request(1));
  assert.deepEqual(d.published(d.pump()), []);
});

test('a hello whose lastId is not a u64, or too near its end to leave ids, is logged and dropped; requests go on (it used to wedge the broker)', () => {
  const d = withInit();
  for (const [lastId, why] of [
    ['18446744073709551616', 'lastId 18446744073709551616 is above 2\\^64-1'],
    ['99999999999999999999', 'lastId 99999999999999999999 is above 2\\^64-1'],
    ['18446744073709551615', 'lastId 18446744073709551615 leaves fewer than 2\\^32 request ids after it \\(above 2\\^64-2\\^32-1\\)'],
    ['18446744073709551614', 'lastId 18446744073709551614 leaves fewer than 2\\^32 request ids after it \\(above 2\\^64-2\\^32-1\\)'],
    [String(MAX_HELLO_LAST_ID + 1n), `lastId ${MAX_HELLO_LAST_ID + 1n} leaves fewer than 2\\^32 request ids after it \\(above 2\\^64-2\\^32-1\\)`],
    ['-1', 'lastId "-1" is not a decimal string'],
    ['1e3', 'lastId "1e3" is not a decimal string'],
    ['041', 'lastId "041" is not a decimal string'],
  ]) {
    const dropped = d.hello(lastId!);
    assert.match(d.logs(dropped)[0]!, new RegExp(`^unusual: remote signer: malformed hello from 0202\\S* dropped: ${why}$`));
    assert.deepEqual(d.of(dropped, 'append').map((a) => a.record.kind), ['error']);
  }
  assert.deepEqual(d.session.nextId, 2n);
  d.durable(d.request(1));
  assert.deepEqual(d.published(d.pump()), [[2n]]);
});

test('a hello with a lastId beyond the broker log moves the ids past it', () => {
  const d = drive();
  const moved = d.hello('41');
  assert.match(d.logs(moved).join('\n'), /device 0202\S* journaled id 41, beyond this broker's log; ids continue at 42/);
  assert.equal(d.session.nextId, 42n);
});

test('a device whose lastId is below what the broker log shows answered is refused loudly, unless the operator accepted exactly it', () => {
  const d = drive({ lastId: 10n, answeredUpTo: 10n });
  const refused = d.hello('7');
  assert.match(d.logs(refused).join('\n'), /broken: remote signer: device 0202\S* refused: its journal ends at id 7 but the broker log shows id 10 answered: .*SPHINX_ACCEPT_DEVICE_ROLLBACK=0202\S*:7/);
  assert.ok(d.of(refused, 'append').some((a) => a.record.kind === 'error' && /refused: its journal ends at id 7/.test(a.record.text)));
  assert.deepEqual(d.session.inspect().devices, [{ id: DEVICE, state: 'refused', active: false }]);
  // It is told why, on its own subtree, so it stops for good (signer/remote/refusal.ts).
  assert.deepEqual(d.of(refused, 'refuse').map((r) => ({ device: r.device, refusal: decodeRefusal(r.payload) })), [{ device: DEVICE, refusal: { reason: 'rollback', lastId: 7n, answeredUpTo: 10n } }]);
  d.durable(d.request(1));
  assert.deepEqual(d.published(d.pump()), [], 'no request goes to it');

  const accepted = drive({ lastId: 10n, answeredUpTo: 10n, acceptRollback: { device: DEVICE, lastId: 7n } });
  const acceptedHello = accepted.hello('7');
  assert.match(accepted.logs(acceptedHello).join('\n'), /accepted because SPHINX_ACCEPT_DEVICE_ROLLBACK names it/);
  assert.deepEqual(accepted.of(acceptedHello, 'refuse'), [], 'an accepted device is not told it is refused');
  assert.deepEqual(accepted.session.inspect().devices, [{ id: DEVICE, state: 'ready', active: true }]);
  const other = drive({ lastId: 10n, answeredUpTo: 10n, acceptRollback: { device: DEVICE, lastId: 6n } });
  other.hello('7');
  assert.deepEqual(other.session.inspect().devices[0]!.state, 'refused', 'the setting names one lastId, not any');
});

test('the highest id answered this run counts too: a device restarted without its journal is refused', () => {
  const d = withInit();
  d.offline();
  assert.deepEqual(d.of(d.hello('0'), 'refuse').map((r) => decodeRefusal(r.payload)), [{ reason: 'rollback', lastId: 0n, answeredUpTo: 1n }]);
  assert.deepEqual(d.session.inspect().devices[0]!.state, 'refused');
});

test('a malformed reply is logged and dropped; the request stays outstanding', () => {
  const d = withInit();
  d.durable(d.request(1));
  d.pump();
  const dropped = d.session.handle({ kind: 'res', device: DEVICE, payload: Uint8Array.of(9, 9), now: { wall: 0, mono: 10 } });
  assert.match(d.logs(dropped)[0]!, /^unusual: remote signer: malformed reply from 0202\S* dropped: /);
  assert.equal(d.session.inspect().outstanding, 1);
});

test('inspect: each device\'s firmware and journal position (from its hello, then its replies) and when it was last heard from (hello or res, not its will)', () => {
  const d = drive();
  d.hello('0');
  const helloAt = 1_700_000_000_000;
  assert.deepEqual(d.session.inspect().heard.get(DEVICE), { firmware: 'test', lastSeenAt: helloAt, journaledUpTo: 0n });
  d.durable(d.request(0));
  d.pump();
  d.res([{ id: 1n, reply: recordedReply(0) }]);
  const resAt = d.session.inspect().heard.get(DEVICE)!.lastSeenAt;
  assert.ok(resAt > helloAt, 'a reply is heard too');
  assert.equal(d.session.inspect().heard.get(DEVICE)!.firmware, 'test', 'the firmware stays');
  assert.equal(d.session.inspect().heard.get(DEVICE)!.journaledUpTo, 1n, 'a reply leaves the device journaled');
  d.offline();
  assert.equal(d.session.inspect().heard.get(DEVICE)!.lastSeenAt, resAt, "its will, published by the server, is not the device");
});

test('a previous run\'s requests without a reply: the journaled ones are asked for again first and their replies logged, answering nobody; the rest are explained', () => {
  const request = (k: number, id: bigint): RequestReceived => {
    const { client, message } = RECORDED[k]!.envelope;
    return { kind: 'request-received', id, client, type: (message[0]! << 8) | message[1]!, message, at: 1_700_000_000_000 };
  };
  // Ids 11 and 12 were in flight when the broker stopped; 13 was logged, never published.
  const d = drive({ lastId: 13n, answeredUpTo: 10n, unanswered: [request(1, 11n), request(2, 12n), request(3, 13n)] });
  const helloed = d.hello('12');
  const explained = d.of(helloed, 'append').filter((a) => a.record.kind === 'error');
  assert.deepEqual(explained.map((a) => a.record.kind === 'error' && a.record.id), [13n]);
  assert.match(d.logs(helloed).join('\n'), /request 11 was answered by device 0202\S* \(its journal ends at 12\) but the broker stopped before logging the reply: asking for it again/);
  const fresh = 13n + UNLOGGED_IDS + 1n;
  d.durable(d.request(4));
  assert.deepEqual(d.published(d.pump()), [[11n, 12n, fresh]], 'the previous run\'s first, in id order');
  // The device answers 11 from its journal; 12 it no longer keeps (its core's refusal, never a journaled reply).
  const refusal: Reply = { kind: 'bad-request', description: 'request id 12 is not after the last handled id 12 and its reply is no longer kept: not deciding it again' };
  const replied = d.res([{ id: 11n, reply: recordedReply(1) }, { id: 12n, reply: refusal }, { id: fresh, reply: recordedReply(4) }]);
  assert.deepEqual(d.of(replied, 'append').map((a) => [a.record.kind, 'id' in a.record ? a.record.id : undefined]),
    [['reply-received', 11n], ['error', 12n], ['reply-received', fresh]]);
  const answered = d.durable(replied);
  assert.deepEqual(d.of(answered, 'answer').map((a) => a.token), [4], 'only lightningd\'s own request is answered');
  assert.match(d.logs(answered).join('\n'), /request 11: the device's journaled reply logged/);
  assert.equal(d.session.inspect().outstanding, 0);
});

test('ids a device journaled above the log\'s last id (published by the previous run before their records were durable) are recorded once as unlogged-requests', () => {
  const unlogged = (d: ReturnType<typeof drive>, cs: SessionCommand[]) => d.of(cs, 'append').map((a) => a.record).filter((r) => r.kind === 'unlogged-requests');
  const d = drive({ lastId: 20n, answeredUpTo: 19n });
  const helloed = d.hello('23');
  assert.deepEqual(unlogged(d, helloed), [{ kind: 'unlogged-requests', deviceId: DEVICE, afterId: 20n, throughId: 23n, at: 1_700_000_000_000 }]);
  assert.match(d.logs(helloed).join('\n'), /unusual: remote signer: device 0202\S* journaled ids 21\.\.23, above the broker log's last id 20: the broker published them before logging them and stopped/);
  assert.deepEqual(unlogged(d, d.hello('23')), [], 'the same hello again: recorded once');
  assert.equal(d.session.nextId, 21n + UNLOGGED_IDS, 'the ids go on past them as before');

  // None: a device at the log's last id; past the previous run's reach (it journaled this
  // run's ids, which are logged); and a log that was empty (nothing is published ahead of it).
  for (const [lastId, hello] of [[20n, '20'], [20n, String(20n + UNLOGGED_IDS + 1n)], [0n, '3']] as const) {
    const other = drive({ lastId, answeredUpTo: lastId });
    assert.deepEqual(unlogged(other, other.hello(hello)), [], `log ${lastId}, hello ${hello}`);
  }
});
