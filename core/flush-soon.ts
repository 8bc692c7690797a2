/**
 * A host's flush timer over a SignerCore: once the core has something for flush() (records that
 * rode along unsynced, or with markAtFlush a high-water mark below the journal), flushLater()
 * runs `delayMs` later, never above what is durable (docs/journal.md "Read-only replies",
 * "Rollback"). The local signer and the device arm it after each message they handle.
 */
import type { SignerCore } from './signer-core.js';

/** The host's timers: Node's setTimeout, or the device's Clock port. */
export interface FlushTimers<Handle> {
  after(ms: number, fn: () => void): Handle;
  cancel(handle: Handle): void;
}

export class FlushSoon<Handle> {
  #timer: Handle | undefined;

  constructor(
    private readonly core: Pick<SignerCore, 'flushPending' | 'flushLater'>,
    private readonly timers: FlushTimers<Handle>,
    private readonly delayMs: number,
    private readonly failed: (e: Error) => void,
  ) {}

  /** Arms the timer if the core has something to flush and none is armed. */
  arm(): void {
    if (this.#timer !== undefined || !this.core.flushPending) return;
    this.#timer = this.timers.after(this.delayMs, () => {
      this.#timer = undefined;
      this.core.flushLater().catch(this.failed);
    });
  }

  /** The timer disarmed (the host flushes itself at close). */
  cancel(): void {
    if (this.#timer !== undefined) this.timers.cancel(this.#timer);
    this.#timer = undefined;
  }
}
