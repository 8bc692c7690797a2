/**
 * bin/sphinx-signer with a crash injected, for the remote-path tests: the same Device on the
 * same host adapters (firmware/host/cli.ts bootHostDevice), its ports wrapped here so the
 * product carries no test-only flags.
 *   node dist/test/crashing-device.js <sphinx-signer options> --crash-at N [--crash-after-journal] [--supervise]
 * --crash-at N: SIGKILL when the Nth request message arrives, before the device sees it
 * (Transport wrapped). With --crash-after-journal: at the first journal sync after the Nth
 * request arrived, once that sync has returned, so the record is durable and the reply not
 * published (journal FilePort wrapped). --supervise: run that as a child and, when it dies,
 * start bin/sphinx-signer's main again without the crash (as a service manager would).
 *   node dist/test/crashing-device.js <sphinx-signer options> --kill-after-journal-of HEX --kill-pid PID
 * SIGKILLs another process (the broker) after the first journal sync after a request message
 * carrying the hsmd request HEX arrived, before the reply is published, and goes on: the reply
 * is journaled, and published to a broker that is gone.
 */
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import type { TransportHandlers } from '../firmware/app/ports.js';
import { main, type HostPortWrappers } from '../firmware/host/cli.js';
import type { FilePort } from '../log/file-port.js';
import { JOURNAL_FILE } from '../log/journal/journal.js';
import { decodeRequest, decodeRequestPayload } from '../signer/remote/envelope-codec.js';

const CRASH_FLAGS = new Set(['--crash-at', '--crash-after-journal', '--supervise', '--kill-after-journal-of', '--kill-pid']);
const WITH_VALUE = new Set(['--crash-at', '--kill-after-journal-of', '--kill-pid']);
const argv = process.argv.slice(2);
const signerArgs = argv.filter((a, i) => !CRASH_FLAGS.has(a) && !WITH_VALUE.has(argv[i - 1]!));
const valueOf = (flag: string): string | undefined => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
const crashAt = valueOf('--crash-at') === undefined ? undefined : Number(valueOf('--crash-at'));
const afterJournal = argv.includes('--crash-after-journal');
const killOn = valueOf('--kill-after-journal-of');
const killPid = Number(valueOf('--kill-pid'));

// Straight to the file descriptor: the line must be out before SIGKILL.
const say = (line: string): void => void writeSync(1, `device[${process.pid}]: ${line}\n`);

if (argv.includes('--supervise')) supervise();
else await main(signerArgs, process.env, killOn !== undefined ? killingPorts(killOn, killPid) : crashAt === undefined ? {} : crashingPorts(crashAt));

function crash(what: string): never {
  say(`crashing (SIGKILL) at ${what}`);
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

function crashingPorts(n: number): HostPortWrappers {
  let received = 0;
  return wrappedPorts(
    (payload) => {
      if (++received !== n) return undefined;
      if (!afterJournal) crash(`${describe(received, payload)}, before deciding it`);
      return describe(received, payload);
    },
    (armed) => crash(`${armed}, journaled, unanswered`),
  );
}

/**
 * Kills `pid` once the request carrying hsmd message `hex` is journaled, before its reply
 * leaves: replies wait KILL_DELAY_MS first (the broker publishes a request before its own
 * record is durable, docs/remote-protocol.md "Requests"; this gives that record time to be).
 */
function killingPorts(hex: string, pid: number): HostPortWrappers {
  let killed: Promise<void> | undefined;
  return wrappedPorts(
    (payload) => {
      const env = decodeRequestPayload(payload).envelopes.find((e) => Buffer.from(e.message).toString('hex') === hex);
      return env && `request id ${env.id}`;
    },
    (armed) => {
      killed = new Promise<void>((r) => setTimeout(r, KILL_DELAY_MS)).then(() => {
        process.kill(pid, 'SIGKILL');
        say(`killed pid ${pid} (SIGKILL) after journaling ${armed}`);
      });
    },
    (name) => (name.endsWith('/res') ? killed : undefined),
  );
}

/** Below the broker's first resend wait (1 s): the reply held back is not asked for again meanwhile. */
const KILL_DELAY_MS = 300;

const describe = (received: number, payload: Uint8Array): string => {
  try {
    return `request ${received} (id ${decodeRequest(payload).id})`;
  } catch {
    return `request ${received} (undecodable)`;
  }
};

/**
 * The device's ports with two hooks: `onRequest` sees each request message before the device
 * and may arm (returning what it saw); `afterSync` runs once at the first journal sync after
 * that, when the sync has returned.
 */
function wrappedPorts(
  onRequest: (payload: Uint8Array) => string | undefined,
  afterSync: (armed: string) => void,
  beforePublish: (name: string) => Promise<void> | undefined = () => undefined,
): HostPortWrappers {
  let armed: string | undefined;
  let fired = false;
  return {
    transport: (inner) => ({
      connect: (options, handlers: TransportHandlers) =>
        inner.connect(options, {
          connected: () => handlers.connected(),
          disconnected: (reason) => handlers.disconnected(reason),
          message: (name, payload) => {
            if (name.endsWith('/req') && armed === undefined) armed = onRequest(payload);
            handlers.message(name, payload);
          },
        }),
      subscribe: (topics) => inner.subscribe(topics),
      publish: async (name, payload, options) => {
        await beforePublish(name);
        return inner.publish(name, payload, options);
      },
      end: () => inner.end(),
    }),
    journalDir: (dir) => ({
      open(name) {
        const file = dir.open(name);
        if (name !== JOURNAL_FILE) return file;
        const journal: FilePort = {
          name: file.name,
          size: () => file.size(),
          read: (offset, length) => file.read(offset, length),
          append: (bytes) => file.append(bytes),
          truncate: (length) => file.truncate(length),
          sync: () => {
            file.sync();
            if (armed === undefined || fired) return;
            fired = true;
            afterSync(armed);
          },
        };
        return journal;
      },
    }),
  };
}

/** Runs the crashing device as a child; when it dies, runs it again without the crash. */
function supervise(): void {
  let stopping = false;
  let current: ReturnType<typeof spawn> | undefined;
  process.on('SIGTERM', () => {
    stopping = true;
    if (current?.exitCode === null && current.signalCode === null) current.kill('SIGTERM');
    else process.exit(0);
  });
  const start = (withCrash: boolean): void => {
    const args = withCrash ? argv.filter((a) => a !== '--supervise') : signerArgs;
    const child = (current = spawn(process.execPath, [process.argv[1]!, ...args], { stdio: 'inherit' }));
    child.on('exit', (code, signal) => {
      if (stopping) return process.exit(code ?? 0);
      say(`supervisor: device exited (${signal ?? code}); starting it again`);
      setTimeout(() => start(false), 200);
    });
  };
  start(true);
}
