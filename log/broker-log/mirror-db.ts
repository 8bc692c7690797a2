/**
 * The broker's store of device journal mirrors on LevelDB (Node only; docs/journal.md
 * "Mirror"), in SPHINX_DATA_DIR/mirror: key `<device id>/<counter, 16 hex digits>`, value the
 * encoded entry (entry.ts). What to store is decided by broker/remote/mirror-store.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import { type ChainPosition, decodeMirrorEntry, encodeMirrorEntry, type MirrorEntry, positionAfter } from '../mirror/entry.js';
import { writeMarkerOnce } from './log-dir.js';

/** Where a broker whose SPHINX_DATA_DIR is `dataDir` keeps the mirrors. */
export const mirrorDir = (dataDir: string): string => join(dataDir, 'mirror');
/** Written once the mirror store exists, as the broker log's marker: a lost store is then noticed. */
export const MIRROR_MARKER = 'mirror-created';

/**
 * Before opening the store: a line for the broker's log (loud) when `dataDir` had a mirror
 * store and it is gone. The broker goes on with an empty one (the devices fill it again: each
 * sends a snapshot once it learns the broker lacks its entries), but until then a restore or
 * a spare has nothing to start from.
 */
export function checkMirrorPresent(dataDir: string): string | undefined {
  const dir = mirrorDir(dataDir);
  const marker = join(dataDir, MIRROR_MARKER);
  if (existsSync(join(dir, 'CURRENT')) || !existsSync(marker)) return undefined;
  const created = readFileSync(marker, 'utf8').trim();
  return `the journal mirror ${dir} is missing, but ${marker} says it was created (${created}): the devices' mirrored journals are lost. ` +
    'A new, empty one is started; each device sends a snapshot once it reconnects and learns of the gap, which makes its mirror whole again. ' +
    `If the directory was lost by accident (a disk not mounted), stop the broker and put it back. Until a device's snapshot is stored ("mirror of <device>" in this log), ` +
    'do not restore that device (sphinx-signer --restore) or fail over to a spare: there is nothing to restore from (docs/journal.md "Mirror")';
}

/** Writes the mirror's marker (synced) if it is not there yet. */
export const markMirrorCreated = (dataDir: string, now: Date): void => writeMarkerOnce(dataDir, MIRROR_MARKER, now);

type Db = Level<string, Uint8Array>;

const prefix = (deviceId: string): string => `${deviceId}/`;
const keyOf = (deviceId: string, counter: bigint): string => `${prefix(deviceId)}${counter.toString(16).padStart(16, '0')}`;
/** Just past every key of the device. */
const endOf = (deviceId: string): string => `${deviceId}0`;

export class MirrorDb {
  readonly #tips = new Map<string, ChainPosition | undefined>();

  private constructor(private readonly db: Db) {}

  static async open(dir: string): Promise<MirrorDb> {
    const db: Db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' });
    await db.open();
    return new MirrorDb(db);
  }

  async tip(deviceId: string): Promise<ChainPosition | undefined> {
    if (this.#tips.has(deviceId)) return this.#tips.get(deviceId);
    let tip: ChainPosition | undefined;
    for await (const value of this.db.values({ gte: prefix(deviceId), lt: endOf(deviceId), reverse: true, limit: 1 })) tip = positionAfter(decodeMirrorEntry(value));
    this.#tips.set(deviceId, tip);
    return tip;
  }

  /**
   * Stores entries durably (one synced batch): after dropping the device's chain if `reset`,
   * and dropping the entries below `pruneBelow` afterwards (a snapshot supersedes them). The
   * batch is built at once and written (synced) when `beforeWrite` resolves.
   */
  async apply(
    deviceId: string,
    a: { readonly store: readonly MirrorEntry[]; readonly reset: boolean; readonly pruneBelow?: bigint },
    beforeWrite?: () => Promise<void>,
  ): Promise<void> {
    if (a.reset) await this.db.clear({ gte: prefix(deviceId), lt: endOf(deviceId) });
    if (a.store.length > 0) {
      const write = this.db.batch(); // chained: a fraction of the array form's CPU per entry (broker-log.ts)
      for (const e of a.store) write.put(keyOf(deviceId, e.counter), encodeMirrorEntry(e));
      await beforeWrite?.();
      await write.write({ sync: true });
      this.#tips.set(deviceId, positionAfter(a.store.at(-1)!));
    }
    if (a.pruneBelow !== undefined) await this.db.clear({ gte: prefix(deviceId), lt: keyOf(deviceId, a.pruneBelow) });
  }

  /** The stored mirror of a device, in counter order: from its newest snapshot on. */
  async entries(deviceId: string): Promise<MirrorEntry[]> {
    const all: MirrorEntry[] = [];
    for await (const value of this.db.values({ gte: prefix(deviceId), lt: endOf(deviceId) })) all.push(decodeMirrorEntry(value));
    let snapshot = all.length - 1;
    while (snapshot >= 0 && all[snapshot]!.kind !== 'snapshot') snapshot--;
    return snapshot > 0 ? all.slice(snapshot) : all;
  }

  /** The devices with a stored mirror. */
  async devices(): Promise<string[]> {
    const ids = new Set<string>();
    for await (const key of this.db.keys()) ids.add(key.slice(0, key.indexOf('/')));
    return [...ids];
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

