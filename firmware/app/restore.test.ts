/**
 * restoreFromMirror beside the running device (docs/journal.md "Restore"), on a transport that
 * answers as the broker does and a clock the test advances: a retained `online` that stays is
 * refused after the grace (DeviceOnlineError, nothing written); one followed by the will's
 * `offline` within it (a device just killed) lets the restore go on.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { MemoryDir } from '../../log/memory-file.js';
import { JOURNAL_FILE } from '../../log/journal/journal.js';
import { encodeDump } from '../../log/mirror/messages.js';
import { toHex, utf8 } from '../../signer/bytes.js';
import { nodePrivateKey } from '../../signer/keys/root-secrets.js';
import { nobleCurve } from '../../signer/crypto/noble.js';
import { topic } from '../../signer/remote/topics.js';
import { slotMark } from '../../log/journal/high-water.js';
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

/** The broker's side: the retained statuses on subscribe, an empty final dump for a fetch. */
function broker(statuses: readonly string[]): Transport {
  let handlers: TransportHandlers | undefined;
  return {
    connect: (_options, h) => void (handlers = h, h.connected()),
    subscribe: async () => {},
    publish: async (name) => {
      if (!name.endsWith('/journal-fetch')) return;
      for (const s of statuses) handlers!.message(topic(DEVICE, 'status'), utf8(s));
      handlers!.message(topic(DEVICE, 'journal-dump'), encodeDump({ final: true, repliedUpTo: 0n, entries: [] }));
    },
    end: async () => {},
  };
}

function restore(statuses: readonly string[]) {
  const dir = new MemoryDir();
  const { clock, advance } = manualClock();
  const done = restoreFromMirror({
    transport: broker(statuses),
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
  await assert.rejects(done, (e: Error) => e instanceof DeviceSetupError && !(e instanceof DeviceOnlineError) && /holds no mirror/.test(e.message));
});
