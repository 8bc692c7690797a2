/**
 * A simulated lightningd for tests: spawns bin/sphinx-hsmd exactly as lightningd spawns
 * its hsmd (lightningd/subd.c subd(), hsm_control.c hsm_init; docs/hsmd-protocol.md#framing, docs/hsmd-protocol.md#version-check):
 * fd 0 = status socket, fd 3 = master socket, both AF_UNIX stream socketpairs; cwd = a
 * fresh directory holding hsm_secret; argv = the lightningd flags; the environment
 * inherited. Like lightningd, it speaks to the master (and the subdaemons to their client
 * fds) synchronously and blocking, and drains the status socket asynchronously.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fdpass } from '../broker/fdpass.js';
import { FrameReader } from '../broker/frames.js';
import { towireClientHsmfd } from '../broker/hsmfd.js';
import { type StatusMessage, fromwireStatus } from '../broker/status-wire.js';
import { WireError } from '../signer/wire/errors.js';
import { repoRoot } from '../test/fixtures.js';
import { SyncConnection } from '../test/sync-wire.js';
import { type ExchangeObserver, type ReplayResult, loadTranscript, replayExchanges } from '../test/transcript.js';

export const HSMD_BIN = join(repoRoot, 'bin', 'sphinx-hsmd');

export interface SimOptions {
  /** hsm_secret file contents; no file if absent (hsmd then creates one). */
  hsmSecret?: Uint8Array;
  /** Added to (or, with undefined values, removed from) the inherited environment. */
  env?: Record<string, string | undefined>;
  /** sphinx.conf in the network directory (hsmd's cwd), as lightningd's operator would write it. */
  conf?: string;
  /** hsmd flags, e.g. ['--developer']. */
  args?: string[];
  /** The hsmd executable; bin/sphinx-hsmd if absent (the bench also times CLN's own). */
  hsmd?: string;
  /** Per-reply timeout for the blocking connections. */
  timeoutMs?: number;
  /** hsmd's RLIMIT_NOFILE (run under prlimit), to see it run out of descriptors. */
  nofile?: number;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class SimLightningd {
  /** Everything hsmd sent on fd 0, decoded, in order. */
  readonly statusMessages: StatusMessage[] = [];
  /** hsmd's stdout and stderr (lightningd would pass its own through). */
  output = '';
  private exit: Exit | null = null;
  private readonly waiters = new Set<() => void>();
  private readonly clients: SyncConnection[] = [];

  private constructor(
    readonly dir: string,
    readonly child: ChildProcess,
    readonly master: SyncConnection,
    private readonly status: net.Socket,
  ) {}

  static async start(options: SimOptions = {}): Promise<SimLightningd> {
    const dir = mkdtempSync(join(tmpdir(), 'sim-lightningd-'));
    if (options.hsmSecret) writeFileSync(join(dir, 'hsm_secret'), options.hsmSecret, { mode: 0o400 });
    if (options.conf !== undefined) writeFileSync(join(dir, 'sphinx.conf'), options.conf);
    // No status page unless a test asks for one (SPHINX_HTTP_PORT): parallel hsmds would share its default port.
    const env: NodeJS.ProcessEnv = { ...process.env, SPHINX_DATA_DIR: join(dir, 'sphinx'), SPHINX_HTTP_PORT: '0' };
    for (const [k, v] of Object.entries(options.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    const [statusOurs, statusTheirs] = fdpass.socketpair();
    const [masterOurs, masterTheirs] = fdpass.socketpair();
    const hsmd = options.hsmd ?? HSMD_BIN;
    const [command, args] = options.nofile === undefined
      ? [hsmd, options.args ?? []]
      : ['prlimit', [`--nofile=${options.nofile}`, '--', hsmd, ...(options.args ?? [])]];
    const child = spawn(command, args, {
      cwd: dir,
      env,
      stdio: [statusTheirs, 'pipe', 'pipe', masterTheirs],
    });
    closeSync(statusTheirs);
    closeSync(masterTheirs);
    const status = new net.Socket({ fd: statusOurs, readable: true, writable: false });
    const ld = new SimLightningd(dir, child, new SyncConnection(masterOurs, options.timeoutMs), status);
    child.stdout!.on('data', (d: Buffer) => (ld.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (ld.output += d.toString()));
    child.on('exit', (code, signal) => {
      ld.exit = { code, signal };
      ld.notify();
    });
    void ld.drainStatus();
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    return ld;
  }

  /** Starts an hsmd with a transcript's hsm_secret and flags, replays it, stops it. */
  static async replayTranscript(
    path: string,
    options: SimOptions = {},
  ): Promise<ReplayResult & { exit: Exit; status: string }> {
    const { header } = loadTranscript(path);
    const ld = await SimLightningd.start({
      ...options,
      hsmSecret: Buffer.from(header.hsm_secret, 'hex'),
      args: options.args ?? header.hsmd_args,
    });
    try {
      const result = ld.replay(path);
      return { ...result, exit: await ld.stop(), status: ld.describeStatus() };
    } finally {
      ld.cleanup();
    }
  }

  /** hsm_get_fd: hsmd_client_hsmfd on the master, the 109 reply, then the passed fd. */
  hsmfd(peer: Uint8Array, dbid: bigint, permissions: bigint): SyncConnection {
    const reply = this.master.request(towireClientHsmfd({ peer, dbid, permissions }));
    if (Buffer.from(reply).toString('hex') !== '006d') {
      throw new Error(`expected hsmd_client_hsmfd_reply, got ${Buffer.from(reply).toString('hex')}`);
    }
    return this.adoptClientFd(this.master.receiveFd());
  }

  /** Wraps a client fd received from hsmd (also used by the replay). */
  adoptClientFd(fd: number): SyncConnection {
    const client = new SyncConnection(fd, this.master.timeoutMs);
    this.clients.push(client);
    return client;
  }

  /** Replays a transcript on this hsmd (which must hold its hsm_secret and flags). */
  replay(path: string, observe?: ExchangeObserver): ReplayResult {
    return replayExchanges(this, loadTranscript(path).exchanges, observe);
  }

  /** The first status message (received so far or later) matching `match`. */
  async waitForStatus(match: (m: StatusMessage) => boolean, timeoutMs = 10_000): Promise<StatusMessage> {
    const found = await this.until(() => this.statusMessages.find(match), timeoutMs);
    if (!found) throw new Error(`no such status message within ${timeoutMs} ms; got ${this.describeStatus()}`);
    return found;
  }

  /** How the process ended; waits for it. */
  async exited(timeoutMs = 15_000): Promise<Exit> {
    const exit = await this.until(() => this.exit ?? undefined, timeoutMs);
    if (!exit) throw new Error(`hsmd still running after ${timeoutMs} ms`);
    return exit;
  }

  /** lightningd's shutdown: close the hsm fd, wait for the exit (SIGKILL after 10 s). */
  async stop(): Promise<Exit> {
    for (const c of this.clients) c.close();
    this.master.close();
    const exit = await this.until(() => this.exit ?? undefined, 10_000);
    if (exit) return exit;
    this.child.kill('SIGKILL');
    return this.exited();
  }

  /** Kills hsmd if still running and removes the directory. */
  cleanup(): void {
    if (!this.exit) this.child.kill('SIGKILL');
    for (const c of this.clients) c.close();
    this.master.close();
    this.status.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Status messages in short, for assertion messages. */
  describeStatus(): string {
    const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
    return this.statusMessages
      .map((m) => {
        switch (m.kind) {
          case 'version':
            return `version ${m.version}`;
          case 'log':
            return `log(${m.level}) ${m.entry}`;
          case 'fail':
            return `fail(${m.reason}) ${m.desc}`;
          case 'badRequest':
            return `bad_request ${hex(m.id)} "${m.description}" ${hex(m.msg)}`;
          case 'unknown':
            return `type ${m.type}: ${hex(m.body)}`;
        }
      })
      .join('\n');
  }

  private async drainStatus(): Promise<void> {
    const reader = new FrameReader(this.status);
    try {
      for (let body = await reader.read(); body !== null; body = await reader.read()) {
        this.statusMessages.push(statusOf(body.slice()));
        this.notify();
      }
    } catch {
      // the status socket broke: hsmd is gone; exit() reports how
    }
  }

  private notify(): void {
    for (const w of this.waiters) w();
  }

  private until<T>(probe: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    return new Promise((resolve) => {
      const check = (): void => {
        const value = probe();
        if (value === undefined) return;
        done(value);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const done = (value: T | undefined): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(value);
      };
      this.waiters.add(check);
      check();
    });
  }
}

/**
 * A status message as lightningd reads it; one we cannot decode (a text that is not UTF-8,
 * which CLN's hsmd may log and lightningd takes) is kept as unknown, and reading goes on:
 * stopping would leave the hsmd blocked on a full status socket.
 */
function statusOf(body: Uint8Array): StatusMessage {
  try {
    return fromwireStatus(body);
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    return { kind: 'unknown', type: body.length >= 2 ? (body[0]! << 8) | body[1]! : -1, body };
  }
}
