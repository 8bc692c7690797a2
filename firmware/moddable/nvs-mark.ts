/**
 * The high-water mark (firmware/app/high-water.ts) in the ESP32's NVS through Moddable's
 * Preference module: apart from the SD card that holds the journal, so a card whose journal
 * was deleted, cut back or swapped for an older copy is noticed. The id is stored as a
 * decimal string (Preference numbers are 32-bit); Preference.set commits to flash before it
 * returns.
 */
import Preference from 'preference';
import type { HighWaterMark } from '../app/ports.js';

const DOMAIN = 'sphinx';
const KEY = 'high-water';

export const nvsMark: HighWaterMark = {
  where: `NVS ${DOMAIN}/${KEY}`,
  read() {
    const value = Preference.get(DOMAIN, KEY);
    return typeof value === 'string' && /^\d+$/.test(value) ? BigInt(value) : undefined;
  },
  write(id) {
    Preference.set(DOMAIN, KEY, id.toString());
  },
};
