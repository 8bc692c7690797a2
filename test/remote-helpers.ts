/**
 * Helpers for the remote-path tests and bench: free ports, a device process (bin/sphinx-signer,
 * or test/crashing-device.ts when a crash is asked for) with its output in a file, an external
 * Mosquitto configured as examples/mosquitto.conf, the broker log and a device's journal read
 * back after a run.
 */
import { OWNER_KEY_FILE, POLICY_FILE } from '../firmware/app/control.js';
import { RECORDED_SESSIONS_POLICY_FILE } from './session-records.js';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { BrokerLog, brokerLogDir, type StoredRecord } from '../log/broker-log/broker-log.js';
import { Journal, openJournalFiles } from '../log/journal/journal.js';
import { encodeEntry, isSourced, type JournalEntry } from '../log/journal/record.js';
import { NodeDir } from '../node/node-file.js';
import { toHex } from '../signer/bytes.js';
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
  /**
   * What it printed, once that matches `pattern` or `ms` have passed (then as it stands, for the
   * caller's assertion to show): a line the device writes after an effect the test saw first (a
   * process it killed, a refusal) may reach its output file a moment later.
   */
  outputMatching(pattern: RegExp, ms: number): Promise<string>;
  /**
   * SIGKILLs the device at once. Started `reaped`, the device is gone once this returns, even
   * while this process's event loop is blocked (a synchronous replay): no zombie is left
   * holding its data directory's lock, as after a real crash.
   */
  sigkill(): void;
  stop(): Promise<void>;
}

/**
 * Starts bin/sphinx-signer with its data in `dir` (created if missing; a fresh temporary one
 * if not given) holding `hsmSecret`, waiting for the broker id in `brokerIdFile`; with `crash`
 * (test/crashing-device.ts's options), the crashing device. A caller's `dir` is the caller's
 * to remove; a temporary one made here outlives restarts of the device on it (tests reuse it)
 * and is removed when the test process exits.
 * Its policy.json is `policyFile`: by default the recorded sessions' withdrawal destinations
 * allowlisted (test/session-records.ts), null for none (the device defaults). `ownerKey`
 * provisions owner.pub for signed control. `reaped`: the device runs under a shell that reaps
 * it when it dies (sigkill).
 */
export function startDeviceProcess(opts: {
  url: string;
  brokerIdFile: string;
  hsmSecret: Uint8Array;
  crash?: readonly string[];
  dir?: string;
  policyFile?: string | null;
  ownerKey?: string;
  args?: readonly string[];
  reaped?: boolean;
}): DeviceProcess {
  const dir = opts.dir ?? madeDeviceDir();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'hsm_secret'), opts.hsmSecret);
  const policyFile = opts.policyFile === undefined ? RECORDED_SESSIONS_POLICY_FILE : opts.policyFile;
  if (policyFile !== null) writeFileSync(join(dir, POLICY_FILE), policyFile);
  if (opts.ownerKey !== undefined) writeFileSync(join(dir, OWNER_KEY_FILE), opts.ownerKey);
  const outPath = join(dir, 'device.out');
  const out = openSync(outPath, 'a');
  const signerArgs = ['--mqtt', opts.url, '--data', dir, '--broker-id-file', opts.brokerIdFile, ...(opts.args ?? [])];
  const argv = opts.crash ? [CRASHING_DEVICE, ...signerArgs, ...opts.crash] : [SIGNER_BIN, ...signerArgs];
  const pidFile = join(dir, 'device.pid');
  // The shell waits for the device (reaping it) and passes SIGTERM on; the device's pid in pidFile.
  const reaper = `"$@" & p=$!; echo $p > "${pidFile}"; trap 'kill -TERM $p' TERM; wait $p; wait $p`;
  const child = opts.reaped
    ? spawn('sh', ['-c', reaper, 'sh', process.execPath, ...argv], { stdio: ['ignore', out, out] })
    : spawn(process.execPath, argv, { stdio: ['ignore', out, out] });
  closeSync(out);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    dir,
    output: () => readFileSync(outPath, 'utf8'),
    async outputMatching(pattern, ms) {
      const until = Date.now() + ms;
      let text = readFileSync(outPath, 'utf8');
      while (!pattern.test(text) && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 25));
        text = readFileSync(outPath, 'utf8');
      }
      return text;
    },
    sigkill() {
      if (!opts.reaped) return void child.kill('SIGKILL');
      let pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
      for (let i = 0; !pid && i < 500; i++) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
      }
      process.kill(pid, 'SIGKILL');
      // Gone once the shell has reaped it (kill 0 then fails).
      for (let i = 0; i < 500; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          return;
        }
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 3000)))]);
      clearTimeout(timer); // else it keeps the test's process alive
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

const madeDirs: string[] = [];
function madeDeviceDir(): string {
  if (madeDirs.length === 0) process.once('exit', () => madeDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-device-'));
  madeDirs.push(dir);
  return dir;
}

export interface Mosquitto {
  /** The broker's URL: mqtts://sphinx-broker:<its password>@127.0.0.1:<port>. */
  readonly url: string;
  /** A device's: mqtts://127.0.0.1:<port> (its user and password are its own). */
  readonly deviceUrl: string;
  /** The CA that signed the server's certificate (SPHINX_MQTT_CA, --ca). */
  readonly caFile: string;
  /** Each device's password file (--mqtt-password-file), by device id. */
  readonly passwordFiles: ReadonlyMap<string, string>;
  /** What Mosquitto logged so far. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Mosquitto as examples/mosquitto.conf configures it, on a free port: TLS with a CA and server
 * certificate from examples/mosquitto-certs.sh, a password file with the broker's user and one
 * per device (mosquitto_passwd), examples/mosquitto.acl. The example's port and paths are
 * replaced; two lines are added: `user` (started as root, Mosquitto would otherwise switch to
 * the mosquitto user, which cannot read a private temporary directory) and a log file.
 */
export async function startMosquitto(deviceIds: readonly string[]): Promise<Mosquitto> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'mosquitto-'));
  const run = (cmd: string, args: readonly string[]): void => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  };
  run('sh', [join(repoRoot, 'examples', 'mosquitto-certs.sh'), dir, '127.0.0.1']);
  const password = () => randomBytes(16).toString('hex');
  const brokerPassword = password();
  run('mosquitto_passwd', ['-c', '-b', join(dir, 'passwd'), 'sphinx-broker', brokerPassword]);
  const passwordFiles = new Map<string, string>();
  for (const id of deviceIds) {
    const secret = password();
    run('mosquitto_passwd', ['-b', join(dir, 'passwd'), id, secret]);
    writeFileSync(join(dir, `${id}.password`), secret + '\n');
    passwordFiles.set(id, join(dir, `${id}.password`));
  }
  copyFileSync(join(repoRoot, 'examples', 'mosquitto.acl'), join(dir, 'mosquitto.acl'));
  const example = readFileSync(join(repoRoot, 'examples', 'mosquitto.conf'), 'utf8');
  const conf = example
    .replace(/^listener 8883$/m, `listener ${port} 127.0.0.1`)
    .replace(/^persistence_location .*$/m, `persistence_location ${dir}/`)
    .replaceAll('/etc/mosquitto/sphinx/', `${dir}/`);
  if (conf === example || /^[^#]*(\/etc\/mosquitto|\/var\/lib)/m.test(conf)) throw new Error('examples/mosquitto.conf changed: update startMosquitto');
  const logFile = join(dir, 'mosquitto.log');
  writeFileSync(join(dir, 'mosquitto.conf'), `${conf}\nuser ${userInfo().username}\nlog_dest file ${logFile}\nlog_type all\n`);
  const child = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
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
    url: `mqtts://sphinx-broker:${brokerPassword}@127.0.0.1:${port}`,
    deviceUrl: `mqtts://127.0.0.1:${port}`,
    caFile: join(dir, 'ca.pem'),
    passwordFiles,
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
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

/** A device's journal: its request records by id, as bytes. */
export function journalById(dir: string): Map<bigint, string> {
  const { recovery } = Journal.open(openJournalFiles(new NodeDir(dir)));
  const byId = new Map<bigint, string>();
  for (const { entry } of recovery.entries as readonly { entry: JournalEntry }[]) if (!isSourced(entry)) byId.set(entry.id, toHex(encodeEntry(entry)));
  return byId;
}

/** Polls `output` (the replay is synchronous, so the event loop cannot) until it matches or `ms` pass. */
export function waitForOutput(output: () => string, pattern: RegExp, ms: number): string {
  const until = Date.now() + ms;
  let text = output();
  while (!pattern.test(text) && Date.now() < until) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    text = output();
  }
  return text;
}
