/**
 * The live views of the local signer (no broker log): a recorded session through a port over
 * a real Signer, and the views the page reads against the plain fold of the same requests and
 * replies (projections/replay.ts, whose own tests hold it to the log): every request counted,
 * the same timeline, and each timeline cut back to its latest entries (bounded memory).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import type { LogRecord } from '../log/broker-log/record.js';
import { fastCurve } from '../node/curve-native.js';
import { timelineOf } from '../projections/channel-timeline.js';
import { brokerViewsFromLog, emptyBrokerViews } from '../projections/replay.js';
import type { Reply } from '../signer/decision.js';
import { Signer } from '../signer/signer.js';
import { requestType } from '../signer/wire/messages.js';
import { sessionRequests, sessionSignerOptions } from '../test/session-records.js';
import type { SignerPort } from './signer-port.js';
import { LiveViews } from './status-views.js';

const NAME = 'session-basic-l1.jsonl';
const requests = sessionRequests(NAME);

/** Replays the session `passes` times (new_channel restarts its channel) through `live`; returns the plain fold's records. */
async function replay(live: LiveViews, passes: number): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  let signer = new Signer({ ...sessionSignerOptions(NAME), curve: fastCurve() });
  let id = 0n;
  const port: SignerPort = {
    request: async (r) => signer.handle({ ...r, id: ++id }).reply,
    close: async () => {},
  };
  const wrapped = live.attach(port, (text) => assert.fail(text));
  for (let pass = 0; pass < passes; pass++) {
    signer = new Signer({ ...sessionSignerOptions(NAME), curve: fastCurve() });
    for (const { envelope } of requests) {
      const reply: Reply = await wrapped.request({ client: envelope.client, at: envelope.at, message: envelope.message });
      const n = BigInt(records.length / 2 + 1);
      records.push({ kind: 'request-received', id: n, client: envelope.client, type: requestType(envelope.message), message: envelope.message, at: envelope.at });
      records.push({ kind: 'reply-received', id: n, reply, latencyMicros: 0 });
    }
  }
  return records;
}

const plainFold = (records: readonly LogRecord[]) =>
  records.reduce((views, record, i) => brokerViewsFromLog(views, { seq: BigInt(i), record }), emptyBrokerViews());

/** The channels the session's timeline has, and each one's entries without timing fields. */
function timelines(views: ReturnType<typeof plainFold>): Map<string, unknown[]> {
  return new Map([...views.timeline.channels].map(([key, c]) => [key, timelineOf(views.timeline, c.ref).map((e) => ({ id: e.id, what: e.what }))]));
}

test('the page reads every request and reply of a session, folded when read, as the plain fold has them', async () => {
  const live = new LiveViews();
  const records = await replay(live, 1);
  const expected = plainFold(records);
  assert.equal(live.views.stats.requests, requests.length);
  assert.deepEqual(live.views.stats.replies, expected.stats.replies);
  assert.deepEqual(timelines(live.views), timelines(expected));
  assert.ok(timelines(expected).size > 0);
  assert.equal(live.recentLatencies().length, requests.length);
  assert.equal(live.outstanding, 0);
});

test('each timeline keeps its latest entries: cut back to `keep` once it holds twice that', async () => {
  const keep = 20;
  const live = new LiveViews(keep);
  const records = await replay(live, 3);
  const full = timelines(plainFold(records));
  const bounded = timelines(live.views);
  assert.deepEqual([...bounded.keys()], [...full.keys()]);
  for (const [key, entries] of bounded) {
    const all = full.get(key)!;
    assert.ok(entries.length <= 2 * keep && entries.length >= Math.min(keep, all.length), `${key}: ${entries.length} entries kept of ${all.length}`);
    assert.deepEqual(entries, all.slice(-entries.length), `${key}: the latest entries`);
  }
  assert.ok([...full.values()].some((all) => all.length > 2 * keep), 'the session must overflow a timeline for this test to mean anything');
  assert.equal(live.views.stats.requests, 3 * requests.length, 'the counts are not cut');
});
