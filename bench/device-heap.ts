/**
 * The device's memory (docs/device-memory.md): the signer's live heap after init and a whole
 * recorded session (one channel opened, used and closed), with the ESP32's settings (no
 * precomputed table, small key caches) and with Node's (window 6), on Node and — when
 * SPHINX_XST names an XS engine (test/xs-engine.ts) — under XS, where every reply is also
 * checked against the recording.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { DEVICE_HEAP_BUDGET } from '../firmware/app/device-memory.js';
import {
  deviceReplay,
  ESP32_SETTINGS,
  heapBytes,
  type MemorySettings,
  NO_XST,
  NODE_SETTINGS,
  replayUnderXs,
  type XsEngine,
  xsEngine,
  xstPath,
} from '../test/xs-engine.js';
import { type DeviceReplay, release, replay } from './device-heap-entry.js';
import { type Bench, printTable } from './harness.js';

const SESSIONS = ['session-basic-l1.jsonl', 'hsmd-basic-mnemonic.jsonl'];
const SETTINGS: readonly MemorySettings[] = [ESP32_SETTINGS, NODE_SETTINGS];

export interface HeapFigure {
  readonly bytes: number;
  readonly mismatches: number;
}

/** V8's live heap plus ArrayBuffer contents (kept outside it), after full collections. */
export function liveBytes(gc: () => void): number {
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/**
 * Node: growth of the live heap across the replay, the signer kept. A first replay warms up
 * what any process has once (lazily built module constants, compiled code) and is not counted.
 */
export function nodeHeap(run: DeviceReplay): HeapFigure {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  replay(run);
  release();
  // The median of five: V8's own bookkeeping (compiled code, feedback) moves the total by tens of KiB.
  const rounds: HeapFigure[] = [];
  for (let i = 0; i < 5; i++) {
    const before = liveBytes(gc);
    const mismatches = replay(run).length;
    const after = liveBytes(gc);
    release();
    rounds.push({ bytes: after - before, mismatches });
  }
  rounds.sort((a, b) => a.bytes - b.bytes);
  return rounds[2]!;
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const differ = (n: number) => (n ? ` (${n} replies differ!)` : '');

async function xsFigure(engine: XsEngine | undefined, run: DeviceReplay, loaded: string[]): Promise<string> {
  if (!engine) return NO_XST.split(':')[0]!;
  try {
    const xs = await replayUnderXs(engine, run);
    if (loaded.length === 0) loaded.push(`${kib(heapBytes(xs.loaded))} (chunks ${kib(xs.loaded.chunks)}, slots ${kib(xs.loaded.slots)})`);
    return `${kib(heapBytes(xs.signer))} (chunks ${kib(xs.signer.chunks)}, slots ${kib(xs.signer.slots)})${differ(xs.mismatches.length)}`;
  } catch (e) {
    return `failed: ${(e as Error).message.slice(0, 160)}`;
  }
}

export const deviceHeapBench: Bench = {
  name: 'device memory: signer heap after init and a recorded session (docs/device-memory.md)',
  async run() {
    const path = xstPath();
    const engine = path ? await xsEngine(path) : undefined;
    const loaded: string[] = [];
    const rows: string[][] = [];
    for (const name of SESSIONS) {
      for (const settings of SETTINGS) {
        const run = deviceReplay(name, settings);
        const node = nodeHeap(run);
        rows.push([`${name}: ${settings.label}`, `${kib(node.bytes)}${differ(node.mismatches)}`, await xsFigure(engine, run, loaded)]);
      }
    }
    printTable(['session: settings', 'Node: V8 heap + ArrayBuffers', `XS: chunks + slots${engine ? ` (${engine.version})` : ''}`], rows);
    console.log(`budget on the device: ${kib(DEVICE_HEAP_BUDGET)} (ESP32-C3 class) for the signer under XS with 16-byte slots, as on the ESP32`);
    if (engine) console.log(`under XS, loading the device's modules: ${loaded[0] ?? 'failed'} — the code included, which on the device stays in flash`);
    else console.log(NO_XST);
  },
};
