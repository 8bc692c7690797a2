/**
 * The broker's logger: every line becomes a status_log message to lightningd, which files
 * it under the hsmd subsystem at the given level (lightningd/log_status.c). Mirrored to
 * stderr only when SPHINX_LOG_STDERR=1, since lightningd's stderr is often a terminal.
 */
import type { StatusChannel } from './status.js';
import type { LogLevel } from './status-wire.js';
import { writeStdio } from './stdio.js';

export type { LogLevel };

export interface Logger {
  /** Logs `text` at `level`, attributed to `peer` (a 33-byte node id) if given. */
  log(level: LogLevel, text: string, peer?: Uint8Array): void;
  /** True if trace lines are sent at all: lets callers skip building them. */
  readonly tracing: boolean;
}

export interface LoggerOptions {
  /** --log-trace or --log-io: CLN drops LOG_TRACE otherwise (common/status.c status_vfmt). */
  trace: boolean;
  /** Also write each line to stderr. */
  stderr: boolean;
}

export function createLogger(status: StatusChannel, options: LoggerOptions): Logger {
  return {
    tracing: options.trace,
    log(level: LogLevel, text: string, peer?: Uint8Array): void {
      if (level === 'trace' && !options.trace) return;
      status.log(level, text, peer ?? null);
      if (options.stderr) {
        const who = peer ? Buffer.from(peer).toString('hex') + ': ' : '';
        writeStdio(2, `sphinx-hsmd ${level.toUpperCase()}: ${who}${text}\n`);
      }
    },
  };
}
