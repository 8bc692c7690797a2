/**
 * The journal's high-water mark (docs/journal.md "Rollback"), checked when the signer core
 * opens: a journal that ends below the mark lost records that were answered (deleted, cut at
 * a record boundary, or restored from an older copy; damage with a torn write's shape is
 * refused before that, by tailAgainstMark, nothing cut). Signing from it could sign what the
 * lost records forbid (our own revoked commitment), so it is refused unless the operator
 * accepts the rollback explicitly.
 *
 * `slotMark` keeps the mark in two alternating slot files of a FileDir (Node: next to the
 * journal): `u64 id ‖ u32 CRC-32C`, the larger good one wins, so a crash mid-write leaves the
 * other. A slot that is torn or flipped is ignored (the other still holds a lower bound).
 */
import { type FileDir, readWhole } from '../file-port.js';
import { crc32c } from './crc32c.js';
import { describeTail, isBlankTail, JournalCorruptError, type TailJudge } from './frame.js';

/**
 * The port (the device's Store provides it: firmware/app/ports.ts): the last request id the
 * journal held when a reply left, kept apart from the journal file (NVS on the ESP32,
 * `slotMark` files next to the journal on Node).
 */
export interface HighWaterMark {
  /** Where it is kept, for messages. */
  readonly where: string;
  /** The mark, or undefined if none was ever written. */
  read(): bigint | undefined;
  /**
   * Replaces the mark. A raise need not be durable when it returns: the core raises the mark
   * only after the journal's sync, so whatever reaches the disk never exceeds what the journal
   * durably holds, and a raise a crash loses only leaves a lower (still true) mark. Writing it
   * without a sync keeps the mark from doubling the cost of every durable request. A lowering
   * (the operator accepted a rollback) is durable when it returns.
   */
  write(id: bigint): void;
}

export const HIGH_WATER_FILES = ['high-water-a', 'high-water-b'] as const;

/** The journal ends below the mark: refused until restored or accepted by the operator. */
export class JournalRollbackError extends Error {
  override readonly name = 'JournalRollbackError';
  constructor(
    readonly where: string,
    readonly journalLastId: bigint,
    readonly mark: bigint,
  ) {
    super(`the journal ends at request id ${journalLastId} but replies up to id ${mark} were sent from it (high-water mark in ${where}): ` +
      'it was deleted, cut back or restored from an older copy, so its state may allow what the lost records forbid ' +
      '(e.g. signing a revoked commitment)');
  }
}

function decodeMarkSlot(bytes: Uint8Array): bigint | undefined {
  if (bytes.length !== 12) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 12);
  return crc32c(bytes.subarray(0, 8)) === view.getUint32(8) ? view.getBigUint64(0) : undefined;
}

/** The mark in `dir`'s two slot files (`where` names them for messages). */
export function slotMark(dir: FileDir, where: string): HighWaterMark {
  const slots = HIGH_WATER_FILES.map((name) => dir.open(name));
  /** What each slot holds: read once, then kept as written (this process is the only writer). */
  let held: (bigint | undefined)[] | undefined;
  const values = () => (held ??= slots.map((f) => decodeMarkSlot(readWhole(f))));
  const put = (slot: number, bytes: Uint8Array, id: bigint, durable: boolean) => {
    const file = slots[slot]!;
    file.truncate(0);
    file.append(bytes);
    if (durable) file.sync();
    values()[slot] = id;
  };
  return {
    where,
    read() {
      const good = values().filter((v) => v !== undefined);
      return good.length === 0 ? undefined : good.reduce((a, b) => (a > b ? a : b));
    },
    write(id) {
      const [a, b] = values();
      // Overwrite the slot not holding the current mark: a crash mid-write keeps that one.
      const target = a === undefined || (b !== undefined && a < b) ? 0 : 1;
      const current = target === 0 ? b : a;
      const lowering = current !== undefined && current > id;
      const bytes = new Uint8Array(12);
      const view = new DataView(bytes.buffer);
      view.setBigUint64(0, id);
      view.setUint32(8, crc32c(bytes.subarray(0, 8)));
      put(target, bytes, id, lowering);
      // Lowered (the operator accepted a rollback): the other slot must not keep the old mark.
      if (lowering) put(1 - target, bytes, id, true);
    },
  };
}

/**
 * The operator's way out of a JournalRollbackError: `true` accepts any (a flag given for one
 * start), the two ids the error names accept that rollback only (a setting kept in a device's
 * configuration: a later, other rollback is refused again).
 */
export type AcceptRollback = boolean | { readonly lastId: bigint; readonly answeredUpTo: bigint };

/**
 * The mark after checking the journal's last id against it: a journal below it is refused
 * (or, accepted by the operator, the mark comes down to it, loudly). Otherwise the mark rises
 * to the journal's last id: every journaled record may be answered (a redelivered id gets its
 * journaled reply without a new sync), so all of them go under the mark. An empty journal
 * without a mark gets mark 0: a new device has one from its first open, so a blank tail after
 * its first append is judged (tailAgainstMark) rather than taken for a lost mark.
 */
export function checkJournalAgainstMark(
  mark: HighWaterMark,
  lastId: bigint | undefined,
  options: { readonly acceptRollback?: AcceptRollback; readonly log?: (line: string) => void },
): bigint | undefined {
  const marked = mark.read();
  const have = lastId ?? 0n;
  if (marked !== undefined && have < marked) {
    const error = new JournalRollbackError(mark.where, have, marked);
    const accept = options.acceptRollback;
    if (!(accept === true || (typeof accept === 'object' && accept.lastId === have && accept.answeredUpTo === marked))) throw error;
    options.log?.(`${error.message}. ACCEPTED by the operator: the mark comes down to ${have} and signing resumes from this journal`);
  } else if (marked === have) {
    return marked;
  }
  mark.write(have);
  return have;
}

/**
 * Judges a torn or blank tail after the journal's last good frame (a torn frame; zeros or 0xff,
 * after at most part of a frame) against the mark: a torn write only if the mark shows no reply
 * left for an id beyond the last good one, i.e. the journal cut there is what
 * checkJournalAgainstMark accepts anyway. Otherwise the tail replaced answered records (a file
 * overwritten with bytes that happen to announce a longer frame, a zeroed last page): refused,
 * nothing cut. With no mark, a torn frame is what any crash leaves and is cut, but nothing tells
 * a blank tail from answered records blanked: refused as damage (docs/journal.md "Recovery").
 */
export function tailAgainstMark(mark: HighWaterMark): TailJudge {
  return (file, tail, lastId) => {
    const marked = mark.read();
    const have = lastId ?? 0n;
    const what = `${describeTail(tail)} after the last good frame (last id ${lastId ?? 'none'})`;
    if (marked === undefined) {
      if (!isBlankTail(tail)) return `no high-water mark in ${mark.where} to judge it by, and a crash leaves a torn frame`;
      throw new JournalCorruptError(file, tail.offset, `${what}, and no high-water mark in ${mark.where} to tell a torn append ` +
        'from answered records blanked: damaged, not a torn last write');
    }
    if (marked > have) {
      throw new JournalCorruptError(file, tail.offset, `${what}, but the high-water mark in ${mark.where} is id ${marked}: ` +
        `replies up to id ${marked} were sent, so the tail replaced answered records: damaged, not a torn last write ` +
        `(to sign from the records before them: cut the file at this offset, then accept the rollback the mark reports)`);
    }
    return `the high-water mark in ${mark.where} is id ${marked}, so no reply was sent for anything in them`;
  };
}
