/**
 * Property (c): a bit flipped anywhere in the journal or a snapshot slot, the last write to
 * one torn, or a region of one zero-filled, erased (0xff) or overwritten (anywhere, or its last bytes), is
 * recovered to the acknowledged state or refused by name (JournalCorruptError naming the
 * offset; JournalRollbackError when the high-water mark shows answered records were cut);
 * the recovered state is never anything else.
 */
import test from 'node:test';
import { damagedJournalNeverSilentlyWrong } from './properties.js';
import { assertProperty } from './settings.js';

test('property: a torn, flipped, zeroed, erased or overwritten journal recovers to the acknowledged state or is refused by name, never silently wrong', () => {
  assertProperty(damagedJournalNeverSilentlyWrong(), 10);
});
