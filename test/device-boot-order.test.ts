/**
 * Boot order (docs/device-memory.md): the firmware's module graph, from
 * firmware/moddable/main.ts down, is loaded in a bare JavaScript context — only the language's
 * own globals, as under XS before the firmware installs anything — with TextEncoder,
 * TextDecoder, crypto, Buffer and process as traps that record every touch. No module may
 * touch them while loading: the platform adds them (or the code must not need them) later.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import vm from 'node:vm';
import { bundleDevice, MODDABLE_STANDINS } from './device-bundle.js';

const LATER_GLOBALS = ['TextEncoder', 'TextDecoder', 'crypto', 'Buffer', 'process'] as const;

test('the firmware module graph loads without touching a global the platform adds later', () => {
  const script = bundleDevice({ entry: 'firmware/moddable/main.ts', platform: MODDABLE_STANDINS });
  const touched: string[] = [];
  const context = vm.createContext({});
  for (const name of LATER_GLOBALS) {
    let installed: unknown;
    Object.defineProperty(vm.runInContext('globalThis', context), name, {
      configurable: true,
      get() {
        if (installed !== undefined) return installed;
        touched.push(name);
        throw new ReferenceError(`${name} is not defined (touched while loading)`);
      },
      set(value) {
        installed = value;
      },
    });
  }
  let error: unknown;
  try {
    vm.runInContext(script, context, { filename: 'device-bundle.js' });
  } catch (e) {
    error = e;
  }
  assert.deepEqual([...new Set(touched)], [], `touched at load: ${touched.join(', ')}; first error: ${String(error)}`);
  assert.equal(error, undefined);
  const entry = vm.runInContext('globalThis.deviceEntry', context) as { default?: unknown };
  assert.equal(typeof entry.default, 'function', 'main.ts exports its start function');
});
