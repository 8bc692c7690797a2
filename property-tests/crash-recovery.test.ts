/**
 * Property (a): whatever step the power goes at (before append, after append before sync
 * with the record torn at any byte, after sync during a snapshot or compaction, before the
 * reply), the rebooted signer's state is the crash-free run's state of the acknowledged
 * records (plus the pending one exactly when its record survived whole), and a torn record
 * is reported. On the SD card's journal (no reserved space, the mark apart in NVS) a crash may
 * also leave the unsynced record's length with only its first bytes written and the rest blank,
 * zeros or 0xff (FAT wrote the size, not all the data): cut as torn against the mark, and the
 * same holds.
 */
import test from 'node:test';
import { recoveryRestoresState } from './properties.js';
import { assertProperty } from './settings.js';

test('property: state after recovery equals the crash-free state of the acknowledged prefix', () => {
  assertProperty(recoveryRestoresState(), 8);
});

test('property: the same with blank-filled crashes on the SD card (zeros or 0xff after a torn record\'s first bytes), the mark kept apart', () => {
  assertProperty(recoveryRestoresState({ markApart: true }, { blankFilled: true }), 8);
});
