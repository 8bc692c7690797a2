/**
 * The device's memory at boot (docs/device-memory.md "Memory"): the journal holds a snapshot
 * and then N records (the ESP32's DEVICE_SNAPSHOT_EVERY, and the core's default of 1,000 as
 * before it); SignerCore.open reads them back and its observer, the journal mirror (offline,
 * nothing acknowledged), makes an entry of each before the outbox's bound can act. Weighed
 * right after open: the growth of the live heap across the boot, the core and mirror kept,
 * with the ESP32's settings, on Node and under XS when SPHINX_XST names an engine.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { DEFAULT_SNAPSHOT_EVERY } from '../core/signer-core.js';
import { DEVICE_SNAPSHOT_EVERY } from '../firmware/app/device-memory.js';
import { deviceReplay, ESP32_SETTINGS, heapBytes, NO_XST, runUnderXs, type XsEngine, xsEngine, xsGrowth, xsMark, xsPrint, xstPath } from '../test/xs-engine.js';
import { type BootJournal, boot, buildBootJournal, releaseBoot } from './device-boot-heap-entry.js';
import type { DeviceReplay } from './device-heap-entry.js';
import { liveBytes } from './device-heap.js';
import { type Bench, printTable } from './harness.js';

const SESSION = 'session-basic-l1.jsonl';
const RECORDS = [DEVICE_SNAPSHOT_EVERY, DEFAULT_SNAPSHOT_EVERY];

export interface BootHeap {
  readonly journal: BootJournal;
  /** Growth of the live heap across the boot (bytes). */
  readonly bytes: number;
  /** The mirror's unacknowledged entries right after open. */
  readonly entries: number;
  /** Under XS: the split. */
  readonly chunks?: number;
  readonly slots?: number;
}

/** Node: the median of five boots over one built journal, after a boot that warms up. */
export function nodeBootHeap(run: DeviceReplay, records: number): BootHeap {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const journal = buildBootJournal(run, records);
  boot(run);
  releaseBoot();
  const rounds: { bytes: number; entries: number }[] = [];
  for (let i = 0; i < 5; i++) {
    const before = liveBytes(gc);
    const entries = boot(run);
    rounds.push({ bytes: liveBytes(gc) - before, entries });
    releaseBoot();
  }
  rounds.sort((a, b) => a.bytes - b.bytes);
  return { journal, ...rounds[2]! };
}

/** XS: the second of two boots in a fresh xst (its figures are the same on every run). */
export async function xsBootHeap(engine: XsEngine, run: DeviceReplay, records: number): Promise<BootHeap> {
  const xs = await runUnderXs(engine, 'bench/device-boot-heap-entry.ts', {
    'run.js': `globalThis.run = ${JSON.stringify(run)};\n`,
    'build.js': `const journal = deviceEntry.buildBootJournal(globalThis.run, ${records});\n`,
    // A first boot, kept: until the next core is built XS keeps the last one reachable (the
    // build's too), so the growth across a boot is read with the one before it still kept.
    'boot.js': `deviceEntry.boot(globalThis.run);\n` + xsMark('before') + `const entries = deviceEntry.boot(globalThis.run);\n` + xsMark('after') + xsPrint('boot', '{ journal, entries }'),
  });
  const { journal, entries } = xs.printed<{ journal: BootJournal; entries: number }>('boot');
  const heap = xsGrowth(xs, 'before', 'after');
  return { journal, entries, bytes: heapBytes(heap), ...heap };
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const differ = (j: BootJournal) => (j.mismatches.length ? ` (${j.mismatches.length} replies differ!)` : '');
const split = (h: BootHeap) => (h.chunks === undefined ? '' : ` (chunks ${kib(h.chunks)}, slots ${kib(h.slots!)})`);

export const deviceBootHeapBench: Bench = {
  name: 'device memory at boot: the journal read back and made mirror entries (docs/device-memory.md)',
  async run() {
    const path = xstPath();
    const engine = path ? await xsEngine(path) : undefined;
    const run = deviceReplay(SESSION, ESP32_SETTINGS);
    const rows: string[][] = [];
    for (const records of RECORDS) {
      const node = nodeBootHeap(run, records);
      const j = node.journal;
      let xs: string;
      try {
        xs = engine ? ((h) => `${kib(h.bytes)}${split(h)}, ${h.entries} entries${differ(h.journal)}`)(await xsBootHeap(engine, run, records)) : NO_XST.split(':')[0]!;
      } catch (e) {
        xs = `failed: ${(e as Error).message.slice(0, 160)}`;
      }
      rows.push([
        `${records} records (mean ${Math.round(j.recordBytes / j.records)} B, largest ${j.largestRecord} B) after a ${kib(j.snapshotBytes)} snapshot${records === DEVICE_SNAPSHOT_EVERY ? ' (ESP32)' : ''}`,
        `${kib(node.bytes)}, ${node.entries} entries${differ(j)}`,
        xs,
      ]);
    }
    printTable([`${SESSION}, then derive_secret: journal`, 'Node: V8 heap + ArrayBuffers', `XS: chunks + slots${engine ? ` (${engine.version})` : ''}`], rows);
    if (!engine) console.log(NO_XST);
  },
};
