/**
 * The retired marker (docs/journal.md "Retiring a device"): a device that acts on the broker's
 * refusal of its own journal (signer/remote/refusal.ts) writes it next to its journal, synced,
 * before it disconnects; at boot, one whose storage holds it stops before anything else (no seed
 * read, no connection): restarted, it would otherwise connect again only to be refused again,
 * taking the active device's MQTT session over on an external server each time. The file, one
 * JSON line (`at`: the device's clock, unix milliseconds):
 *
 *   {"v":1,"device":"<66 hex>","lastId":"<decimal>","answeredUpTo":"<decimal>","at":<integer>}
 *
 * Read strictly: anything else (torn by a power cut while written, a damaged card) still means
 * the device was being retired, so it stays stopped, saying the file is unreadable. Wiping the
 * storage removes it; deleting the file is the owner's explicit way back to signing. Device-safe.
 */
import { utf8 } from '../../signer/bytes.js';
import { rollbackIds, strictJsonObject } from '../../signer/remote/refusal.js';
import { type FileDir, readWhole, replaceWhole } from '../../log/file-port.js';
import type { Store } from './ports.js';

/** The marker's name in the journal's directory (the data directory; `/journal/` on the card). */
export const RETIRED_FILE = 'retired';

export interface RetiredMarker {
  /** The node id (hex) the refusal named. */
  readonly deviceId: string;
  /** The refused journal's last id. */
  readonly lastId: bigint;
  /** The highest id the broker log showed answered. */
  readonly answeredUpTo: bigint;
  /** When the device acted on the refusal, by its clock (unix milliseconds). */
  readonly at: number;
}

const KEYS = ['answeredUpTo', 'at', 'device', 'lastId', 'v'];

/** Thrown at boot (and by --restore, --spare) when the storage holds the marker; the message is the advice. */
export class DeviceRetiredError extends Error {
  override readonly name = 'DeviceRetiredError';
}

export function encodeRetiredMarker(marker: RetiredMarker): Uint8Array {
  const { deviceId, lastId, answeredUpTo, at } = marker;
  return utf8(`${JSON.stringify({ v: 1, device: deviceId, lastId: String(lastId), answeredUpTo: String(answeredUpTo), at })}\n`);
}

/** The marker, or why the bytes are not one (strict: exactly the fields above). */
export function decodeRetiredMarker(bytes: Uint8Array): RetiredMarker | Error {
  const fields = strictJsonObject(bytes, KEYS);
  if (fields instanceof Error) return fields;
  if (fields.v !== 1) return new Error(`version ${JSON.stringify(fields.v)}; expected 1`);
  const deviceId = fields.device;
  if (typeof deviceId !== 'string' || !/^0[23][0-9a-f]{64}$/.test(deviceId)) return new Error(`device ${JSON.stringify(deviceId)} is not a node id`);
  const at = fields.at;
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) return new Error(`at ${JSON.stringify(at)} is not a time in milliseconds`);
  const ids = rollbackIds(fields);
  return ids instanceof Error ? ids : { deviceId, ...ids, at };
}

/** Writes the marker into `dir`, synced when it returns; its name, for the advice. Throws what the file port throws. */
export function writeRetiredMarker(dir: FileDir, marker: RetiredMarker): string {
  const file = dir.open(RETIRED_FILE);
  replaceWhole(file, encodeRetiredMarker(marker));
  return file.name;
}

/**
 * Retires the device the broker refused: the marker written into `dir` (synced) so a restart
 * stops at boot too, and the advice it stops with, which says if the marker could not be written.
 */
export function retire(dir: FileDir, refused: Omit<RetiredMarker, 'at'>, at: number): string {
  let marker: string | { notWritten: string };
  try {
    marker = writeRetiredMarker(dir, { ...refused, at });
  } catch (e) {
    marker = { notWritten: (e as Error).message };
  }
  return retiredAdvice(refused, marker);
}

/**
 * Throws DeviceRetiredError, its message the advice (also logged `broken`), if `store` holds
 * the marker: called first, before anything reads the seed or connects.
 */
export function refuseIfRetired(store: Store, log: (level: 'broken', line: string) => void): void {
  const file = store.retiredMarker();
  if (file === undefined) return;
  const marker = decodeRetiredMarker(readWhole(file));
  const advice = marker instanceof Error
    ? `${file.name} is there but unreadable (${marker.message}); it is written only when the broker refuses this device's journal as behind what it answered, ` +
      'so this device stays retired and does not connect. ' +
      `${WAY_OUT} If this device is to sign again (its newest journal restored), delete ${file.name} and start it`
    : `retired, not connecting: ${file.name} records that at ${new Date(marker.at).toISOString()} ${retiredAdvice(marker, file.name)}`;
  log('broken', advice);
  throw new DeviceRetiredError(advice);
}

const WAY_OUT = 'If another device with this seed took over (a failover), this one is retired: wipe its data directory, hsm_secret included, ' +
  'or make it the new spare on an empty one (docs/journal.md "Retiring a device").';

/**
 * What a device refused for its stale journal says: both ids and what its owner does.
 * `marker`: where the refusal is recorded, or why it could not be (then a restart connects again).
 */
function retiredAdvice(refused: Omit<RetiredMarker, 'at'>, marker: string | { readonly notWritten: string }): string {
  const { deviceId, lastId, answeredUpTo } = refused;
  const remembered = typeof marker === 'string'
    ? `Restarted, it stops again without connecting: ${marker} records this. `
    : `The retired marker could not be written (${marker.notWritten}): restarted, it connects and is refused again. `;
  const back = typeof marker === 'string' ? `; then delete ${marker} and start it` : '';
  return `the broker refused device ${deviceId}: its journal ends at id ${lastId} but the broker log shows id ${answeredUpTo} answered, ` +
    'so signing from this state could sign a revoked commitment; stopped for good, and not reconnecting, which would push the active device off. ' +
    `${remembered}${WAY_OUT} If this is to be the active device, restore its newest journal; or, knowing ` +
    `the state after id ${lastId} is lost, set SPHINX_ACCEPT_DEVICE_ROLLBACK=${deviceId}:${lastId} for the broker (docs/broker-log.md "The operator's way out")${back}`;
}
