/**
 * SignerCore's group commit off the event loop (commitLater; docs/journal.md "Write-ahead"):
 * counts the records appended this run and how many a sync has made durable. A batch
 * committed with commitLater waits until every record appended before it is durable (a
 * known id's journaled reply too: its record may be in the sync still running); one sync runs
 * off the event loop at a time, and the batches committed meanwhile share the next one.
 */
export interface OffLoopHost {
  /** A sync of everything written so far, off the event loop (FilePort.syncAsync). */
  syncAsync(): Promise<void>;
  /** The journal's last request id now: what a sync started now covers. */
  lastId(): bigint | undefined;
  /** The next `count` records are durable, up to request id `lastId`: the observer told, the mark raised. */
  madeDurable(count: number, lastId: bigint | undefined): void;
}

export class OffLoopSyncs {
  #appended = 0;
  #durable = 0;
  /** Batches waiting until `upTo` records are durable, in commit order. */
  readonly #waiting: { readonly upTo: number; resolve(): void; reject(e: Error): void }[] = [];
  #syncing = false;
  #broken: Error | undefined;

  constructor(private readonly host: OffLoopHost) {}

  /** No sync is running off the loop (a sync on it then covers every record, and syncedAll releases their batches). */
  get idle(): boolean {
    return !this.#syncing;
  }

  /** A sync (or a write) failed: nothing more may be decided or answered. */
  get broken(): Error | undefined {
    return this.#broken;
  }

  /** Stops for good after a failed write or sync (the first failure is kept); the batches waiting fail with it. */
  stop(e: unknown): Error {
    this.#syncing = false;
    this.#broken ??= e instanceof Error ? e : new Error(String(e));
    for (const w of this.#waiting.splice(0)) w.reject(this.#broken);
    return this.#broken;
  }

  appended(): void {
    this.#appended++;
  }

  /** A sync on the event loop covered every record appended: the batches waiting may go. */
  syncedAll(): void {
    this.#durable = this.#appended;
    this.#release();
  }

  /** Undefined when every record appended is durable, else a promise resolved once they are. */
  whenDurable(): Promise<void> | undefined {
    if (this.#durable === this.#appended) return undefined;
    const upTo = this.#appended;
    const durable = new Promise<void>((resolve, reject) => this.#waiting.push({ upTo, resolve, reject }));
    this.#syncOffLoop();
    return durable;
  }

  #release(): void {
    while (this.#waiting.length > 0 && this.#waiting[0]!.upTo <= this.#durable) this.#waiting.shift()!.resolve();
  }

  #syncOffLoop(): void {
    if (this.#syncing || this.#durable === this.#appended) return;
    const upTo = this.#appended;
    const lastId = this.host.lastId();
    this.#syncing = true;
    const fail = (e: unknown): void => void this.stop(e);
    this.host.syncAsync().then(() => {
      this.#syncing = false;
      try {
        // Unless a sync on the event loop covered them meanwhile.
        const count = upTo - this.#durable;
        if (count > 0) {
          this.#durable = upTo;
          this.host.madeDurable(count, lastId);
        }
        this.#release();
        // Another sync only for batches still waiting: records that rode along unsynced (read-only
        // replies) wait for the host's flush timer, not a chain of syncs behind every request.
        if (this.#waiting.length > 0) this.#syncOffLoop();
      } catch (e) {
        fail(e);
      }
    }, fail);
  }
}
