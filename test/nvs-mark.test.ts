/**
 * firmware/moddable/nvs-mark.ts, the ESP32's high-water mark, bundled as for the device with
 * Preference stood in by a store with NVS's rules (keys of at most 15 characters, strings kept
 * as given): each seed's device has its own mark, so a board wiped and given another seed
 * starts without the old one's (docs/journal.md "Rollback").
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import vm from 'node:vm';
import { bundleDevice, inertModule } from './device-bundle.js';

const NVS_STANDIN = inertModule(`(() => {
  const kept = new Map();
  globalThis.nvsKept = kept; // the test writes values the mark never would (damage)
  const check = (domain, key) => { if (domain.length > 15 || key.length > 15) throw new Error('NVS keys are at most 15 characters: ' + key); };
  return {
    get(domain, key) { check(domain, key); return kept.get(domain + '/' + key); },
    set(domain, key, value) { check(domain, key); kept.set(domain + '/' + key, value); },
    delete(domain, key) { kept.delete(domain + '/' + key); },
    keys() { return [...kept.keys()]; },
  };
})()`);

interface Mark {
  readonly where: string;
  read(): bigint | undefined;
  write(id: bigint): void;
}

test('the NVS mark is kept per device id within NVS key limits; ids above 2^32 survive', () => {
  const context = vm.createContext({});
  vm.runInContext(bundleDevice({ entry: 'firmware/moddable/nvs-mark.ts', platform: { preference: NVS_STANDIN } }), context);
  const { nvsMark, nvsMarkKey } = vm.runInContext('globalThis.deviceEntry', context) as { nvsMark(id: string): Mark; nvsMarkKey(id: string): string };
  const one = `02${'1a'.repeat(32)}`;
  const other = `03${'1a'.repeat(6)}b${'0'.repeat(51)}`;
  assert.notEqual(nvsMarkKey(one), nvsMarkKey(other), 'ids that differ in the first 13 hex digits of x');
  assert.ok(nvsMarkKey(one).length <= 15);
  const mark = nvsMark(one);
  assert.equal(mark.read(), undefined, 'a new device has none');
  mark.write(2n ** 40n + 7n);
  assert.equal(nvsMark(one).read(), 2n ** 40n + 7n, 'read back across opens, above 32 bits');
  assert.equal(nvsMark(other).read(), undefined, "another seed's device does not see it");
  assert.match(mark.where, /^NVS sphinx\/hw[0-9a-f]{13}$/);
});

test('an NVS value that is not a u64 in decimal is no mark (as a damaged slot file), and the next write replaces it', () => {
  const context = vm.createContext({});
  vm.runInContext(bundleDevice({ entry: 'firmware/moddable/nvs-mark.ts', platform: { preference: NVS_STANDIN } }), context);
  const { nvsMark, nvsMarkKey } = vm.runInContext('globalThis.deviceEntry', context) as { nvsMark(id: string): Mark; nvsMarkKey(id: string): string };
  const kept = vm.runInContext('globalThis.nvsKept', context) as Map<string, unknown>;
  const id = `02${'2b'.repeat(32)}`;
  const put = (value: unknown) => kept.set(`sphinx/${nvsMarkKey(id)}`, value);
  for (const bad of ['18446744073709551616', '99999999999999999999', '340282366920938463463374607431768211456', '-1', '1e3', '007', '', 12]) {
    put(bad);
    assert.equal(nvsMark(id).read(), undefined, JSON.stringify(bad));
  }
  put('18446744073709551615');
  assert.equal(nvsMark(id).read(), 2n ** 64n - 1n, 'the largest u64 is a mark');
  put('18446744073709551616');
  const mark = nvsMark(id);
  mark.write(5n);
  assert.equal(mark.read(), 5n);
});
