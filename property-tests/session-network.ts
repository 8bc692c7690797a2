/**
 * The broker's session (broker/remote/session.ts) against the real device app
 * (firmware/app/device.ts on an in-memory journal) through a model of what an MQTT server
 * was seen to do between them (aedes with LevelDB sessions): `req` and `res` messages
 * delivered in any order, twice, late, or never; device restarts (a crash: the will's
 * `offline`, then a new connection's `hello`, while the server keeps the old session's
 * queued messages and delivers them to the new connection first); broker log appends made durable late (in order, as LevelDB's group
 * commit does); timers and the pump firing between any two events.
 *
 * lightningd is the recorded session (session-basic-l1, CLN v25.12.1): request k is issued
 * once k-1 was issued and its connection has no request waiting (hsmd serves one request at
 * a time per connection), so connections run concurrently while decisions must stay in the
 * recorded order. With `concurrent` above 1, up to that many requests are unanswered at once
 * whatever their connection (as many connections would have them): the broker then has
 * several `req` messages in flight, which the network may deliver in any order, and the
 * recorded replies still come only if the device decides them in the order issued. After the scenario's steps the network settles (everything delivered in
 * order, appends durable, timers fired) and the checks run:
 * - every issued request answered exactly once, with CLN's recorded reply;
 * - the device's journal holds each issued request once, in issue order (init checks aside):
 *   nothing decided twice, none decided out of order.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sha256 } from '@noble/hashes/sha2.js';
import { Session, type SessionCommand, type SessionEvent } from '../broker/remote/session.js';
import { fastCurve } from '../node/curve-native.js';
import { Device } from '../firmware/app/device.js';
import type { TimerHandle, TransportHandlers } from '../firmware/app/ports.js';
import { Journal, openJournalFiles } from '../log/journal/journal.js';
import { MemoryDir } from '../log/memory-file.js';
import { RETIRED_FILE } from '../firmware/app/retired.js';
import { slotMark } from '../log/journal/high-water.js';
import { equal, fromHex, toHex } from '../signer/bytes.js';
import type { Reply } from '../signer/decision.js';
import { parseTopic } from '../signer/remote/topics.js';
import { messageNameOf, messageType, requestType } from '../signer/wire/messages.js';
import { fixturePath } from '../test/fixtures.js';
import { RECORDED_SESSIONS_POLICY_FILE, type SessionRequest, sessionRequests } from '../test/session-records.js';
import { loadTranscript } from '../test/transcript.js';

const NAME = 'session-basic-l1.jsonl';
export const RECORDED: readonly SessionRequest[] = sessionRequests(NAME);
const SECRET = fromHex(loadTranscript(fixturePath(`transcripts/${NAME}`)).header.hsm_secret);
const CURVE = fastCurve();
const WIRE_HSMD_INIT = messageType('hsmd_init');

/** One step of a scenario, as it prints in a counterexample. */
export type Step =
  | 'issue'
  | `deliver req ${number}` | `deliver req ${number} twice` | `drop req ${number}`
  | `deliver res ${number}` | `deliver res ${number} twice` | `drop res ${number}`
  | `durable ${number}` | 'pump' | `timer ${number}` | 'restart device';

export interface Scenario {
  /** How many recorded requests lightningd sends. */
  readonly requests: number;
  /** Requests unanswered at once: 1 keeps the recording's one per connection. */
  readonly concurrent: number;
  readonly steps: readonly Step[];
}

const pick = fc.nat(3);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Step>('issue') },
  { weight: 6, arbitrary: pick.map((i): Step => `deliver req ${i}`) },
  { weight: 1, arbitrary: pick.map((i): Step => `deliver req ${i} twice`) },
  { weight: 1, arbitrary: pick.map((i): Step => `drop req ${i}`) },
  { weight: 6, arbitrary: pick.map((i): Step => `deliver res ${i}`) },
  { weight: 1, arbitrary: pick.map((i): Step => `deliver res ${i} twice`) },
  { weight: 1, arbitrary: pick.map((i): Step => `drop res ${i}`) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }).map((n): Step => `durable ${n}`) },
  { weight: 3, arbitrary: fc.constant<Step>('pump') },
  { weight: 1, arbitrary: pick.map((i): Step => `timer ${i}`) },
  { weight: 1, arbitrary: fc.constant<Step>('restart device') },
);

export const scenarios = (maxRequests = 40): fc.Arbitrary<Scenario> =>
  fc.record({
    requests: fc.integer({ min: 1, max: maxRequests }),
    concurrent: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 12 })),
    steps: fc.array(step, { maxLength: 200, size: 'large' }),
  });

/** The session under test, as the glue sees it (a test may wrap it to break it on purpose). */
export interface SessionLike {
  handle(event: SessionEvent): SessionCommand[];
}

export interface NetworkOptions {
  readonly wrap?: (session: SessionLike) => SessionLike;
}

const replyText = (r: Reply): string => (r.kind === 'frame' ? toHex(r.frame) : r.kind === 'none' ? 'none' : `${r.kind}: ${r.description}`);
const label = (k: number): string => `#${k + 1} ${messageNameOf(requestType(RECORDED[k]!.envelope.message))?.replace(/^hsmd_/, '')}`;

/** Runs a scenario to the end and checks it; throws an AssertionError saying what went wrong. */
export async function runScenario(scenario: Scenario, options: NetworkOptions = {}): Promise<void> {
  const session: SessionLike = options.wrap ? options.wrap(new Session({ lastId: 0n, answeredUpTo: 0n })) : new Session({ lastId: 0n, answeredUpTo: 0n });
  const dir = new MemoryDir();
  const net = { req: [] as Uint8Array[], res: [] as Uint8Array[] };
  const appends: number[] = [];
  const timers = new Map<bigint, number>();
  const answers = new Map<number, string[]>();
  const lines: string[] = [];
  let pumpScheduled = false;
  let mono = 0;
  let wall = 1_700_000_000_000;
  let issued = 0;
  let device: { id: string; handlers: TransportHandlers } | undefined;

  const now = () => ({ wall: ++wall, mono: ++mono });
  const feed = (event: SessionEvent): void => {
    for (const c of session.handle(event)) run(c);
  };
  const run = (c: SessionCommand): void => {
    switch (c.kind) {
      case 'publish':
        return void net.req.push(c.payload);
      case 'append':
        if (c.ack !== undefined) appends.push(c.ack);
        return;
      case 'answer': {
        const got = answers.get(c.token) ?? [];
        got.push(replyText(c.reply));
        answers.set(c.token, got);
        assert.equal(got.length, 1, `${label(c.token)} answered twice`);
        return;
      }
      case 'fail':
        return assert.fail(`${label(c.token)} failed: ${c.error}`);
      case 'arm':
        return void timers.set(c.id, c.ms);
      case 'disarm':
        return void timers.delete(c.id);
      case 'schedule-pump':
        pumpScheduled = true;
        return;
      case 'log':
        return void lines.push(c.text);
      case 'node-id':
        return;
    }
  };

  /**
   * The device boots on the journal and connects; the server delivers what it queued for the
   * device's session right after CONNACK (each copy once, in order), so before the device's
   * SUBACK, after which it says hello.
   */
  const boot = async (): Promise<void> => {
    let handlers: TransportHandlers | undefined;
    const announced: SessionEvent[] = [];
    const d = Device.boot({
      transport: {
        connect: (_o, h) => void (handlers = h),
        subscribe: async () => {},
        publish: async (name, payload) => {
          const where = parseTopic(name)!;
          if (where.suffix === 'res') net.res.push(payload);
          else if (where.suffix === 'hello' || where.suffix === 'status') announced.push({ kind: where.suffix, device: where.deviceId, payload, now: now() });
        },
        end: async () => {},
      },
      leds: { show: () => {}, blink: () => {} },
      store: { lock: () => ({ release: () => {} }), hsmSecret: () => SECRET, passphrase: () => undefined, config: () => ({ mqttUrl: 'mqtt://model', brokerId: '00'.repeat(16) }), journalDir: () => dir, highWaterMark: () => slotMark(dir, 'model'), retiredMarker: () => dir.files.get(RETIRED_FILE), ownerKey: () => undefined, policyFile: () => new TextEncoder().encode(RECORDED_SESSIONS_POLICY_FILE) },
      clock: { now: () => wall, after: () => ({}) as TimerHandle, cancel: () => {} },
      curve: CURVE,
      firmware: 'model',
      log: (_level, line) => void lines.push(`device: ${line}`),
    });
    d.start();
    device = { id: d.deviceId, handlers: handlers! };
    // Right after CONNACK, before the device's SUBACK and so before its hello.
    for (const payload of net.req.splice(0)) toDevice(payload);
    handlers!.connected();
    for (let i = 0; i < 5; i++) await Promise.resolve(); // status online, subscribe, hello
    for (const event of announced) feed(event);
  };

  const busy = (k: number): boolean => {
    if (scenario.concurrent > 1) return k - [...answers.keys()].filter((j) => j < k).length >= scenario.concurrent;
    const conn = RECORDED[k]!.exchange.conn;
    for (let j = 0; j < k; j++) if (RECORDED[j]!.exchange.conn === conn && !answers.has(j)) return true;
    return false;
  };
  const issue = (): boolean => {
    if (issued >= scenario.requests || busy(issued)) return false;
    const { client, at, message } = RECORDED[issued]!.envelope;
    feed({ kind: 'request', token: issued++, request: { client, at, message }, now: now() });
    return true;
  };
  const take = (queue: Uint8Array[], i: number, keep: boolean): Uint8Array | undefined => {
    if (queue.length === 0) return undefined;
    const at = i % queue.length;
    const payload = queue[at]!;
    if (!keep) queue.splice(at, 1);
    return payload;
  };
  const toDevice = (payload: Uint8Array): void => device!.handlers.message(`sphinx/v1/${device!.id}/req`, payload);
  const toBroker = (payload: Uint8Array): void => feed({ kind: 'res', device: device!.id, payload, now: now() });
  const durable = (n: number): void => {
    for (const ack of appends.splice(0, n)) feed({ kind: 'appended', ack, now: now() });
  };
  const pump = (): boolean => {
    if (!pumpScheduled) return false;
    pumpScheduled = false;
    feed({ kind: 'pump', now: now() });
    return true;
  };
  const fire = (i: number): void => {
    const armed = [...timers];
    if (armed.length === 0) return;
    const [id, ms] = armed[i % armed.length]!;
    timers.delete(id);
    mono += ms;
    feed({ kind: 'timer', id, now: now() });
  };

  await boot();
  for (const s of scenario.steps) {
    const [verb, what, n, twice] = s.split(' ');
    if (s === 'issue') issue();
    else if (s === 'pump') pump();
    else if (s === 'restart device') {
      feed({ kind: 'status', device: device!.id, payload: new TextEncoder().encode('offline'), now: now() });
      await boot();
    } else if (verb === 'durable') durable(Number(what));
    else if (verb === 'timer') fire(Number(what));
    else {
      const queue = what === 'req' ? net.req : net.res;
      const payload = take(queue, Number(n), twice === 'twice');
      if (payload === undefined || verb === 'drop') continue;
      for (let k = twice === 'twice' ? 2 : 1; k > 0; k--) (what === 'req' ? toDevice : toBroker)(payload);
    }
  }

  // The network settles: the rest is issued, everything delivered in order, and the
  // timers fire while something is unanswered.
  for (let round = 0; round < 400; round++) {
    let moved = issue();
    if (appends.length > 0) (durable(appends.length), (moved = true));
    moved = pump() || moved;
    while (net.req.length > 0) (toDevice(net.req.shift()!), (moved = true));
    while (net.res.length > 0) (toBroker(net.res.shift()!), (moved = true));
    if (moved) continue;
    if (answers.size === scenario.requests) break;
    if (timers.size === 0) break;
    fire(0);
  }

  const tail = `\nsession log (last lines):\n  ${lines.slice(-8).join('\n  ')}`;
  for (let k = 0; k < scenario.requests; k++) {
    const got = answers.get(k);
    assert.ok(got !== undefined, `${label(k)} never answered after the network settled${tail}`);
    const expected = RECORDED[k]!.exchange.rep ?? 'none';
    assert.equal(got[0], expected, `${label(k)} answered with another reply than CLN's recorded one${tail}`);
  }
  // The device's journal: each request decided once, in the order lightningd issued them.
  const { recovery } = Journal.open(openJournalFiles(dir));
  const decided = recovery.records.filter((r) => !equal(r.record.requestDigest, INIT_DIGEST)).map((r) => toHex(r.record.requestDigest));
  const expected = RECORDED.slice(0, scenario.requests)
    .filter((r) => requestType(r.envelope.message) !== WIRE_HSMD_INIT)
    .map((r) => toHex(sha256(r.envelope.message)));
  assert.deepEqual(decided, expected, `the device's journal does not hold each request once, in issue order${tail}`);
}

const INIT_DIGEST = sha256(RECORDED.find((r) => requestType(r.envelope.message) === WIRE_HSMD_INIT)!.envelope.message);

/** The property: any scenario ends with every request answered once, correctly, decided once in order. */
export const sessionSurvivesTheNetwork = (options: NetworkOptions = {}, maxRequests?: number): fc.IAsyncProperty<[Scenario]> =>
  fc.asyncProperty(scenarios(maxRequests), (scenario) => runScenario(scenario, options));
