/**
 * Runs the device's signer under the XS engine (docs/device-memory.md, "Under XS"): `xst`, the
 * Moddable SDK's test shell, named by SPHINX_XST and built outside this repository with its
 * collection reports on. The device's module graph (bench/device-heap-entry.ts, bundled by
 * test/device-bundle.ts) replays a recorded session with the ESP32's settings; `xst` collects
 * garbage at marks the script prints, and reports after each collection the bytes its chunks
 * and slots use. The figures are read from those reports.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEVICE_KEY_CACHES } from '../firmware/app/device-memory.js';
import { toHex } from '../signer/bytes.js';
import type { DeviceReplay } from '../bench/device-heap-entry.js';
import { bundleDevice } from './device-bundle.js';
import { fixturePath } from './fixtures.js';
import { SESSION_ALLOWLIST } from './session-records.js';
import { clientOf, loadTranscript } from './transcript.js';

const run = promisify(execFile);
const CLIENT_HSMFD = 9;

/** Where the XS engine is: SPHINX_XST, or undefined. */
export const xstPath = (): string | undefined => process.env['SPHINX_XST'] || undefined;
export const NO_XST = 'no XS engine: set SPHINX_XST to an xst binary built with collection reports (docs/device-memory.md)';

export interface MemorySettings {
  readonly label: string;
  readonly nobleWindow: DeviceReplay['nobleWindow'];
  readonly keyCaches: DeviceReplay['keyCaches'];
}

export const ESP32_SETTINGS: MemorySettings = { label: 'ESP32 (our curve: no table; small key caches)', nobleWindow: undefined, keyCaches: DEVICE_KEY_CACHES };
export const NODE_SETTINGS: MemorySettings = { label: "Node defaults (noble's curve, window 6; caches 1024/1024/256)", nobleWindow: 6, keyCaches: undefined };

/** A recorded session (the broker's hsmd_client_hsmfd left out) to replay with `settings`. */
export function deviceReplay(name: string, settings: MemorySettings): DeviceReplay {
  const { header, exchanges } = loadTranscript(fixturePath(`transcripts/${name}`));
  return {
    hsmSecret: header.hsm_secret,
    developer: header.hsmd_args.includes('--developer'),
    nobleWindow: settings.nobleWindow,
    keyCaches: settings.keyCaches,
    allowlist: SESSION_ALLOWLIST[name] ?? [],
    exchanges: exchanges
      .filter((ex) => parseInt(ex.req.slice(0, 4), 16) !== CLIENT_HSMFD)
      .map((ex) => {
        const client = clientOf(ex);
        return { seq: ex.seq, peer: toHex(client.peer), dbid: String(client.dbid), permissions: String(client.permissions), req: ex.req, rep: ex.rep };
      }),
  };
}

export interface XsEngine {
  readonly path: string;
  /** e.g. "XS 17.9.1, slot 16 bytes, ID 2 bytes" */
  readonly version: string;
  /** 16 on a 32-bit build, as on the ESP32; 32 on a 64-bit one. */
  readonly slotBytes: number;
}

export async function xsEngine(path: string): Promise<XsEngine> {
  const { stdout } = await run(path, ['-v']);
  const version = /^XS .*$/m.exec(stdout)?.[0];
  const slot = version && /slot (\d+) bytes/.exec(version);
  if (!slot) throw new Error(`${path} -v did not print "XS …, slot N bytes": not an xst of the Moddable SDK`);
  return { path, version, slotBytes: Number(slot[1]) };
}

/** Bytes in use after a full collection. */
export interface XsHeap {
  readonly chunks: number;
  readonly slots: number;
}

export interface XsReplay {
  /** After the device's modules are loaded (their code included: on the device it stays in flash). */
  readonly loaded: XsHeap;
  /** Growth across the replay, the signer kept: its live heap. */
  readonly signer: XsHeap;
  readonly mismatches: string[];
}

export const heapBytes = (h: XsHeap): number => h.chunks + h.slots;

const MARK = '@@sphinx ';

/** A script line that prints mark `name` and collects: the heap after it is read at `name`. */
export const xsMark = (name: string): string => `print(${JSON.stringify(MARK + name)}); $262.gc();\n`;
/** A script line that prints `expression` as JSON, read back by XsRun.printed(name). */
export const xsPrint = (name: string, expression: string): string => `print(${JSON.stringify(MARK + name + ' ')} + JSON.stringify(${expression}));\n`;

export interface XsRun {
  /** The heap after mark `name` (xsMark). */
  at(name: string): XsHeap;
  /** What xsPrint(name, …) printed, parsed. */
  printed<T>(name: string): T;
}

/**
 * Runs in a fresh `xst`: a mark "start", `entry` bundled (test/device-bundle.ts, its exports
 * `deviceEntry`), a mark "loaded", then `scripts` in order.
 */
export async function runUnderXs(engine: XsEngine, entry: string, scripts: Readonly<Record<string, string>>): Promise<XsRun> {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-xs-'));
  try {
    const files = { 'start.js': xsMark('start'), 'bundle.js': bundleDevice({ entry }), 'loaded.js': xsMark('loaded'), ...scripts };
    for (const [name, source] of Object.entries(files)) writeFileSync(join(dir, name), source);
    const { stdout } = await run(engine.path, ['-s', ...Object.keys(files).map((f) => join(dir, f))], { maxBuffer: 64 * 2 ** 20 }).catch((e: Error & { stdout?: string; stderr?: string }) => {
      const ended = e as { code?: number | string; signal?: string };
      const said = (e.stderr || e.stdout || '').trim().split('\n').slice(-3).join(' | ');
      throw new Error(`${engine.path} failed (${ended.signal ?? `exit ${ended.code}`}): ${said || e.message}`);
    });
    const heaps = collectionReports(stdout);
    return {
      at: (name) => {
        const heap = heaps.get(name);
        if (!heap) throw new Error(`${engine.path} printed no collection report after mark "${name}": build it with mxReport on and mxNoConsole off (docs/device-memory.md)`);
        return heap;
      },
      printed: <T>(name: string): T => {
        const text = new RegExp(`^${MARK}${name} (.*)$`, 'm').exec(stdout)?.[1];
        if (text === undefined) throw new Error(`${engine.path} did not finish: ${stdout.slice(-300)}`);
        return JSON.parse(text) as T;
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Growth of the heap from mark `from` to mark `to`. */
export const xsGrowth = (xs: XsRun, from: string, to: string): XsHeap => ({ chunks: xs.at(to).chunks - xs.at(from).chunks, slots: xs.at(to).slots - xs.at(from).slots });

/** Replays `replay` in a fresh `xst`; every reply is checked against the recording. */
export async function replayUnderXs(engine: XsEngine, replay: DeviceReplay): Promise<XsReplay> {
  const xs = await runUnderXs(engine, 'bench/device-heap-entry.ts', {
    'replay.js': `globalThis.replay = ${JSON.stringify(replay)};\n`,
    'measure.js': xsMark('before') + `const mismatches = deviceEntry.replay(globalThis.replay);\n` + xsMark('after') + xsPrint('mismatches', 'mismatches'),
  });
  const mismatches = xs.printed<string[]>('mismatches'); // first: a run that stopped early says so
  return { loaded: xsGrowth(xs, 'start', 'loaded'), signer: xsGrowth(xs, 'before', 'after'), mismatches };
}

/** For each mark, the first "# Chunk collection … used N" and "# Slot collection … used N" after it. */
function collectionReports(stdout: string): Map<string, XsHeap> {
  const heaps = new Map<string, XsHeap>();
  let current: { name: string; chunks?: number } | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith(MARK)) current = { name: line.slice(MARK.length) };
    const used = /^# (Chunk|Slot) collection: .* used (\d+) /.exec(line);
    if (!current || !used) continue;
    if (used[1] === 'Chunk') current.chunks ??= Number(used[2]);
    else if (current.chunks !== undefined && !heaps.has(current.name)) heaps.set(current.name, { chunks: current.chunks, slots: Number(used[2]) });
  }
  return heaps;
}
