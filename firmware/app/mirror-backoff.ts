/**
 * When the device's mirror sends again after a `gap` answer, and what it says of a chain
 * the broker keeps refusing (docs/journal.md "Mirror"). Pure.
 * A gap answer that makes no progress (the broker's chain ends at the same counter as at the
 * last gap, and nothing new was acknowledged) is a refusal of what was sent again: waits
 * double from GAP_FIRST_WAIT_MS up to GAP_MAX_WAIT_MS, and the streak ends at the first
 * acknowledgement that advances. The first gap of a streak is answered at once (a lost
 * message, or a broker that lost its mirror: it must be made whole at once). Gap answers
 * while a wait is pending answer what went before it and are let be.
 */

/** The first wait after a gap answer that made no progress. */
export const GAP_FIRST_WAIT_MS = 100;
/** The longest wait: a chain the broker keeps refusing needs its owner, not a faster resend. */
export const GAP_MAX_WAIT_MS = 60_000;

/** Gap answers at one counter with nothing acknowledged in between. */
export interface GapStreak {
  /** Where the broker's chain ends in every gap answer of the streak. */
  readonly counter: bigint;
  /** Waits so far: each ended in a resend, all but the pending one refused again. */
  readonly waits: number;
  /** The device clock (unix ms) at the streak's first gap answer. */
  readonly since: number;
}

export interface GapStep {
  readonly streak: GapStreak;
  /** 0: send again now; else after this many ms. */
  readonly waitMs: number;
  /** Say so in the log: a resend after a wait was refused, at the 1st, 2nd, 4th, 8th... such refusal. */
  readonly report: boolean;
}

const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/**
 * What to do on a gap answer at `counter`. `advanced`: it acknowledged entries not acknowledged
 * before; `waiting`: a wait is pending. Undefined: nothing (an answer to what went before the wait).
 */
export function gapStep(streak: GapStreak | undefined, counter: bigint, advanced: boolean, waiting: boolean, now: number): GapStep | undefined {
  if (advanced || streak === undefined || streak.counter !== counter) {
    return { streak: { counter, waits: 0, since: now }, waitMs: 0, report: false };
  }
  if (waiting) return undefined;
  const waits = streak.waits + 1;
  // The first wait may follow an answer to a message sent before the immediate resend; each
  // later one follows a resend after a wait, with nothing else in flight: a refusal.
  const waitMs = Math.min(GAP_FIRST_WAIT_MS * 2 ** Math.min(waits - 1, 30), GAP_MAX_WAIT_MS);
  return { streak: { ...streak, waits }, waitMs, report: isPowerOfTwo(waits - 1) };
}

/** The log line for a refused resend: what it means and what the owner does. */
export function stuckLine(step: GapStep, now: number): string {
  const { counter, waits, since } = step.streak;
  return `mirror: the broker refused the entries after ${counter} again after a wait (${waits - 1} time${waits === 2 ? '' : 's'} ` +
    `in ${Math.round((now - since) / 1000)} s): the chain it holds for this device goes on with entries this device did not make, ` +
    'so nothing this device journals reaches the mirror, and a restore or a spare would lack it. ' +
    'Either another device with this seed is writing its own chain (an old primary after a failover, a spare started as the device), ' +
    'or the broker holds a mirror that is not this device\'s. Two devices must never sign with one seed: retire one ' +
    '(docs/journal.md "Retiring a device"); if no other device runs, move the broker\'s SPHINX_DATA_DIR/mirror aside ' +
    `and restart it, and this device sends a snapshot at once. Sending again in ${step.waitMs / 1000} s`;
}
