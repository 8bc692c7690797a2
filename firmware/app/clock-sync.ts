/**
 * The device's clock (docs/remote-protocol.md "Connecting"): its login token carries the time, and the
 * broker refuses one more than 30 s ahead of its clock or 5 minutes old. An ESP32 starts at
 * 1970, so the firmware asks SNTP before its first token (syncClock), and a refusal of the
 * token says what the device's clock read (tokenRefusalAdvice). Platform-neutral: the SNTP
 * request and setting the time are ports (Moddable's `sntp` and `time` modules).
 */
import type { Clock } from './ports.js';

/** Earlier than this, the clock was never set (this firmware did not exist then). */
export const CLOCK_SET_AFTER_MS = Date.UTC(2026, 0, 1);

export type SntpAnswer = { readonly ok: true; readonly seconds: number } | { readonly ok: false; readonly reason: string };

export interface ClockSyncPorts {
  /** One SNTP query to `host`; `done` once. */
  readonly query: (host: string, done: (answer: SntpAnswer) => void) => void;
  /** Sets the system time (seconds since 1970). */
  readonly setTime: (seconds: number) => void;
  readonly clock: Clock;
  readonly log: (level: 'info' | 'unusual', line: string) => void;
}

/** Why `nowMs` cannot be the time, or undefined if it can. */
export function clockProblem(nowMs: number): string | undefined {
  return nowMs < CLOCK_SET_AFTER_MS ? `the clock reads ${new Date(nowMs).toISOString()}: it was never set` : undefined;
}

/**
 * Asks each host in turn (then again from the first, `retryMs` later) until one answers with
 * a plausible time, sets it, and resolves. Never gives up: without the time no token works.
 */
export function syncClock(hosts: readonly string[], ports: ClockSyncPorts, retryMs = 5_000): Promise<void> {
  if (hosts.length === 0) throw new Error('no SNTP server configured (config.json "sntp")');
  return new Promise((resolve) => {
    let at = 0;
    const next = (): void => {
      const host = hosts[at % hosts.length]!;
      at++;
      ports.query(host, (answer) => {
        const problem = answer.ok ? clockProblem(answer.seconds * 1000) : answer.reason;
        if (problem === undefined && answer.ok) {
          ports.setTime(answer.seconds);
          ports.log('info', `clock set by SNTP (${host}): ${new Date(answer.seconds * 1000).toISOString()}`);
          resolve();
          return;
        }
        ports.log('unusual', `SNTP ${host}: ${problem}; ${at % hosts.length === 0 ? `trying again in ${retryMs / 1000} s` : 'trying the next server'}`);
        if (at % hosts.length === 0) ports.clock.after(retryMs, next);
        else next();
      });
    };
    next();
  });
}

/**
 * A refused login with a clock that was never set: the likely cause, said first. The broker
 * says only "not authorized"; what else to check is said once, by the connection
 * (device-connection.ts), and the broker's log names the skew it saw.
 */
export function tokenRefusalAdvice(reason: string, nowMs: number): string {
  if (!/not authori[sz]ed|bad user ?name or password/i.test(reason)) return reason;
  const problem = clockProblem(nowMs);
  return problem ? `${reason}: ${problem}, so the login token carries a wrong time (SNTP)` : reason;
}
