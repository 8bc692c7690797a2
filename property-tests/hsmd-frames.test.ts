/**
 * Property: malformed frames from clients never harm the node (hsmd-frame-session.ts). The real
 * bin/sphinx-hsmd (local mode) replays the recording session-basic-l1 while extra clients send
 * recorded requests mutated (bit flips, truncation, extension, other types, swapped fields) and
 * delivered whole, split or with a length prefix that lies: each frame gets a well-formed reply
 * or closes only its client, reported as hsmd.c reports it; hsmd never stops, and every
 * recorded reply stays byte for byte CLN's.
 */
import test from 'node:test';
import { framesLeaveTheSessionIntact, noStats } from './hsmd-frame-session.js';
import { assertAsyncProperty } from './settings.js';

test('property: malformed client frames get a reply or close only their client; the recorded session replays intact', { timeout: 30 * 60_000 }, async (t) => {
  const stats = noStats();
  await assertAsyncProperty(framesLeaveTheSessionIntact(100, stats), 8);
  t.diagnostic(`${stats.frames} frames: ${stats.replied} replies, ${stats.refused} bad requests (client closed), ` +
    `${stats.closedInsideFrame} clients that closed inside a frame, ${stats.tooLong} lengths at WIRE_LEN_LIMIT`);
});
