/**
 * Exclusive use of a data directory by one process (docs/journal.md "Locks"): a lock file
 * `DIR/sphinx.lock` created with O_EXCL, holding the owner's pid, host, program and start
 * time. A second process finds it and refuses, naming the holder. A lock left by a process
 * that died (SIGKILL, power cut) on this host is stale: its pid no longer runs, so it is
 * taken over. So is one whose pid runs again in another life: the lock records the holder's
 * life (on Linux the kernel's boot id and the process's start time, /proc; elsewhere this
 * process's start time, known for itself only), and a pid reused after a crash, ours included
 * (pid 1 in a container restarted after SIGKILL), has another. A lock from another host (a
 * shared disk) cannot be checked and is never taken over; the message says how to remove it.
 *
 * Two processes that both find the same stale lock at the same instant could both take it
 * over (unlink, then create); the window is the time between two syscalls after a crash,
 * and each re-reads the file after creating it, so the loser usually notices.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export const LOCK_FILE = 'sphinx.lock';

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly program: string;
  readonly since: string;
  /** Which life of `pid` (lifeOf): absent in locks written before it was recorded. */
  readonly life?: string;
}

/** The directory is held by another live process (or one on another host). */
export class DirLockedError extends Error {
  override readonly name = 'DirLockedError';
  constructor(
    readonly dir: string,
    readonly holder: LockHolder | undefined,
    detail: string,
  ) {
    super(`${dir} is in use by ${detail}. Two processes on one data directory would interleave their ` +
      `journals and sign from two states: stop the other one first (or give this one its own directory).` +
      (holder && holder.host === hostname() ? ` If pid ${holder.pid} is not a sphinx process, remove ${join(dir, LOCK_FILE)}.` : ''));
  }
}

export interface DirLock {
  readonly path: string;
  /** The dead process whose stale lock this one replaced, for the log. */
  readonly tookOver?: LockHolder;
  /** Removes the lock file if it is still ours (idempotent). */
  release(): void;
}

/** The log line for a stale lock taken over. */
export const staleLockNote = (lock: DirLock): string | undefined =>
  lock.tookOver && `${lock.path}: stale lock of ${describeHolder(lock.tookOver)}, which no longer runs; taken over`;

export const describeHolder = (h: LockHolder): string => `${h.program} (pid ${h.pid} on host ${h.host}, since ${h.since})`;

/** The holder recorded in DIR's lock file, if there is a readable one. */
export function readHolder(dir: string): LockHolder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string') return undefined;
    return {
      pid: parsed.pid,
      host: parsed.host,
      program: String(parsed.program ?? 'a process'),
      since: String(parsed.since ?? '?'),
      ...(typeof parsed.life === 'string' ? { life: parsed.life } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The holder of DIR's lock if it may still run: alive on this host, or on another host (which cannot be checked). */
export function liveHolder(dir: string): LockHolder | undefined {
  const holder = readHolder(dir);
  return holder && (holder.host !== hostname() || holderRuns(holder)) ? holder : undefined;
}

/**
 * Which life of `pid` runs now: on Linux `<boot id>:<start time in clock ticks>` from /proc
 * (a pid reused, after a reboot or a crash, has another); elsewhere this process's own start
 * time, and nothing for another process.
 */
export function lifeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3, starttime field 22.
    const startTicks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    if (startTicks) return `${bootId}:${startTicks}`;
  } catch {
    // no /proc (macOS), or the process is gone
  }
  return pid === process.pid ? `start ${Math.round(performance.timeOrigin)}` : undefined;
}

/**
 * Whether the process that wrote the lock may still run: its pid runs, in the life the lock
 * records when both are known. A lock naming our own pid is ours only in this life; one without
 * a life (an older lock) is from an earlier life if taken before this process started.
 */
function holderRuns(holder: LockHolder): boolean {
  if (holder.pid === process.pid) {
    return holder.life !== undefined ? holder.life === lifeOf(process.pid) : !(Date.parse(holder.since) < performance.timeOrigin);
  }
  if (!alive(holder.pid)) return false;
  const now = holder.life === undefined ? undefined : lifeOf(holder.pid);
  return now === undefined || now === holder.life;
}

/** True unless `pid` certainly does not run on this host (ESRCH). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Takes DIR's lock for this process as `program` (e.g. "sphinx-signer"); released on
 * release() or when the process exits normally. Throws DirLockedError naming the holder.
 * A stale lock taken over is in `tookOver` (the caller logs it).
 */
export function lockDir(dir: string, program: string): DirLock {
  const path = join(dir, LOCK_FILE);
  let tookOver: LockHolder | undefined;
  const life = lifeOf(process.pid);
  const me: LockHolder = { pid: process.pid, host: hostname(), program, since: new Date().toISOString(), ...(life ? { life } : {}) };
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readHolder(dir);
      if (!holder) {
        throw new DirLockedError(dir, undefined, `another process (${path} exists but does not name its holder; if no sphinx process uses ${dir}, remove that file)`);
      }
      if (holder.host !== me.host) {
        throw new DirLockedError(dir, holder, `${describeHolder(holder)}; this host cannot check it: if that process is gone, remove ${path}`);
      }
      if (holderRuns(holder)) throw new DirLockedError(dir, holder, describeHolder(holder));
      tookOver = holder;
      try {
        unlinkSync(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      continue;
    }
    try {
      writeSync(fd, `${JSON.stringify(me)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const now = readHolder(dir);
    if (!now || now.pid !== me.pid || now.since !== me.since) {
      throw new DirLockedError(dir, now, now ? describeHolder(now) : 'another process that took over the same stale lock');
    }
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      process.off('exit', release);
      const current = readHolder(dir);
      if (current?.pid === me.pid && current.since === me.since) {
        try {
          unlinkSync(path);
        } catch {
          // already gone: nothing to release
        }
      }
    };
    process.on('exit', release);
    return { path, release, ...(tookOver ? { tookOver } : {}) };
  }
  throw new DirLockedError(dir, readHolder(dir), 'another process that took over its stale lock at the same time');
}
