/**
 * The hsmd process lightningd starts (hsmd.c main): status_version on fd 0, then serve
 * the master on fd 3 and every client socket it asks for, until the master goes away.
 *
 * Exits, as CLN's hsmd: 2 when the master closes (master_gone); 242 after a status_fail
 * (common/status.c status_send_fatal calls flush_and_exit(fromwire_peektype(msg)), and
 * the type of status_fail is 0xFFF2, so the code is 0x80 | 0xF2 whatever the reason).
 * Anything else (our own errors, a client's socket trouble) is logged and survived:
 * lightningd dies with its hsmd (docs/hsmd-protocol.md#when-hsmd-dies).
 */
import net from 'node:net';
import type { ClientContext } from '../signer/envelope.js';
import { ClientRegistry, MAX_DBID_ZERO_CLIENTS } from './clients.js';
import { Connection, type ConnectionEnd } from './connection.js';
import { type Logger, createLogger } from './log.js';
import { Router } from './router.js';
import type { SignerPort } from './signer-port.js';
import { StatusChannel } from './status.js';
import { type FailReason, STATUS_FAIL } from './status-wire.js';
import { writeStdio } from './stdio.js';

/** common/subdaemon.c: fd 0 is the status socket; hsmd.c REQ_FD. */
export const STATUS_FD = 0;
export const MASTER_FD = 3;
export const EXIT_MASTER_GONE = 2;
export const EXIT_FATAL = 0x80 | (STATUS_FAIL & 0xff);
/** common/status.c flush_and_exit: alarm(10). lightningd also waits 10 s (subd_shutdown). */
const EXIT_DEADLINE_MS = 10_000;
/**
 * How long a request still waiting for the signer (a device offline) may keep this process
 * after lightningd closed the master: CLN's hsmd, which never waits, exits at once on that EOF
 * (master_gone). An hsmd left behind would hold the data directory and the listeners that the
 * next lightningd's hsmd needs; the request stays in the broker log and is asked again then.
 */
const MASTER_GONE_GRACE_MS = 1000;

export interface HsmdOptions {
  /** lightningd's version(); throws if unknown (then we fail with its message). */
  version: () => string;
  /** --log-trace / --log-io. */
  trace: boolean;
  /** SPHINX_LOG_STDERR=1. */
  logStderr: boolean;
  /** Arguments we do not know: logged, not fatal (a newer lightningd may add some). */
  ignoredArgs: readonly string[];
  /** Settings we do not know, from the environment: logged, not fatal (it is shared with other programs). */
  settingWarnings?: readonly string[];
  /**
   * Starts the signer; the broker's logger is handed over for its own lines. Called on
   * the first request that needs it (init, in practice), so the fd protocol itself
   * (hsmd_client_hsmfd, the permission gate) works without a signer.
   */
  openSigner: (log: Logger) => Promise<SignerPort>;
  /**
   * Why the broker cannot start (a wrong setting), with the fix: sent as status_fail right
   * after status_version, so it lands in lightningd's log (under --daemon or systemd nobody
   * reads our stderr), and written to stderr too.
   */
  startupError?: string;
}

/** Runs the daemon; the process ends through process.exit. */
export async function runHsmd(options: HsmdOptions): Promise<void> {
  let status: StatusChannel;
  let masterSocket: net.Socket;
  try {
    status = StatusChannel.open(STATUS_FD);
    masterSocket = new net.Socket({ fd: MASTER_FD, readable: true, writable: true, allowHalfOpen: true });
  } catch (err) {
    if (options.startupError !== undefined) {
      writeStdio(2, `sphinx-hsmd: ${options.startupError}\n`);
      process.exit(1);
    }
    writeStdio(
      2,
      `sphinx-hsmd: fd 0 and fd 3 must be the sockets lightningd passes (${(err as Error).message}).\n` +
        'Run it through lightningd: --subdaemon=hsmd:/absolute/path/to/bin/sphinx-hsmd (see --help).\n',
    );
    process.exit(1);
  }
  const log = createLogger(status, { trace: options.trace, stderr: options.logStderr });
  let opening: Promise<SignerPort> | null = null;
  let opened: SignerPort | null = null;
  let exiting = false;

  /** Closes the signer and the status channel (bounded in time), then exits. */
  const exit = async (code: number): Promise<void> => {
    if (exiting) return new Promise<void>(() => {});
    exiting = true;
    setTimeout(() => process.exit(code), EXIT_DEADLINE_MS);
    try {
      await opened?.close();
    } catch (err) {
      log.log('broken', `closing the signer: ${(err as Error).message}`);
    }
    await status.flush();
    process.exit(code);
  };
  const fatal = async (reason: FailReason | null, desc: string): Promise<void> => {
    if (reason === null) return exit(0); // e.g. a wrong passphrase: CLN exits 0 after its reply
    if (!exiting) await status.fail(reason, desc);
    return exit(EXIT_FATAL);
  };

  // Our own bugs must not take lightningd down: log them and keep serving.
  process.on('uncaughtException', (err) => log.log('broken', `uncaught: ${err.stack ?? err.message}`));
  process.on('unhandledRejection', (err) => log.log('broken', `unhandled rejection: ${String(err)}`));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      log.log('info', `${signal}: closing the signer`);
      void exit(128 + (signal === 'SIGTERM' ? 15 : 2));
    });
  }

  let version: string;
  try {
    version = options.version();
  } catch (err) {
    writeStdio(2, `sphinx-hsmd: ${(err as Error).message}; set SPHINX_CLN_VERSION\n`);
    return fatal('internal', `cannot tell lightningd's version: ${(err as Error).message}; set SPHINX_CLN_VERSION`);
  }
  status.version(version); // first message, always (status_setup_async)
  if (options.startupError !== undefined) {
    writeStdio(2, `sphinx-hsmd: ${options.startupError}\n`);
    return fatal('internal', options.startupError);
  }
  for (const arg of options.ignoredArgs) log.log('unusual', `ignoring unknown argument ${arg}`);
  for (const warning of options.settingWarnings ?? []) log.log('unusual', warning);

  const port: Pick<SignerPort, 'request'> = {
    async request(envelope) {
      if (opened) return opened.request(envelope);
      opening ??= options.openSigner(log).then(
        (signer) => (opened = signer),
        async (err: Error): Promise<never> => {
          await fatal('internal', `cannot start the signer: ${err.message}`);
          return new Promise<never>(() => {});
        },
      );
      return (await opening).request(envelope);
    },
  };

  const registry = new ClientRegistry();
  const master = new Connection(masterSocket);
  const masterClient = registry.addMaster(() => master.close());
  const router = new Router({
    port,
    status,
    log,
    masterFd: MASTER_FD,
    now: () => Math.floor(Date.now() / 1000),
    fatal,
    startClient(socket: net.Socket, context: ClientContext): void {
      const conn = new Connection(socket);
      const client = registry.add(context, () => conn.close());
      if (client.overflow) {
        log.log('broken', `dbid 0 client beyond CLN's ${MAX_DBID_ZERO_CLIENTS} (hsmd.c would abort): serving it anyway`);
      }
      void conn.serve((msg) => router.handle(client, conn, msg)).then((end) => {
        registry.remove(client);
        logEnd(log, `client ${client.serial} (dbid ${context.dbid})`, end, context.peer);
      });
    },
  });

  masterSocket.once('end', () => {
    setTimeout(() => {
      if (exiting) return;
      log.log('info', 'master (lightningd) closed while a request waited for the signer: exiting as CLN\'s hsmd does (lightningd asks again after its restart)');
      void exit(EXIT_MASTER_GONE);
    }, MASTER_GONE_GRACE_MS).unref();
  });
  const end = await master.serve((msg) => router.handle(masterClient, master, msg));
  if (exiting) return;
  logEnd(log, 'master (lightningd)', end);
  return exit(EXIT_MASTER_GONE);
}

function logEnd(log: Logger, who: string, end: ConnectionEnd, peer?: Uint8Array): void {
  if (end.kind === 'error') log.log('unusual', `${who}: connection broken: ${end.error.message}`, peer);
  else log.log('debug', `${who}: connection ${end.kind === 'eof' ? 'closed by peer' : 'closed'}`, peer);
}
