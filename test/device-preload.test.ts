/**
 * Preloading (docs/device-memory.md, "Preloaded modules"): after the linker has run the
 * firmware's modules at build time it freezes the built-ins (constructors and prototypes) and
 * every function, so on the device an assignment that would change one throws instead, such as
 * `this.name = …` in an Error subclass (Error.prototype.name is then read-only, and a read-only
 * inherited property cannot be shadowed by assignment). The device's signer is loaded in a bare
 * context, the built-ins and every function it exports are frozen the same way, and a recorded
 * session plus malformed frames must give the same replies as in a context left unfrozen.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import vm from 'node:vm';
import type { DeviceReplay } from '../bench/device-heap-entry.js';
import { bundleDevice } from './device-bundle.js';
import { deviceReplay, ESP32_SETTINGS } from './xs-engine.js';

/** What xsl freezes after preload: the built-ins, and every function reachable from the entry. */
const FREEZE_AS_PRELOADED = `(function () {
  "use strict";
  const seen = new Set();
  function freeze(value) {
    if ((typeof value !== 'function' && (typeof value !== 'object' || value === null)) || seen.has(value)) return;
    seen.add(value);
    if (typeof value === 'function') {
      Object.freeze(value);
      freeze(value.prototype);
      for (const key of Reflect.ownKeys(value)) freeze(Object.getOwnPropertyDescriptor(value, key).value);
    } else {
      for (const key of Reflect.ownKeys(value)) {
        const d = Object.getOwnPropertyDescriptor(value, key);
        freeze(d.value); freeze(d.get); freeze(d.set);
      }
    }
    freeze(Object.getPrototypeOf(value));
  }
  const intrinsics = Object.getOwnPropertyNames(globalThis).filter((name) => name !== 'deviceEntry').map((name) => globalThis[name]);
  const iterators = [[][Symbol.iterator](), new Map()[Symbol.iterator](), new Set()[Symbol.iterator](), ''[Symbol.iterator](), function* () {}, async function () {}];
  for (const value of [...intrinsics, ...iterators]) {
    if (typeof value === 'function') { Object.freeze(value); if (value.prototype) Object.freeze(value.prototype); }
    else if (typeof value === 'object' && value !== null) Object.freeze(Object.getPrototypeOf(value) === Object.prototype ? value : Object.getPrototypeOf(value));
  }
  Object.freeze(Object.getPrototypeOf(Uint8Array)); Object.freeze(Object.getPrototypeOf(Uint8Array).prototype);
  freeze(globalThis.deviceEntry);
})();`;

/** The replies of `run` through the device's signer loaded in a fresh bare context. */
function replayInRealm(run: DeviceReplay, frozen: boolean): string[] {
  const context = vm.createContext({});
  vm.runInContext(bundleDevice({ entry: 'bench/device-heap-entry.ts' }), context, { filename: 'device-bundle.js' });
  if (frozen) vm.runInContext(FREEZE_AS_PRELOADED, context);
  return JSON.parse(vm.runInContext(`JSON.stringify(deviceEntry.replay(JSON.parse(${JSON.stringify(JSON.stringify(run))})))`, context)) as string[];
}

test('the device signer answers the same in a realm frozen as after preload: a recorded session and malformed frames', () => {
  const session = deviceReplay('session-basic-l1.jsonl', ESP32_SETTINGS);
  const last = session.exchanges.at(-1)!;
  const malformed = ['0002', '00', 'ffff'].map((req, i) => ({ ...last, seq: last.seq + 1 + i, req, rep: null }));
  const run = { ...session, exchanges: [...session.exchanges, ...malformed] };
  const plain = replayInRealm(run, false);
  assert.equal(plain.length, malformed.length, `only the malformed frames differ from the recording: ${plain.join('\n')}`);
  assert.deepEqual(replayInRealm(run, true), plain);
});
