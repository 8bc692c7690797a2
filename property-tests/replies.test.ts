/**
 * Property (b): every reply the core gives is the crash-free run's (and CLN's recorded one
 * for recorded requests); a redelivered or rebooted-for id is answered from the journal with
 * the identical reply, never decided twice.
 */
import test from 'node:test';
import { repliesSurviveCrashes } from './properties.js';
import { assertProperty } from './settings.js';

test('property: every acknowledged reply is the same when asked again, after any crash', () => {
  assertProperty(repliesSurviveCrashes(), 8);
});
