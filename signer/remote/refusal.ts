/**
 * The broker's refusal of a device whose journal is behind what it answered
 * (docs/remote-protocol.md "Rollback"), on the device's `refused` topic (broker → device):
 *
 *   {"v":1,"reason":"rollback","lastId":"<decimal>","answeredUpTo":"<decimal>"}
 *
 * lastId is the refused hello's, answeredUpTo the highest id the broker log shows answered.
 * Two devices with the same seed share the topic (docs/journal.md "Spare and failover"), so a
 * device stops on a refusal only if it is about its own journal: the lastId it announces, and
 * below answeredUpTo. The active device (its journal reaches answeredUpTo) ignores one meant
 * for the stale device, or left queued in the shared session. Pure; device-safe.
 */
import { utf8 } from '../bytes.js';
import { parseDecimalU64 } from './decimal-u64.js';

export interface Refusal {
  readonly reason: 'rollback';
  /** The refused hello's last journaled id. */
  readonly lastId: bigint;
  /** The highest id the broker log shows a device answered. */
  readonly answeredUpTo: bigint;
}

const KEYS = ['answeredUpTo', 'lastId', 'reason', 'v'];

export function encodeRefusal(refusal: Refusal): Uint8Array {
  return utf8(JSON.stringify({ v: 1, reason: refusal.reason, lastId: String(refusal.lastId), answeredUpTo: String(refusal.answeredUpTo) }));
}

/** The refusal, or why the payload is not one (strict: exactly the fields above, lastId below answeredUpTo). */
export function decodeRefusal(payload: Uint8Array): Refusal | Error {
  const fields = strictJsonObject(payload, KEYS);
  if (fields instanceof Error) return fields;
  if (fields.v !== 1) return new Error(`version ${JSON.stringify(fields.v)}; expected 1`);
  if (fields.reason !== 'rollback') return new Error(`reason ${JSON.stringify(fields.reason)}; expected "rollback"`);
  const ids = rollbackIds(fields);
  return ids instanceof Error ? ids : { reason: 'rollback', ...ids };
}

/**
 * The JSON object in `payload` whose keys are exactly `keys` (sorted), or why it is not one.
 * Shared with the device's record of a refusal it acted on (firmware/app/retired.ts).
 */
export function strictJsonObject(payload: Uint8Array, keys: readonly string[]): Record<string, unknown> | Error {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(payload));
  } catch (e) {
    return new Error(`not JSON: ${(e as Error).message}`);
  }
  return exactFields(value, keys);
}

/** `value` if it is an object whose keys are exactly `keys` (sorted), else why not (a setting read as JSON too). */
export function exactFields(value: unknown, keys: readonly string[]): Record<string, unknown> | Error {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return new Error('not a JSON object');
  const fields = value as Record<string, unknown>;
  const found = Object.keys(fields).sort();
  if (found.join() !== keys.join()) return new Error(`fields ${found.join(', ') || 'none'}; expected ${keys.join(', ')}`);
  return fields;
}

/** `lastId` and `answeredUpTo` as decimal-string u64s, the first below the second, or why not. */
export function rollbackIds(fields: Record<string, unknown>): { readonly lastId: bigint; readonly answeredUpTo: bigint } | Error {
  const lastId = parseDecimalU64('lastId', fields.lastId);
  if (lastId instanceof Error) return lastId;
  const answeredUpTo = parseDecimalU64('answeredUpTo', fields.answeredUpTo);
  if (answeredUpTo instanceof Error) return answeredUpTo;
  if (lastId >= answeredUpTo) return new Error(`lastId ${lastId} is not below answeredUpTo ${answeredUpTo}: that is no rollback`);
  return { lastId, answeredUpTo };
}

/**
 * Why `refusal` is not about the device whose journal ends at `ownLastId` (undefined: it is,
 * and the device must stop). It is only if it names that last id and the journal is behind.
 */
export function refusalMismatch(refusal: Refusal, ownLastId: bigint): string | undefined {
  if (ownLastId >= refusal.answeredUpTo) return `this device's journal ends at id ${ownLastId}, which reaches id ${refusal.answeredUpTo} the broker answered: it is meant for another device with this seed`;
  if (ownLastId !== refusal.lastId) return `it refuses a hello with last id ${refusal.lastId}, and this device's journal ends at id ${ownLastId}`;
  return undefined;
}
