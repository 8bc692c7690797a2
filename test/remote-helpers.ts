/**
 * Helpers for the remote-path tests and bench: free ports, a device process (bin/sphinx-signer,
 * or test/crashing-device.ts when a crash is asked for) with its output in a file, an external
 * Mosquitto, the broker log read back after a run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, closeSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerLog, brokerLogDir, type StoredRecord } from '../log/broker-log/broker-log.js';
import { repoRoot } from './fixtures.js';

export const SIGNER_BIN = join(repoRoot, 'bin', 'sphinx-signer');
export const CRASHING_DEVICE = join(repoRoot, 'dist', 'test', 'crashing-device.js');

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export interface DeviceProcess {
  readonly child: ChildProcess;
  readonly dir: string;
  /** What it printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts bin/sphinx-signer with its own data dir holding `hsmSecret`, waiting for the broker
 * id in `brokerIdFile`; with `crash` (test/crashing-device.ts's options), the crashing device.
 */
export function startDeviceProcess(opts: { url: string; brokerIdFile: string; hsmSecret: Uint8Array; crash?: readonly string[]; dir?: string; args?: readonly string[] }): DeviceProcess {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'sphinx-device-'));
  writeFileSync(join(dir, 'hsm_secret'), opts.hsmSecret);
  const outPath = join(dir, 'device.out');
  const out = openSync(outPath, 'a');
  const signerArgs = ['--mqtt', opts.url, '--data', dir, '--broker-id-file', opts.brokerIdFile, ...(opts.args ?? [])];
  const argv = opts.crash ? [CRASHING_DEVICE, ...signerArgs, ...opts.crash] : [SIGNER_BIN, ...signerArgs];
  const child = spawn(process.execPath, argv, {
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    dir,
    output: () => readFileSync(outPath, 'utf8'),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Mosquitto on a free port, anonymous clients allowed (the broker and the device). */
export async function startMosquitto(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const child = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (up) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Every record of the broker log in `dataDir` (the hsmd must have exited). */
export async function readBrokerLog(dataDir: string): Promise<StoredRecord[]> {
  const log = await BrokerLog.open(brokerLogDir(dataDir));
  try {
    const all: StoredRecord[] = [];
    for await (const r of log.read()) all.push(r);
    return all;
  } finally {
    await log.close();
  }
}
