/**
 * Property (e): redelivering answered ids (duplicates, in any order, across crashes and
 * snapshots) leaves the state, the journal and snapshot bytes and every reply as in the same
 * run without them; an id older than the replies kept is refused by name, never decided again.
 */
import test from 'node:test';
import { redeliveriesChangeNothing } from './properties.js';
import { assertProperty } from './settings.js';

test('property: duplicate and reordered deliveries change nothing', () => {
  assertProperty(redeliveriesChangeNothing(), 6);
});
