/**
 * Property (c): a bit flipped anywhere in the journal or a snapshot slot, or the last write
 * to one torn, is recovered to the acknowledged records (a damaged journal loses at most its
 * last record, which looks torn) or refused with JournalCorruptError naming the offset; the
 * recovered state is never anything else.
 */
import test from 'node:test';
import { damagedJournalNeverSilentlyWrong } from './properties.js';
import { assertProperty } from './settings.js';

test('property: a torn or flipped journal recovers to a prefix or is refused by name, never silently wrong', () => {
  assertProperty(damagedJournalNeverSilentlyWrong(), 10);
});
