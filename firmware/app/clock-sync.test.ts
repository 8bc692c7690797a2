/**
 * The platform-neutral part of the SNTP adapter and the refusal message (clock-sync.ts),
 * with a scripted SNTP port and a manual clock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLOCK_SET_AFTER_MS, clockProblem, syncClock, tokenRefusalAdvice, type SntpAnswer } from './clock-sync.js';
import type { Clock, TimerHandle } from './ports.js';

function manualClock() {
  const timers: { at: number; fn: () => void }[] = [];
  let now = 0;
  const clock: Clock = {
    now: () => now,
    after: (ms, fn) => (timers.push({ at: now + ms, fn }), timers.length as unknown as TimerHandle),
    cancel: () => {},
  };
  const advance = (ms: number) => {
    now += ms;
    for (const t of timers.splice(0).filter((t) => t.at <= now)) t.fn();
  };
  return { clock, advance };
}

test('syncClock tries each server, retries later, and sets the first plausible time', async () => {
  const { clock, advance } = manualClock();
  const answers: SntpAnswer[] = [
    { ok: false, reason: 'no answer' },
    { ok: true, seconds: 5 }, // an unset server clock: 1970
    { ok: true, seconds: 1_796_300_000 },
  ];
  const asked: string[] = [];
  const lines: string[] = [];
  let set: number | undefined;
  const done = syncClock(['a.pool', 'b.pool'], {
    query: (host, reply) => (asked.push(host), reply(answers.shift()!)),
    setTime: (s) => (set = s),
    clock,
    log: (level, line) => lines.push(`${level} ${line}`),
  }, 5_000);
  assert.deepEqual(asked, ['a.pool', 'b.pool'], 'both servers, then a pause');
  assert.equal(set, undefined);
  advance(5_000);
  await done;
  assert.deepEqual(asked, ['a.pool', 'b.pool', 'a.pool']);
  assert.equal(set, 1_796_300_000);
  assert.match(lines[0]!, /^unusual SNTP a\.pool: no answer; trying the next server/);
  assert.match(lines[1]!, /^unusual SNTP b\.pool: the clock reads 1970-01-01T00:00:05\.000Z: it was never set; trying again in 5 s/);
  assert.match(lines[2]!, /^info clock set by SNTP \(a\.pool\): 2026-/);
  assert.throws(() => syncClock([], { query: () => {}, setTime: () => {}, clock, log: () => {} }), /no SNTP server/);
});

test('a refused token is explained with the device clock', () => {
  assert.equal(clockProblem(CLOCK_SET_AFTER_MS + 1), undefined);
  const unset = tokenRefusalAdvice('Connection refused: Not authorized', 5_000);
  assert.equal(unset, 'Connection refused: Not authorized: the clock reads 1970-01-01T00:00:05.000Z: it was never set, so the login token carries a wrong time (SNTP)');
  // A set clock: the connection says what to check (device-connection.ts), once.
  const set = 'Connection refused: Bad username or password';
  assert.equal(tokenRefusalAdvice(set, Date.UTC(2026, 11, 3)), set);
  assert.equal(tokenRefusalAdvice('connection closed', 5_000), 'connection closed');
});
