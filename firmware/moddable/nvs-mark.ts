/**
 * The high-water mark (log/journal/high-water.ts) in the ESP32's NVS through Moddable's
 * Preference module: apart from the SD card that holds the journal, so a card whose journal
 * was deleted, cut back or swapped for an older copy is noticed. The id is stored as a
 * decimal string (Preference numbers are 32-bit); Preference.set commits to flash before it
 * returns. NVS outlives the card, so each seed's device keeps its own mark (a board wiped and
 * given another seed starts with none): the key is `hw` and 13 hex digits of the node id's
 * x coordinate, within NVS's 15-character keys (docs/journal.md "Rollback").
 */
import Preference from 'preference';
import { parseDecimalU64 } from '../../signer/remote/decimal-u64.js';
import type { HighWaterMark } from '../app/ports.js';

const DOMAIN = 'sphinx';

/** The NVS key of the mark of device `deviceId` (a node id in hex). */
export const nvsMarkKey = (deviceId: string): string => `hw${deviceId.slice(2, 15)}`;

export function nvsMark(deviceId: string): HighWaterMark {
  const key = nvsMarkKey(deviceId);
  return {
    where: `NVS ${DOMAIN}/${key}`,
    read() {
      // None, or anything but a u64 in decimal (not what write() stores): no mark, as a damaged slot file.
      const id = parseDecimalU64('mark', Preference.get(DOMAIN, key));
      return typeof id === 'bigint' ? id : undefined;
    },
    write(id) {
      Preference.set(DOMAIN, key, id.toString());
    },
  };
}
