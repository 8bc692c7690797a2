/**
 * Property (f): the broker's session and the real device app, through a network that
 * reorders, duplicates, delays and drops messages, with device restarts
 * (property-tests/session-network.ts): every request is answered once with CLN's recorded
 * reply, and the device decides each once, in the order lightningd issued them.
 */
import test from 'node:test';
import { sessionSurvivesTheNetwork } from './session-network.js';
import { assertAsyncProperty } from './settings.js';

test('property: every request answered once, correctly, decided once in order, whatever the network does', async () => {
  await assertAsyncProperty(sessionSurvivesTheNetwork(), 100);
});
