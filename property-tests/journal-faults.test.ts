/**
 * Property (c): a bit flipped anywhere in the journal or a snapshot slot, the last write to
 * one torn, a region of one zero-filled, erased (0xff) or overwritten (anywhere, or its last
 * bytes), or a whole file zero-filled or overwritten with garbage (also garbage whose first
 * bytes announce a frame longer than the file, the shape of a torn first write), is recovered
 * to the acknowledged state or refused by name (JournalCorruptError naming the offset;
 * JournalRollbackError when the journal reads clean but ends below the high-water mark), the
 * journal left as the fault left it; the recovered state is never anything else. A journal
 * overwritten whole with no snapshot is always refused.
 */
import test from 'node:test';
import { damagedJournalNeverSilentlyWrong } from './properties.js';
import { assertProperty } from './settings.js';

test('property: a torn, flipped, zeroed, erased or overwritten journal recovers to the acknowledged state or is refused by name, never silently wrong', () => {
  assertProperty(damagedJournalNeverSilentlyWrong(), 10);
});

test('property: a journal or snapshot zero-filled or overwritten whole recovers to the acknowledged state or is refused by name, the file kept; a whole journal with no snapshot is refused', () => {
  assertProperty(damagedJournalNeverSilentlyWrong('whole-file'), 10);
});
