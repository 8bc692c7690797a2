/**
 * A sphinx-hsmd run to completion, as a test that expects it to refuse to start: lightningd's
 * init (the transcript's first request) is waiting on its master fd when it starts; returns
 * its exit code and the status messages it sent (a run still going after `timeoutMs` is
 * killed: its code is then null).
 */
import { spawnSync } from 'node:child_process';
import { closeSync } from 'node:fs';
import { fdpass } from '../broker/fdpass.js';
import { fromwireStatus, type StatusMessage } from '../broker/status-wire.js';
import { HSMD_BIN } from '../demo/sim-lightningd.js';
import { Closed, SyncConnection, Timeout } from './sync-wire.js';
import type { loadTranscript } from './transcript.js';

export function hsmdOnce(
  transcript: ReturnType<typeof loadTranscript>,
  env: Record<string, string>,
  cwd: string,
  timeoutMs = 20_000,
): { code: number | null; status: StatusMessage[] } {
  const [statusOurs, statusTheirs] = fdpass.socketpair();
  const [masterOurs, masterTheirs] = fdpass.socketpair();
  const master = new SyncConnection(masterOurs, 5000);
  master.send(transcript.exchanges[0]!.req); // hsmd_init, the first request of the session
  const run = spawnSync(HSMD_BIN, transcript.header.hsmd_args ?? [], {
    cwd,
    env: { ...process.env, SPHINX_CLN_VERSION: transcript.header.cln_version, SPHINX_HTTP_PORT: '0', ...env },
    stdio: [statusTheirs, 'pipe', 'pipe', masterTheirs],
    timeout: timeoutMs,
  });
  closeSync(statusTheirs);
  closeSync(masterTheirs);
  const statusConn = new SyncConnection(statusOurs, 1000);
  const status: StatusMessage[] = [];
  for (;;) {
    try {
      status.push(fromwireStatus(statusConn.receive()));
    } catch (e) {
      if (e instanceof Closed || e instanceof Timeout) break;
      throw e;
    }
  }
  statusConn.close();
  master.close();
  return { code: run.status, status };
}

/** The status_fail texts among `status`. */
export const failText = (status: readonly StatusMessage[]): string =>
  status.flatMap((m) => (m.kind === 'fail' ? [m.desc] : [])).join('\n');
