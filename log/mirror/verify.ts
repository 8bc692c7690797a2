/**
 * Checking a mirror served by the broker (docs/journal.md "Mirror"): the MAC chain with its
 * counters, then freshness. Pure; restore (firmware/app/restore.ts) refuses on any finding,
 * the audit reports it. Every refusal is one of:
 * - `forged`: an entry's MAC does not verify, or a MAC chain is spliced from another one
 *   (someone without the key changed or made it up);
 * - `gap`: entries missing between two kept ones (one dropped);
 * - `reordered`: a counter or a request id not after the previous one;
 * - `rollback`: the mirror ends before what is known to have been journaled (the broker's
 *   own reply log, the device's high-water mark, or its surviving chain position): it was cut
 *   back or is stale (MirrorBehindError when an answered id says so: the owner may accept it);
 * - `malformed`: an entry or record that does not decode.
 */
import { decodeEntry, isSourced, type JournalEntry } from '../journal/record.js';
import { equal } from '../../signer/bytes.js';
import { type ChainPosition, macHolds, type MirrorEntry, positionAfter, readSnapshotPayload, ZERO_MAC } from './entry.js';

export type MirrorProblem = 'forged' | 'gap' | 'reordered' | 'rollback' | 'malformed';

export class MirrorRefusedError extends Error {
  override readonly name = 'MirrorRefusedError';
  constructor(
    readonly problem: MirrorProblem,
    detail: string,
    readonly counter?: bigint,
  ) {
    super(`mirror refused (${problem}): ${detail}`);
  }
}

/**
 * The mirror ends before a request id known to have been answered (the broker's reply log, the
 * device's high-water mark): replies sent after `mirrorLastId` are not in it.
 */
export class MirrorBehindError extends MirrorRefusedError {
  constructor(
    readonly mirrorLastId: bigint,
    readonly answeredUpTo: bigint,
    detail: string,
  ) {
    super('rollback', detail);
  }
}

/** What the mirror must at least reach. */
export interface Freshness {
  /** The largest request id the broker's reply log shows the device answered (it was journaled). */
  readonly repliedUpTo?: bigint;
  /** The device's own high-water mark (log/journal/high-water.ts): replies up to `id` left its journal. */
  readonly highWater?: { readonly id: bigint; readonly where: string };
  /**
   * The owner accepted a mirror ending at exactly this request id although replies after it
   * were sent (docs/broker-log.md "The operator's way out"): no MirrorBehindError for it.
   */
  readonly acceptBehind?: bigint;
  /** A chain position the device itself still holds (its mirror anchor): the mirror must reach it, with the same MAC. */
  readonly proven?: ChainPosition;
}

/** A checked mirror: the newest snapshot it holds and the journal entries after it, in order. */
export interface CheckedMirror {
  readonly snapshot: { readonly lastId: bigint; readonly body: Uint8Array; readonly position: ChainPosition; readonly prevMac: Uint8Array } | undefined;
  readonly records: readonly { readonly entry: JournalEntry; readonly payload: Uint8Array }[];
  /** The last entry's position: the chain continues from here. */
  readonly end: ChainPosition;
  /** The last request id it covers (0 if none). */
  readonly lastId: bigint;
}

const what = (e: MirrorEntry): string => `entry ${e.counter} (${e.kind})`;

export function checkMirror(key: Uint8Array, entries: readonly MirrorEntry[], freshness: Freshness = {}): CheckedMirror {
  let snapshot: CheckedMirror['snapshot'];
  let records: { entry: JournalEntry; payload: Uint8Array }[] = [];
  let previous: MirrorEntry | undefined;
  let lastId = 0n;
  for (const e of entries) {
    if (!macHolds(key, e)) throw new MirrorRefusedError('forged', `${what(e)}: its MAC does not verify (changed without the device's key)`, e.counter);
    if (previous === undefined) {
      if (e.kind === 'record' && (e.counter !== 1n || !equal(e.prevMac, ZERO_MAC))) {
        throw new MirrorRefusedError('gap', `the mirror starts at ${what(e)}: the entries before it (from entry 1, or a snapshot) are missing`, e.counter);
      }
    } else if (e.counter <= previous.counter) {
      throw new MirrorRefusedError('reordered', `${what(e)} comes after entry ${previous.counter}`, e.counter);
    } else if (e.counter !== previous.counter + 1n) {
      throw new MirrorRefusedError('gap', `entries ${previous.counter + 1n}..${e.counter - 1n} are missing between entry ${previous.counter} and entry ${e.counter}`, previous.counter + 1n);
    } else if (!equal(e.prevMac, previous.mac)) {
      throw new MirrorRefusedError('forged', `${what(e)} does not continue entry ${previous.counter}'s MAC (spliced from another chain)`, e.counter);
    }
    try {
      if (e.kind === 'snapshot') {
        const s = readSnapshotPayload(e.payload);
        if (s.lastId < lastId) throw new MirrorRefusedError('reordered', `${what(e)} covers id ${s.lastId}, before id ${lastId}`, e.counter);
        snapshot = { lastId: s.lastId, body: s.body, position: positionAfter(e), prevMac: e.prevMac };
        records = [];
        lastId = s.lastId;
      } else {
        const entry = decodeEntry(e.payload);
        if (!isSourced(entry)) {
          if (entry.id <= lastId) throw new MirrorRefusedError('reordered', `${what(e)} holds request id ${entry.id}, not after id ${lastId}`, e.counter);
          lastId = entry.id;
        }
        records.push({ entry, payload: e.payload });
      }
    } catch (err) {
      if (err instanceof MirrorRefusedError) throw err;
      throw new MirrorRefusedError('malformed', `${what(e)}: ${(err as Error).message}`, e.counter);
    }
    previous = e;
  }
  const end = previous ? positionAfter(previous) : { counter: 0n, mac: ZERO_MAC };
  const { repliedUpTo, highWater, proven } = freshness;
  const behind: { id: bigint; says: string }[] = [];
  if (repliedUpTo !== undefined && lastId < repliedUpTo) behind.push({ id: repliedUpTo, says: `the broker's reply log shows the device answered id ${repliedUpTo}` });
  if (highWater !== undefined && lastId < highWater.id) behind.push({ id: highWater.id, says: `this device's high-water mark (${highWater.where}) shows replies up to id ${highWater.id} were sent` });
  if (behind.length > 0 && freshness.acceptBehind !== lastId) {
    const answeredUpTo = behind.reduce((a, b) => (a > b.id ? a : b.id), 0n);
    throw new MirrorBehindError(lastId, answeredUpTo, `the mirror ends at request id ${lastId}, but ${behind.map((b) => b.says).join(', and ')}: ` +
      'records the device journaled are missing (rolled back, or not yet mirrored when the device died)');
  }
  if (proven !== undefined && proven.counter > 0n) {
    if (end.counter < proven.counter) {
      throw new MirrorRefusedError('rollback', `the mirror ends at entry ${end.counter}, but this device's own data proves entry ${proven.counter} was made`);
    }
    const at = entries.find((e) => e.counter === proven.counter);
    if (at && !equal(at.mac, proven.mac)) {
      throw new MirrorRefusedError('forged', `entry ${proven.counter} differs from the one this device's own data proves`, proven.counter);
    }
  }
  return { snapshot, records, end, lastId };
}
