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
 */
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import type { TransportHandlers } from '../firmware/app/ports.js';
import { main, type HostPortWrappers } from '../firmware/host/cli.js';
import type { FilePort } from '../log/file-port.js';
import { JOURNAL_FILE } from '../log/journal/journal.js';
import { decodeRequest } from '../signer/remote/envelope-codec.js';

const CRASH_FLAGS = new Set(['--crash-at', '--crash-after-journal', '--supervise']);
const argv = process.argv.slice(2);
const signerArgs = argv.filter((a, i) => !CRASH_FLAGS.has(a) && argv[i - 1] !== '--crash-at');
const crashAtArg = argv[argv.indexOf('--crash-at') + 1];
const crashAt = argv.includes('--crash-at') ? Number(crashAtArg) : undefined;
const afterJournal = argv.includes('--crash-after-journal');

// Straight to the file descriptor: the line must be out before SIGKILL.
const say = (line: string): void => void writeSync(1, `device[${process.pid}]: ${line}\n`);

if (argv.includes('--supervise')) supervise();
else await main(signerArgs, process.env, crashAt === undefined ? {} : crashingPorts(crashAt));

function crash(what: string): never {
  say(`crashing (SIGKILL) at ${what}`);
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

function crashingPorts(n: number): HostPortWrappers {
  let received = 0;
  let armed: string | undefined;
  const describe = (payload: Uint8Array): string => {
    try {
      return `request ${received} (id ${decodeRequest(payload).id})`;
    } catch {
      return `request ${received} (undecodable)`;
    }
  };
  return {
    transport: (inner) => ({
      connect: (options, handlers: TransportHandlers) =>
        inner.connect(options, {
          connected: () => handlers.connected(),
          disconnected: (reason) => handlers.disconnected(reason),
          message: (name, payload) => {
            if (name.endsWith('/req') && ++received === n) {
              if (!afterJournal) crash(`${describe(payload)}, before deciding it`);
              armed = describe(payload);
            }
            handlers.message(name, payload);
          },
        }),
      subscribe: (topics) => inner.subscribe(topics),
      publish: (name, payload, options) => inner.publish(name, payload, options),
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
            if (armed !== undefined) crash(`${armed}, journaled, unanswered`);
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
