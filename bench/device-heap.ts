/**
 * The device's memory (docs/device-memory.md): the signer's live heap after init and a whole
 * recorded session (one channel opened, used and closed), with the ESP32's curve settings
 * (no precomputed table) and with Node's (window 6), on Node and — when an XS engine is at
 * hand (XSNAP_WORKER=path to @agoric/xsnap's xsnap-worker) — under XS, where the figure is the
 * growth of a heap snapshot between before and after (the code is in both). The XS run also
 * checks every reply against the recording.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { DEVICE_CURVE_WINDOW, DEVICE_KEY_CACHES } from '../firmware/app/device-memory.js';
import { toHex } from '../signer/bytes.js';
import { bundleDevice } from '../test/device-bundle.js';
import { fixturePath } from '../test/fixtures.js';
import { clientOf, loadTranscript } from '../test/transcript.js';
import { type HeapExchange, release, replay } from './device-heap-entry.js';
import { type Bench, printTable } from './harness.js';

const CLIENT_HSMFD = 9;
const SESSIONS = ['session-basic-l1.jsonl', 'hsmd-basic-mnemonic.jsonl'];

interface MemorySettings {
  readonly label: string;
  readonly windowSize: number;
  /** Key ring caches; undefined = the signer's defaults (Node). */
  readonly keyCaches: typeof DEVICE_KEY_CACHES | undefined;
}

const SETTINGS: readonly MemorySettings[] = [
  { label: 'ESP32 (no table, small key caches)', windowSize: DEVICE_CURVE_WINDOW, keyCaches: DEVICE_KEY_CACHES },
  { label: 'Node defaults (window 6, caches 1024/1024/256)', windowSize: 6, keyCaches: undefined },
];
/** The budget for an ESP32-C3 class device (issue: signer heap after init and one channel). */
export const DEVICE_HEAP_BUDGET = 160 * 1024;

interface Session {
  readonly name: string;
  readonly hsmSecret: string;
  readonly developer: boolean;
  readonly exchanges: HeapExchange[];
}

function session(name: string): Session {
  const { header, exchanges } = loadTranscript(fixturePath(`transcripts/${name}`));
  return {
    name,
    hsmSecret: header.hsm_secret,
    developer: header.hsmd_args.includes('--developer'),
    exchanges: exchanges
      .filter((ex) => parseInt(ex.req.slice(0, 4), 16) !== CLIENT_HSMFD)
      .map((ex) => {
        const client = clientOf(ex);
        return { peer: toHex(client.peer), dbid: String(client.dbid), permissions: String(client.permissions), req: ex.req, rep: ex.rep };
      }),
  };
}

export interface HeapFigure {
  readonly bytes: number;
  readonly mismatches: number;
}

/** V8's live heap plus ArrayBuffer contents (kept outside it), after full collections. */
function liveBytes(gc: () => void): number {
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/**
 * Node: growth of the live heap across the replay, the signer kept. A first replay warms up
 * what any process has once (lazily built module constants, compiled code) and is not counted.
 */
export function nodeHeap(s: Session, settings: MemorySettings): HeapFigure {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  replay(s.hsmSecret, s.developer, settings.windowSize, settings.keyCaches, s.exchanges);
  release();
  // The median of five: V8's own bookkeeping (compiled code, feedback) moves the total by tens of KiB.
  const rounds: HeapFigure[] = [];
  for (let i = 0; i < 5; i++) {
    const before = liveBytes(gc);
    const mismatches = replay(s.hsmSecret, s.developer, settings.windowSize, settings.keyCaches, s.exchanges);
    const after = liveBytes(gc);
    release();
    rounds.push({ bytes: after - before, mismatches });
  }
  rounds.sort((a, b) => a.bytes - b.bytes);
  return rounds[2]!;
}

/** XS (xsnap-worker): snapshot size growth across the replay, in a fresh engine. */
export async function xsHeap(worker: string, s: Session, settings: MemorySettings): Promise<HeapFigure> {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-xs-'));
  try {
    writeFileSync(join(dir, 'bundle.js'), bundleDevice({ entry: 'bench/device-heap-entry.ts' }));
    writeFileSync(join(dir, 'session.js'), `globalThis.session = ${JSON.stringify(s)};`);
    const xs = new XsnapWorker(worker);
    try {
      await xs.run(join(dir, 'bundle.js'));
      await xs.run(join(dir, 'session.js'));
      await xs.evaluate('gc();');
      const before = await xs.snapshotSize(join(dir, 'a.xss'));
      await xs.evaluate(`globalThis.mismatches = deviceEntry.replay(session.hsmSecret, session.developer, ${settings.windowSize}, ${JSON.stringify(settings.keyCaches)}, session.exchanges); gc(); print("mismatches " + mismatches);`);
      const after = await xs.snapshotSize(join(dir, 'b.xss'));
      const mismatches = Number(/mismatches (\d+)/.exec(xs.stdout())?.[1] ?? NaN);
      return { bytes: after - before, mismatches };
    } finally {
      await xs.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The xsnap-worker protocol: netstrings on fd 3 (to it) and fd 4 (from it). */
class XsnapWorker {
  readonly #child;
  #input = Buffer.alloc(0);
  #waiting: ((message: Buffer) => void) | undefined;
  #out = '';
  #err = '';

  constructor(path: string) {
    this.#child = spawn(path, ['sphinx-heap'], { stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] });
    this.#child.stdout!.on('data', (d: Buffer) => (this.#out += d.toString()));
    this.#child.stderr!.on('data', (d: Buffer) => (this.#err += d.toString()));
    (this.#child.stdio[4] as NodeJS.ReadableStream).on('data', (d: Buffer) => {
      this.#input = Buffer.concat([this.#input, d]);
      this.#deliver();
    });
  }

  stdout(): string {
    return this.#out;
  }

  #deliver(): void {
    const colon = this.#input.indexOf(0x3a);
    if (colon < 0 || !this.#waiting) return;
    const length = Number(this.#input.subarray(0, colon).toString());
    if (this.#input.length < colon + 1 + length + 1) return;
    const message = this.#input.subarray(colon + 1, colon + 1 + length);
    this.#input = this.#input.subarray(colon + 2 + length);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting(message);
  }

  #send(command: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#waiting = (message) => (message[0] === 0x2e ? resolve(message.subarray(1)) : reject(new Error(`${command[0] === 's' ? 'loading' : 'running'} failed: ${this.#err.trim().split('\n')[0] ?? message.toString()}`)));
      const body = Buffer.from(command);
      (this.#child.stdio[3] as NodeJS.WritableStream).write(Buffer.concat([Buffer.from(`${body.length}:`), body, Buffer.from(',')]));
    });
  }

  run(file: string): Promise<Buffer> {
    return this.#send(`s${file}`);
  }

  evaluate(code: string): Promise<Buffer> {
    return this.#send(`e${code}`);
  }

  async snapshotSize(file: string): Promise<number> {
    await this.#send(`w${file}`);
    return statSync(file).size;
  }

  async close(): Promise<void> {
    const exited = new Promise((r) => this.#child.once('exit', r));
    (this.#child.stdio[3] as NodeJS.WritableStream).end();
    await exited;
  }
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

export const deviceHeapBench: Bench = {
  name: 'device memory: signer heap after init and a recorded session (docs/device-memory.md)',
  async run() {
    const worker = process.env['XSNAP_WORKER'];
    const rows: string[][] = [];
    for (const name of SESSIONS) {
      const s = session(name);
      for (const settings of SETTINGS) {
        const node = nodeHeap(s, settings);
        let xs = 'no XS (XSNAP_WORKER)';
        if (worker) {
          try {
            const figure = await xsHeap(worker, s, settings);
            xs = `${kib(figure.bytes)}${figure.mismatches ? ` (${figure.mismatches} replies differ!)` : ''}`;
          } catch (e) {
            xs = `failed: ${(e as Error).message.slice(0, 120)}`;
          }
        }
        rows.push([
          `${name}: ${settings.label}`,
          `${kib(node.bytes)}${node.mismatches ? ` (${node.mismatches} replies differ!)` : ''}`,
          xs,
        ]);
      }
    }
    printTable(['session: settings', 'Node heap + ArrayBuffers', 'XS (64-bit xsnap) snapshot growth'], rows);
    console.log(`budget on the device: ${kib(DEVICE_HEAP_BUDGET)} (ESP32-C3 class); XS slots are 16 bytes on the ESP32, 32 in 64-bit xsnap`);
  },
};
