/**
 * Device after a restart (docs/remote-protocol.md "Requests", firmware/README.md step 6), with
 * the message order an MQTT server produces when it delivers its queued copies of requests
 * interleaved with the broker's resends (seen with aedes: test/sphinx-signer.test.ts "SIGKILL
 * mid-replay, twice"). Requests and replies are session-basic-l1's, recorded from CLN v25.12.1.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { type FileDir, type FilePort, readWhole, replaceWhole } from '../../log/file-port.js';
import { MemoryDir } from '../../log/memory-file.js';
import { toHex, utf8 } from '../../signer/bytes.js';
import { nobleCurve } from '../../signer/crypto/noble.js';
import { decodeReplyPayload, encodeRequest, encodeRequestBatch } from '../../signer/remote/envelope-codec.js';
import { JOURNAL_FILE } from '../../log/journal/journal.js';
import type { MemoryFile } from '../../log/memory-file.js';
import { encodeRefusal } from '../../signer/remote/refusal.js';
import { topic } from '../../signer/remote/topics.js';
import { fixturePath } from '../../test/fixtures.js';
import { sessionPolicy, sessionRequests } from '../../test/session-records.js';
import { loadTranscript } from '../../test/transcript.js';
import { Device, type DeviceOptions, MARK_RAISE_MS } from './device.js';
import { DeviceRetiredError, RETIRED_FILE, decodeRetiredMarker } from './retired.js';
import { JournalRollbackError, slotMark } from '../../log/journal/high-water.js';
import { DeviceSetupError, type TimerHandle, type TransportHandlers } from './ports.js';

const NAME = 'session-basic-l1.jsonl';
const requests = sessionRequests(NAME);
const secret = Uint8Array.from(loadTranscript(fixturePath(`transcripts/${NAME}`)).header.hsm_secret.match(/../g)!.map((b) => parseInt(b, 16)));

/**
 * The ports of a Device on `dir`: a transport that records replies and lets the test deliver
 * requests; it also records every topic published, the log, the lights, and what connects, ends
 * or re-arms the connection (`atEnd` runs as the transport ends, before it resolves).
 */
function portsOn(dir: MemoryDir, onRefused?: (reason: string) => void, atEnd?: () => void) {
  const replies: { id: bigint; reply: string }[] = [];
  const topics: string[] = [];
  const subscribed: string[] = [];
  /** Each warmed message's payload. */
  const echoes: Uint8Array[] = [];
  const lines: string[] = [];
  const lights: string[] = [];
  const ends = { connects: 0, count: 0, timers: 0 };
  /** Each res message: its ids, and the journal's syncs when it was published. */
  const messages: { ids: bigint[]; syncs: number }[] = [];
  const journal = dir.open(JOURNAL_FILE) as MemoryFile;
  const connection: { handlers?: TransportHandlers } = {};
  const timers = new Set<{ ms: number; fn: () => void }>();
  /** Runs the timers armed for `ms` (they fire in the order armed). */
  const fire = (ms: number) => {
    for (const timer of [...timers]) if (timer.ms === ms) (timers.delete(timer), timer.fn());
  };
  const options: DeviceOptions = {
    transport: {
      connect: (_options, h) => void (ends.connects++, (connection.handlers = h)),
      subscribe: async (names) => void subscribed.push(...names),
      publish: async (name, payload) => {
        const suffix = name.split('/').at(-1)!;
        topics.push(suffix === 'status' ? `status ${new TextDecoder().decode(payload)}` : suffix);
        if (suffix === 'warmed') echoes.push(payload);
        if (!name.endsWith('/res')) return;
        const envs = decodeReplyPayload(payload);
        messages.push({ ids: envs.map((e) => e.id), syncs: journal.syncs });
        for (const { id, reply } of envs) replies.push({ id, reply: reply.kind === 'frame' ? toHex(reply.frame) : reply.kind });
      },
      end: async () => void (ends.count++, atEnd?.()),
    },
    leds: { show: (state) => void lights.push(state), blink: (state) => void lights.push(`blink ${state}`) },
    store: { lock: () => ({ release() {} }), hsmSecret: () => secret, passphrase: () => undefined, config: () => ({ mqttUrl: 'mqtt://test', brokerId: '00'.repeat(16) }), journalDir: () => dir, highWaterMark: () => slotMark(dir, 'memory'), retiredMarker: () => dir.files.get(RETIRED_FILE), ownerKey: () => undefined, policyFile: () => undefined },
    clock: {
      now: () => Date.now(),
      after: (ms, fn) => {
        const timer = { ms, fn };
        ends.timers++;
        timers.add(timer);
        return timer as unknown as TimerHandle;
      },
      cancel: (timer) => void timers.delete(timer as unknown as { ms: number; fn: () => void }),
    },
    curve: nobleCurve,
    policy: sessionPolicy(NAME),
    firmware: 'test',
    log: (level, line) => void lines.push(`${level}: ${line}`),
    onRefused,
  };
  return { options, connection, replies, messages, journal, topics, subscribed, echoes, lines, lights, ends, fire };
}

/** A Device booted on `dir` (portsOn), started and connected. */
function bootOn(dir: MemoryDir, onRefused?: (reason: string) => void, atEnd?: () => void) {
  const ports = portsOn(dir, onRefused, atEnd);
  const device = Device.boot(ports.options);
  device.start();
  const handlers = ports.connection.handlers!;
  handlers.connected();
  const deliver = (...indexes: number[]) => {
    for (const i of indexes) handlers.message(topic(device.deviceId, 'req'), encodeRequest(requests[i]!.envelope));
  };
  const deliverBatch = (...indexes: number[]) => deliverAfter(0n, ...indexes);
  /** A batch sent while the one holding `after` was still in flight. */
  const deliverAfter = (after: bigint, ...indexes: number[]) => {
    handlers.message(topic(device.deviceId, 'req'), encodeRequestBatch(indexes.map((i) => requests[i]!.envelope), after));
  };
  const refuse = (payload: Uint8Array) => handlers.message(topic(device.deviceId, 'refused'), payload);
  return { ...ports, device, deliver, deliverBatch, deliverAfter, refuse };
}

test('restart: queued copies interleaved with the resends after init are answered in id order, none refused', () => {
  const dir = new MemoryDir();
  const first = bootOn(dir);
  first.deliver(...Array.from({ length: 10 }, (_, i) => i));
  assert.equal(first.replies.length, 10);

  const again = bootOn(dir);
  // Queued copies of 11..13 before init: held back. The init resent first (its journaled id).
  // Then a queued copy of 14 comes before the resends of 11..13: it must wait for them, else
  // 11..13 would fall below the journal's last id and be refused for good.
  again.deliver(10, 11, 12, 0, 13, 10, 11, 12, 13, 14);
  assert.deepEqual(
    again.replies.map((r) => r.id),
    [1n, 11n, 12n, 13n, 14n, 15n],
  );
  for (const { id, reply } of again.replies) assert.equal(reply, requests[Number(id) - 1]!.exchange.rep, `id ${id}`);
});

test('a batch is handled in order with one journal sync, answered by one res message after it, every reply as recorded', () => {
  const dir = new MemoryDir();
  const d = bootOn(dir);
  d.deliver(0); // hsmd_init alone (a version-1 envelope, answered with version 1)
  const before = d.journal.syncs;
  d.deliverBatch(...Array.from({ length: 40 }, (_, i) => i + 1));
  assert.equal(d.journal.syncs, before + 1, 'one sync for the batch');
  assert.equal(d.messages.length, 2);
  assert.deepEqual(d.messages[1], { ids: Array.from({ length: 40 }, (_, i) => BigInt(i + 2)), syncs: before + 1 }, 'published after the sync, in order');
  for (const { id, reply } of d.replies) assert.equal(reply, requests[Number(id) - 1]!.exchange.rep, `id ${id}`);
  // Redelivered (a QoS 1 duplicate): the journaled replies, no new record, no sync needed.
  d.deliverBatch(5, 6, 7);
  assert.equal(d.journal.syncs, before + 1);
  assert.deepEqual(d.messages[2]!.ids, [6n, 7n, 8n]);
  for (const { id, reply } of d.replies.slice(41)) assert.equal(reply, requests[Number(id) - 1]!.exchange.rep, `id ${id}`);
});

test('restart: in a batch, ids before init are held back (no reply), init and what follows answered; the held-back ones after their resend', () => {
  const dir = new MemoryDir();
  bootOn(dir).deliverBatch(...Array.from({ length: 10 }, (_, i) => i));
  const again = bootOn(dir);
  again.deliverBatch(10, 11); // queued copies before init: held back, nothing published
  assert.equal(again.messages.length, 0);
  again.deliverBatch(0, 12); // init (journaled id: its reply); 13 waits for 11 and 12
  assert.deepEqual(again.replies.map((r) => r.id), [1n]);
  again.deliverBatch(10, 11, 12, 13);
  assert.deepEqual(again.replies.map((r) => r.id), [1n, 11n, 12n, 13n, 14n]);
  assert.equal(again.messages.length, 2);
  for (const { id, reply } of again.replies) assert.equal(reply, requests[Number(id) - 1]!.exchange.rep, `id ${id}`);
});

test('several messages in flight: a batch delivered before the one it follows waits for it, then both are answered in id order', () => {
  const d = bootOn(new MemoryDir());
  d.deliver(0);
  // Three messages in flight (ids 2-3, 4-5, 6-7), delivered last first.
  d.deliverAfter(5n, 5, 6);
  d.deliverAfter(3n, 3, 4);
  assert.deepEqual(d.replies.map((r) => r.id), [1n], 'nothing decided before what it follows');
  d.deliverBatch(1, 2);
  assert.deepEqual(d.messages.map((m) => m.ids), [[1n], [2n, 3n], [4n, 5n], [6n, 7n]]);
  for (const { id, reply } of d.replies) assert.equal(reply, requests[Number(id) - 1]!.exchange.rep, `id ${id}`);
  // A resend of a message already handled (its reply lost) names nothing unhandled: journaled replies.
  d.deliverAfter(3n, 3, 4);
  assert.deepEqual(d.messages.at(-1)!.ids, [4n, 5n]);
});

test("the broker's warm start: a warm message is echoed at once on warmed, byte for byte, nothing journaled or answered", async () => {
  const d = bootOn(new MemoryDir());
  await new Promise((resolve) => setImmediate(resolve)); // the connection's subscribe, status and hello
  assert.ok(d.subscribed.includes(topic(d.device.deviceId, 'warm')));
  d.deliver(0);
  const [size, syncs, replies] = [d.journal.size(), d.journal.syncs, d.replies.length];
  // Any bytes: the device does not read them (a request's, here, so it could not be mistaken for one).
  const payload = encodeRequest(requests[1]!.envelope);
  d.connection.handlers!.message(topic(d.device.deviceId, 'warm'), payload);
  assert.deepEqual(d.echoes, [payload]);
  assert.deepEqual([d.journal.size(), d.journal.syncs, d.replies.length, d.device.lastId], [size, syncs, replies, requests[0]!.envelope.id]);
});

/** A directory whose device was refused (journal ending at id 10, the broker having answered 42), and when. */
async function retiredDir() {
  const dir = new MemoryDir();
  bootOn(dir).deliver(...Array.from({ length: 10 }, (_, i) => i));
  let reason: string | undefined;
  /** The marker as a power cut at the disconnect leaves it. */
  let atDisconnect: ReturnType<typeof decodeRetiredMarker> | undefined;
  const stale = bootOn(dir, (r) => (reason = r), () => {
    dir.crash();
    atDisconnect = decodeRetiredMarker(readWhole(dir.open(RETIRED_FILE)));
  });
  const before = Date.now();
  stale.refuse(encodeRefusal({ reason: 'rollback', lastId: 10n, answeredUpTo: 42n }));
  const after = Date.now();
  await new Promise((r) => setImmediate(r));
  return { dir, stale, reason, atDisconnect, before, after };
}

test('refused by the broker for its own stale journal: it stops for good, without "offline", and says both ids and the way out', async () => {
  const { stale, reason, atDisconnect, before, after } = await retiredDir();
  assert.ok(reason, 'the host is told');
  assert.match(reason, new RegExp(`device ${stale.device.deviceId}: its journal ends at id 10 but the broker log shows id 42 answered`));
  assert.match(reason, /wipe its data directory.*docs\/journal.md "Retiring a device".*restore its newest journal/);
  assert.match(reason, /Restarted, it stops again without connecting: retired records this\..*then delete retired and start it$/);
  // Written and synced before the transport ended: a power cut at the disconnect keeps it.
  assert.ok(atDisconnect && !(atDisconnect instanceof Error), `the marker at the disconnect: ${atDisconnect}`);
  assert.deepEqual({ ...atDisconnect, at: undefined }, { deviceId: stale.device.deviceId, lastId: 10n, answeredUpTo: 42n, at: undefined });
  assert.ok(atDisconnect.at >= before && atDisconnect.at <= after, 'stamped by the device clock');
  assert.equal(stale.ends.count, 1, 'disconnected (a clean DISCONNECT: no will)');
  assert.ok(stale.topics.includes('status online') && !stale.topics.includes('status offline'), 'no "offline": the active device shares the status topic');
  assert.equal(stale.lights.at(-1), 'retired');
  assert.equal(stale.device.led, 'retired');
  // Nothing more: no request handled, no reconnect armed.
  const timers = stale.ends.timers;
  stale.deliver(0, 10);
  assert.deepEqual(stale.replies, []);
  assert.equal(stale.ends.timers, timers);
  await stale.device.stop();
  assert.ok(!stale.topics.includes('status offline'), 'a later stop says nothing either');
});

test('a refusal payload that does not decode is logged and blinked and the device goes on, its journal and replies intact; one about another journal is ignored', () => {
  const dir = new MemoryDir();
  let refused = false;
  const d = bootOn(dir, () => (refused = true));
  d.deliver(0, 1, 2);
  const journaled = d.journal.syncs;
  d.refuse(new TextEncoder().encode('{"v":1,"reason":"rollback","lastId":"3"}'));
  assert.match(d.lines.join('\n'), /unusual: dropped a refusal payload of 40 bytes that does not decode \(fields lastId, reason, v; expected answeredUpTo, lastId, reason, v\); still running/);
  assert.equal(d.lights.at(-1), 'blink error');
  // Meant for another device with this seed: this journal (ends at 3) reaches the answered id.
  d.refuse(encodeRefusal({ reason: 'rollback', lastId: 1n, answeredUpTo: 3n }));
  assert.match(d.lines.join('\n'), /the broker's refusal of a journal ending at id 1 ignored: this device's journal ends at id 3, which reaches id 3/);
  d.deliver(1, 3, 4);
  assert.deepEqual(d.replies.map((r) => r.id), [1n, 2n, 3n, 2n, 4n, 5n]);
  for (const { id, reply } of d.replies) assert.equal(reply, requests[Number(id) - 1]!.exchange.rep, `id ${id}`);
  assert.ok(d.journal.syncs > journaled);
  assert.equal(refused, false);
  assert.equal(dir.files.has(RETIRED_FILE), false, 'no retired marker for a refusal it did not act on');
  assert.equal(d.ends.count, 0);
  assert.notEqual(d.device.led, 'retired');
});

/** Boots on `dir`, which must hold the retired marker: what it said, and what it touched. */
function bootRetired(dir: MemoryDir) {
  const ports = portsOn(dir);
  const touched: string[] = [];
  const { store } = ports.options;
  const options: DeviceOptions = {
    ...ports.options,
    store: { ...store, lock: () => (touched.push('lock'), store.lock()), hsmSecret: () => (touched.push('hsm_secret'), store.hsmSecret()), journalDir: () => (touched.push('journal'), store.journalDir()) },
  };
  assert.throws(() => Device.boot(options), DeviceRetiredError);
  return { ...ports, touched };
}

test('restarted on storage with the retired marker: it stops at boot, saying both ids and the way out, never reading the seed or connecting', async () => {
  const { dir, stale } = await retiredDir();
  await stale.device.stop();
  const again = bootRetired(dir);
  assert.equal(again.ends.connects, 0, 'never connected');
  assert.deepEqual(again.touched, [], 'no lock, seed or journal opened');
  assert.deepEqual(again.lights, ['booting', 'retired']);
  assert.equal(again.lines.length, 1);
  assert.match(again.lines[0]!, new RegExp(`^broken: retired, not connecting: retired records that at \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z the broker refused device ${stale.device.deviceId}: its journal ends at id 10 but the broker log shows id 42 answered`));
  assert.match(again.lines[0]!, /wipe its data directory, hsm_secret included.*SPHINX_ACCEPT_DEVICE_ROLLBACK=.*:10 .*then delete retired and start it$/);
  // The owner's explicit way back: the marker deleted, it boots and connects.
  dir.files.delete(RETIRED_FILE);
  const back = bootOn(dir);
  assert.equal(back.ends.connects, 1);
  assert.equal(back.device.lastId, 10n);
});

test('a damaged retired marker (torn, flipped, empty, or not this format) still stops the device at boot, saying it is unreadable and how to clear it', async () => {
  const { dir, stale } = await retiredDir();
  await stale.device.stop();
  const file = dir.open(RETIRED_FILE);
  const good = new TextDecoder().decode(readWhole(file));
  const flipped = readWhole(file);
  flipped[flipped.indexOf(0x3a)]! ^= 1 << 3; // the first ':' becomes '2'
  const damage: [string, Uint8Array, RegExp][] = [
    ['torn', utf8(good.slice(0, -7)), /not JSON/],
    ['flipped', flipped, /not JSON/],
    ['empty', new Uint8Array(0), /not JSON/],
    ['another version', utf8(good.replace('"v":1', '"v":2')), /version 2; expected 1/],
    ['an extra field', utf8(good.replace('{', '{"x":0,')), /fields answeredUpTo, at, device, lastId, v, x/],
    ['ids that are no rollback', utf8(good.replace('"lastId":"10"', '"lastId":"42"')), /lastId 42 is not below answeredUpTo 42/],
  ];
  for (const [name, bytes, why] of damage) {
    replaceWhole(file, bytes);
    const again = bootRetired(dir);
    assert.equal(again.ends.connects, 0, name);
    assert.deepEqual(again.touched, [], name);
    assert.equal(again.lights.at(-1), 'retired', name);
    assert.match(again.lines[0]!, /^broken: retired is there but unreadable \(/, name);
    assert.match(again.lines[0]!, why, name);
    assert.match(again.lines[0]!, /so this device stays retired and does not connect\. .*wipe its data directory, hsm_secret included.*delete retired and start it$/, name);
  }
});

test('a retired marker that cannot be written: the device still stops for good, and says a restart will be refused again', async () => {
  const dir = new MemoryDir();
  bootOn(dir).deliver(0, 1, 2);
  const ports = portsOn(dir);
  const failing: FileDir = { open: (name) => (name === RETIRED_FILE ? failingFile(name) : dir.open(name)) };
  let reason: string | undefined;
  const device = Device.boot({ ...ports.options, store: { ...ports.options.store, journalDir: () => failing }, onRefused: (r) => (reason = r) });
  device.start();
  ports.connection.handlers!.connected();
  ports.connection.handlers!.message(topic(device.deviceId, 'refused'), encodeRefusal({ reason: 'rollback', lastId: 3n, answeredUpTo: 9n }));
  await new Promise((r) => setImmediate(r));
  assert.match(reason ?? '', /its journal ends at id 3 but the broker log shows id 9 answered.*The retired marker could not be written \(retired: card removed\): restarted, it connects and is refused again/);
  assert.equal(ports.ends.count, 1);
  assert.equal(device.led, 'retired');
  assert.equal(dir.files.has(RETIRED_FILE), false);
});

function failingFile(name: string): FilePort {
  const fail = (): never => {
    throw new Error(`${name}: card removed`);
  };
  return { name, size: () => 0, read: () => new Uint8Array(0), append: fail, sync: fail, truncate: fail };
}

test('the high-water mark rises on the device\'s timer after the replies, to what is journaled, and at a clean stop', async () => {
  const dir = new MemoryDir();
  const mark = () => slotMark(dir, 'memory').read(); // a fresh reader each time: a slotMark keeps what it read
  const d = bootOn(dir);
  d.deliver(...Array.from({ length: 5 }, (_, i) => i));
  assert.equal(d.replies.length, 5);
  assert.equal(mark(), 0n, 'raised at open (an empty journal) only: no mark write rides on a reply');
  d.fire(MARK_RAISE_MS);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(mark(), 5n);
  d.deliver(5, 6, 7);
  assert.equal(mark(), 5n);
  d.connection.handlers!.disconnected('test'); // no mirror to wait for at stop
  await d.device.stop();
  assert.equal(mark(), 8n, 'raised at stop');
});

test('a journal cut back below its high-water mark is refused at boot, and booted when the configuration accepts exactly that rollback; the mark is the seed device\'s', async () => {
  const dir = new MemoryDir();
  const first = bootOn(dir);
  first.deliver(...Array.from({ length: 10 }, (_, i) => i));
  first.connection.handlers!.disconnected('test');
  await first.device.stop(); // the mark up to 10
  // The card's journal swapped for an older copy: one that holds ids 1..4 only.
  const older = new MemoryDir();
  bootOn(older).deliver(0, 1, 2, 3);
  replaceWhole(dir.open(JOURNAL_FILE), readWhole(older.open(JOURNAL_FILE)));
  const marksAsked: string[] = [];
  const bootWith = (acceptJournalRollback?: unknown) => {
    const ports = portsOn(dir);
    const store = ports.options.store;
    const config = () => ({ ...store.config(), ...(acceptJournalRollback === undefined ? {} : { acceptJournalRollback }) });
    const highWaterMark = (deviceId: string) => (marksAsked.push(deviceId), store.highWaterMark(deviceId));
    return { ports, boot: () => Device.boot({ ...ports.options, store: { ...store, config, highWaterMark } }) };
  };
  assert.throws(() => bootWith().boot(), (e: Error) => e instanceof JournalRollbackError && e.journalLastId === 4n && e.mark === 10n);
  assert.deepEqual(marksAsked, [first.device.deviceId], "the mark asked for is this seed's device's");
  assert.throws(() => bootWith({ lastId: '4', answeredUpTo: '11' }).boot(), JournalRollbackError, 'another rollback than the one accepted');
  for (const bad of [{ lastId: 4, answeredUpTo: '10' }, { lastId: '4' }, '4:10', { lastId: '10', answeredUpTo: '4' }]) {
    assert.throws(() => bootWith(bad).boot(), (e: Error) => e instanceof DeviceSetupError && /acceptJournalRollback in the configuration: .*or remove it/.test(e.message), JSON.stringify(bad));
  }
  const accepted = bootWith({ lastId: '4', answeredUpTo: '10' });
  const device = accepted.boot();
  assert.equal(device.deviceId, first.device.deviceId);
  assert.ok(accepted.ports.lines.some((l) => /ends at request id 4 but replies up to id 10 were sent .*ACCEPTED by the operator: the mark comes down to 4/.test(l)), accepted.ports.lines.join('\n'));
  device.stop();
});
