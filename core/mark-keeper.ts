/**
 * The high-water mark as the core keeps it (log/journal/high-water.ts): written only to an id
 * whose record is synced, never lowered here, and remembered so that an id already under it
 * costs no write. The core raises it after each sync, or at flush() with markAtFlush.
 */
import type { HighWaterMark } from '../log/journal/high-water.js';

export class MarkKeeper {
  /** The mark as last written (or read at open). */
  #marked: bigint | undefined;

  constructor(
    private readonly mark: HighWaterMark | undefined,
    marked: bigint | undefined,
  ) {
    this.#marked = marked;
  }

  /** True when the journal's last id is above the mark (a raise is due). */
  behind(lastId: bigint | undefined): boolean {
    return this.mark !== undefined && lastId !== undefined && (this.#marked === undefined || lastId > this.#marked);
  }

  /** The mark up to `upTo`: called only when that much is synced. */
  raise(upTo: bigint | undefined): void {
    if (this.mark === undefined || upTo === undefined || !this.behind(upTo)) return;
    this.mark.write(upTo);
    this.#marked = upTo;
  }
}
