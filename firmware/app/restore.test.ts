/**
 * restoreFromMirror beside the running device (docs/journal.md "Restore"), on a transport that
 * answers as the broker does and a clock the test advances: a retained `online` that stays is
 * refused after the grace (DeviceOnlineError, nothing written); one followed by the will's
 * `offline` within it (a device just killed) lets the restore go on. The device's own
 * high-water mark bounds the mirror's freshness as the broker's reply log does.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { MemoryDir } from '../../log/memory-file.js';
import { Journal, JOURNAL_FILE, openJournalFiles } from '../../log/journal/journal.js';
import { encodeRecord } from '../../log/journal/record.js';
import { GENESIS, makeEntry, type MirrorEntry, positionAfter } from '../../log/mirror/entry.js';
import { MirrorRefusedError } from '../../log/mirror/verify.js';
import { encodeDump } from '../../log/mirror/messages.js';
import { toHex, utf8 } from '../../signer/bytes.js';
import { mirrorKey, nodePrivateKey } from '../../signer/keys/root-secrets.js';
import { nobleCurve } from '../../signer/crypto/noble.js';
import { topic } from '../../signer/remote/topics.js';
import { checkJournalAgainstMark, slotMark } from '../../log/journal/high-water.js';
import type { Clock, TimerHandle, Transport, TransportHandlers } from './ports.js';
import { DeviceOnlineError, restoreFromMirror } from './restore.js';
import { DeviceSetupError } from './ports.js';

const SECRET = new Uint8Array(32).fill(1);
/** SECRET's device id: the topics it uses. */
const DEVICE = toHex(nobleCurve.publicKey(nodePrivateKey(nobleCurve, SECRET)));

/** A clock whose timers fire when the test advances it. */
function manualClock() {
  let now = 0;
  const timers = new Set<{ at: number; fn: () => void }>();
  const clock: Clock = {
    now: () => 1_800_000_000_000 + now,
    after: (ms, fn) => {
      const t = { at: now + ms, fn };
      timers.add(t);
      return t as unknown as TimerHandle;
    },
    cancel: (t) => void timers.delete(t as unknown as { at: number; fn: () => void }),
  };
  const advance = (ms: number): void => {
    const until = now + ms;
    for (;;) {
      const next = [...timers].filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      timers.delete(next);
      now = next.at;
      next.fn();
    }
    now = until;
  };
  return { clock, advance };
}

/** The broker's side: the retained statuses on subscribe, then `dump` (by default none) for a fetch. */
function broker(statuses: readonly string[], dump: { repliedUpTo: bigint; entries: MirrorEntry[] } = { repliedUpTo: 0n, entries: [] }): Transport {
  let handlers: TransportHandlers | undefined;
  return {
    connect: (_options, h) => void (handlers = h, h.connected()),
    subscribe: async () => {},
    publish: async (name) => {
      if (!name.endsWith('/journal-fetch')) return;
      for (const s of statuses) handlers!.message(topic(DEVICE, 'status'), utf8(s));
      handlers!.message(topic(DEVICE, 'journal-dump'), encodeDump({ final: true, ...dump }));
    },
    end: async () => {},
  };
}

function restore(statuses: readonly string[], more: { dump?: Parameters<typeof broker>[1]; dir?: MemoryDir; acceptMirrorBehind?: bigint } = {}) {
  const dir = more.dir ?? new MemoryDir();
  const { clock, advance } = manualClock();
  const done = restoreFromMirror({
    transport: broker(statuses, more.dump),
    ...(more.acceptMirrorBehind !== undefined ? { acceptMirrorBehind: more.acceptMirrorBehind } : {}),
    store: {
      lock: () => ({ release() {} }), hsmSecret: () => SECRET, passphrase: () => undefined, config: () => ({ mqttUrl: 'mqtt://test', brokerId: '00'.repeat(16) }),
      journalDir: () => dir, highWaterMark: () => slotMark(dir, 'memory'), retiredMarker: () => undefined, ownerKey: () => undefined, policyFile: () => undefined,
    },
    clock,
    curve: nobleCurve,
    log: () => {},
  });
  return { done, advance, dir };
}

test('a restore beside a device whose status stays online is refused after the grace, writing nothing', async () => {
  const { done, advance, dir } = restore(['online']);
  await new Promise((r) => setImmediate(r)); // the subscription's turn
  advance(4999);
  let settled = false;
  done.catch(() => undefined).finally(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'still waiting for an offline within the grace');
  advance(1);
  await assert.rejects(done, (e: Error) => e instanceof DeviceOnlineError && new RegExp(`device ${DEVICE} is online`).test(e.message));
  assert.equal(dir.files.get(JOURNAL_FILE)?.size() ?? 0, 0, 'no journal written');
});

test("an online status followed by the will's offline lets the restore go on", async () => {
  const { done } = restore(['online', 'offline']);
  // It goes on to the mirror, which this broker does not have: the error after the online check.
  await assert.rejects(done, (e: Error) => e instanceof DeviceSetupError && !(e instanceof DeviceOnlineError) && /holds no mirror.*: nothing to restore from\. Check that --mqtt and the broker id are those of the broker this device used .*start without --restore/.test(e.message));
});

/** A mirror of records with ids 1..n, as the device makes it. */
function mirrorOf(n: number): MirrorEntry[] {
  const key = mirrorKey(SECRET);
  const out: MirrorEntry[] = [];
  let at = GENESIS;
  for (let id = 1n; id <= BigInt(n); id++) {
    const e = makeEntry(key, at, 'record', encodeRecord({ id, requestDigest: new Uint8Array(32).fill(Number(id)), events: [], reply: { kind: 'none' } }));
    out.push(e);
    at = positionAfter(e);
  }
  return out;
}

/** The restore's outcome, the clock advanced past its catch-up waits (a mirror behind is asked for again). */
async function outcome(done: Promise<unknown>, advance: (ms: number) => void): Promise<unknown> {
  let result: { value: unknown } | undefined;
  done.then((value) => (result = { value }), (error: unknown) => (result = { value: error }));
  for (let i = 0; i < 100 && !result; i++) {
    await new Promise((r) => setImmediate(r));
    advance(1000);
  }
  return result?.value;
}

test("a mirror behind the device's own high-water mark is refused (the next boot would refuse it), though the broker's reply log is behind too", async () => {
  const dir = new MemoryDir();
  slotMark(dir, 'memory').write(5n); // the journal lost, its mark (high-water-a/-b, NVS) kept
  const { done, advance } = restore(['offline'], { dir, dump: { repliedUpTo: 3n, entries: mirrorOf(3) } });
  const refused = await outcome(done, advance);
  assert.ok(refused instanceof MirrorRefusedError && refused.problem === 'rollback', String(refused));
  assert.match(refused.message, /the mirror ends at request id 3, but this device's high-water mark \(memory\) shows replies up to id 5 were sent: .*--accept-mirror-behind 3, .*SPHINX_ACCEPT_DEVICE_ROLLBACK=[0-9a-f]{66}:3 /);
  assert.equal(dir.files.get(JOURNAL_FILE)?.size() ?? 0, 0, 'no journal written');
  assert.equal(slotMark(dir, 'memory').read(), 5n, 'the mark stays');

  // Accepted by the owner for exactly that mirror: restored, the mark brought down, the journal opens past it.
  const accepted = restore(['offline'], { dir, dump: { repliedUpTo: 3n, entries: mirrorOf(3) }, acceptMirrorBehind: 3n });
  const restored = await outcome(accepted.done, accepted.advance);
  assert.equal((restored as { lastId: bigint }).lastId, 3n, String(restored));
  const mark = slotMark(dir, 'memory');
  assert.equal(mark.read(), 3n);
  assert.equal(checkJournalAgainstMark(mark, Journal.open(openJournalFiles(dir)).journal.lastId, {}), 3n, 'the next boot takes the restored journal');
});

test('a mirror that reaches the high-water mark restores; the mark stays', async () => {
  const dir = new MemoryDir();
  slotMark(dir, 'memory').write(2n);
  const { done, advance } = restore(['offline'], { dir, dump: { repliedUpTo: 3n, entries: mirrorOf(3) } });
  assert.equal(((await outcome(done, advance)) as { lastId: bigint }).lastId, 3n);
  assert.equal(Journal.open(openJournalFiles(dir)).journal.lastId, 3n);
});
