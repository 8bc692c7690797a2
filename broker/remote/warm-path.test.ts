/**
 * The remote path's warm start (warm-path.ts) rule by rule, then as a property: whatever the
 * order of devices' messages, echoes, stray echoes and timeouts, each device's messages reach
 * the session exactly once and in the order they came, and nothing is warmed after that.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import { assertProperty } from '../../property-tests/settings.js';
import { type WarmCommand, WarmPath, type WarmPathOptions } from './warm-path.js';

const A = '02'.repeat(33);
const B = '03'.repeat(33);
const PAYLOADS = [Uint8Array.of(1, 2, 3), Uint8Array.of(4), Uint8Array.of(5, 6)];
const options = (o: Partial<WarmPathOptions> = {}): WarmPathOptions => ({ rounds: 4, budgetMs: 1000, echoWaitMs: 250, payloads: PAYLOADS, ...o });

const of = <K extends WarmCommand<string>['kind']>(cs: WarmCommand<string>[], kind: K) => cs.filter((c): c is Extract<WarmCommand<string>, { kind: K }> => c.kind === kind);
/** Echoes every warm message in `cs` (and those that follow) until the warm-up releases; returns all commands. */
function echoAll(path: WarmPath<string>, cs: WarmCommand<string>[], at = () => 0): WarmCommand<string>[] {
  const all = [...cs];
  for (let warm = of(cs, 'warm')[0]; warm; ) {
    const next = path.echoed(warm.device, warm.payload, at());
    all.push(...next);
    warm = of(next, 'warm')[0];
  }
  return all;
}

test('a first hello is held while the device echoes `rounds` warm messages, the payloads in turn; then released', () => {
  const path = new WarmPath<string>(options());
  const first = path.arrived(A, true, 'hello', 0);
  assert.deepEqual(of(first, 'release'), []);
  assert.deepEqual(of(first, 'wait'), [{ kind: 'wait', device: A, ms: 250 }]);
  const all = echoAll(path, first);
  assert.deepEqual(of(all, 'warm').map((w) => [...w.payload]), [[1, 2, 3], [4], [5, 6], [1, 2, 3]]);
  assert.deepEqual(of(all, 'release'), [{ kind: 'release', device: A, events: ['hello'] }]);
  assert.match(of(all, 'log')[0]!.text, /4 echoes in 0 ms/);
});

test("the device's other messages wait behind its hello, in order, and go with it", () => {
  const path = new WarmPath<string>(options());
  const first = path.arrived(A, true, 'hello', 0);
  assert.deepEqual(path.arrived(A, false, 'status offline', 1), []);
  assert.deepEqual(path.arrived(A, true, 'hello again', 2), []);
  const all = echoAll(path, first);
  assert.deepEqual(of(all, 'release')[0]!.events, ['hello', 'status offline', 'hello again']);
});

test('another device is not held by a warm-up that is not its own', () => {
  const path = new WarmPath<string>(options());
  path.arrived(A, true, 'hello A', 0);
  assert.deepEqual(path.arrived(B, false, 'status B', 1), [{ kind: 'release', device: B, events: ['status B'] }]);
});

test('a later hello of a device warmed in this run, and any message before its first hello, go straight through', () => {
  const path = new WarmPath<string>(options());
  assert.deepEqual(path.arrived(A, false, 'status', 0), [{ kind: 'release', device: A, events: ['status'] }]);
  echoAll(path, path.arrived(A, true, 'hello', 1));
  assert.deepEqual(path.arrived(A, true, 'hello 2', 2), [{ kind: 'release', device: A, events: ['hello 2'] }]);
});

test('rounds 0 turns it off', () => {
  const path = new WarmPath<string>(options({ rounds: 0, payloads: [] }));
  assert.deepEqual(path.arrived(A, true, 'hello', 0), [{ kind: 'release', device: A, events: ['hello'] }]);
});

test('the budget ends the warm-up at the first echo past it', () => {
  const path = new WarmPath<string>(options({ rounds: 1000, budgetMs: 10 }));
  let t = 0;
  const all = echoAll(path, path.arrived(A, true, 'hello', 0), () => (t += 4));
  assert.equal(of(all, 'warm').length, 3); // echoes at 4, 8, 12 ms
  assert.deepEqual(of(all, 'release')[0]!.events, ['hello']);
});

test('a device that does not echo is released after one wait, said as such; one that stops echoing, loudly', () => {
  const silent = new WarmPath<string>(options());
  silent.arrived(A, true, 'hello', 0);
  const out = silent.timedOut(A, 250);
  assert.deepEqual(of(out, 'release')[0]!.events, ['hello']);
  assert.equal(of(out, 'log')[0]!.level, 'info');
  assert.match(of(out, 'log')[0]!.text, /does not echo warm \(older firmware, or it went away\)/);

  const stopping = new WarmPath<string>(options());
  const [, warm] = stopping.arrived(A, true, 'hello', 0) as [unknown, Extract<WarmCommand<string>, { kind: 'warm' }>];
  stopping.echoed(A, warm.payload, 1);
  assert.equal(of(stopping.timedOut(A, 300), 'log')[0]!.level, 'unusual');
  assert.deepEqual(stopping.timedOut(A, 600), [], 'a stale timer does nothing');
});

test('a stray echo (not the payload awaited, or no warm-up running) is ignored', () => {
  const path = new WarmPath<string>(options());
  assert.deepEqual(path.echoed(A, PAYLOADS[0]!, 0), []);
  path.arrived(A, true, 'hello', 0);
  assert.deepEqual(path.echoed(A, PAYLOADS[1]!, 1), []);
  assert.deepEqual(path.echoed(B, PAYLOADS[0]!, 1), []);
});

test('options are checked', () => {
  assert.throws(() => new WarmPath(options({ rounds: -1 })), RangeError);
  assert.throws(() => new WarmPath(options({ payloads: [] })), RangeError);
});

type Step =
  | { readonly kind: 'arrive'; readonly device: 0 | 1; readonly hello: boolean }
  | { readonly kind: 'echo'; readonly device: 0 | 1; readonly right: boolean }
  | { readonly kind: 'timeout'; readonly device: 0 | 1 }
  | { readonly kind: 'wait'; readonly ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('arrive' as const), device: fc.constantFrom(0 as const, 1 as const), hello: fc.boolean() }),
  fc.record({ kind: fc.constant('echo' as const), device: fc.constantFrom(0 as const, 1 as const), right: fc.boolean() }),
  fc.record({ kind: fc.constant('timeout' as const), device: fc.constantFrom(0 as const, 1 as const) }),
  fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 400 }) }),
);

test('property: every message reaches the session once, in its device\'s order; no warm message after the release; at most `rounds` echoes', () => {
  assertProperty(
    fc.property(fc.array(step, { maxLength: 80 }), fc.integer({ min: 0, max: 6 }), (steps, rounds) => {
      const path = new WarmPath<string>(options({ rounds, budgetMs: 500 }));
      const devices = [A, B];
      const arrivedIn = new Map<string, string[]>(devices.map((d) => [d, []]));
      const released = new Map<string, string[]>(devices.map((d) => [d, []]));
      const awaited = new Map<string, Uint8Array>();
      const warms = new Map<string, number>(devices.map((d) => [d, 0]));
      const timerSet = new Set<string>();
      /** Devices whose warm-up ended. */
      const ended = new Set<string>();
      let now = 0;
      let n = 0;
      const carry = (cs: WarmCommand<string>[]): void => {
        for (const c of cs) {
          if (c.kind === 'warm') {
            assert.ok(timerSet.has(c.device), 'a warm message goes with a wait');
            assert.ok(!ended.has(c.device), 'no warm message after the warm-up ended');
            awaited.set(c.device, c.payload);
            warms.set(c.device, warms.get(c.device)! + 1);
          }
          if (c.kind === 'wait') timerSet.add(c.device);
          if (c.kind === 'release') {
            released.get(c.device)!.push(...c.events);
            if (awaited.delete(c.device)) ended.add(c.device);
            timerSet.delete(c.device);
          }
        }
      };
      for (const s of steps) {
        if (s.kind === 'wait') now += s.ms;
        else if (s.kind === 'arrive') {
          const device = devices[s.device]!;
          const event = `${device.slice(0, 2)}#${n++}`;
          arrivedIn.get(device)!.push(event);
          carry(path.arrived(device, s.hello, event, now));
        } else if (s.kind === 'echo') {
          const device = devices[s.device]!;
          const payload = awaited.get(device);
          carry(path.echoed(device, s.right && payload ? payload : Uint8Array.of(9, 9), now));
        } else carry(path.timedOut(devices[s.device]!, now));
      }
      // Time runs out for whatever still waits: every device is released.
      for (const d of devices) carry(path.timedOut(d, now + 1000));
      for (const d of devices) {
        assert.deepEqual(released.get(d), arrivedIn.get(d));
        assert.ok(warms.get(d)! <= Math.max(rounds, 0), `${warms.get(d)} warm messages for ${rounds} rounds`);
        assert.equal(awaited.has(d), false);
      }
    }),
    300,
  );
});
