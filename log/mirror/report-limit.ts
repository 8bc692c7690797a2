/**
 * Lines the mirror's two ends may have to say at every message (docs/journal.md "Mirror"):
 * the broker refusing a device's chain again, the device seeing the broker ahead of it, its
 * entries dropped over the outbox bound, its resends. Each is said the first time, then at
 * most once per MIRROR_REPORT_MS with how many times it was not. By time only, not per
 * episode: two devices with one seed writing in turn end and start a condition every few
 * records. Pure: the caller gives the time.
 */

/** After a line is said, the same condition is said again at most once per this long. */
export const MIRROR_REPORT_MS = 10 * 60_000;

export class ReportLimit {
  #saidAt: number | undefined;
  #unsaid = 0;

  /** When the condition was last said (unix ms), if ever. */
  get saidAt(): number | undefined {
    return this.#saidAt;
  }

  /** How many times it happened unsaid since it was last said. */
  get unsaid(): number {
    return this.#unsaid;
  }

  /**
   * It happened at `now`: undefined (not to be said), or how many times it happened unsaid
   * since the last line. `force` says it whatever the time (a condition that changed in kind).
   */
  occurred(now: number, force = false): number | undefined {
    if (!force && this.#saidAt !== undefined && now - this.#saidAt < MIRROR_REPORT_MS) {
      this.#unsaid++;
      return undefined;
    }
    const unsaid = this.#unsaid;
    this.#saidAt = now;
    this.#unsaid = 0;
    return unsaid;
  }
}
