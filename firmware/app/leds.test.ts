/**
 * The status-light machine: the device's life walks booting → connecting →
 * ready ⇄ signing, a dropped connection goes back to connecting, a bad payload only blinks,
 * a fatal error stays; every state has a distinct colour.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { LED_COLOURS, nextLed, type LedEvent, type LedName } from './leds.js';

const walk = (events: LedEvent[], from: LedName = 'booting'): LedName[] => {
  const seen: LedName[] = [];
  let state = from;
  for (const e of events) seen.push((state = nextLed(state, e).state));
  return seen;
};

test('a session: boot, connect, sign twice, lose the connection, reconnect', () => {
  assert.deepEqual(walk(['booted', 'connected', 'request', 'replied', 'request', 'replied', 'disconnected', 'disconnected', 'connected']), [
    'connecting', 'ready', 'signing', 'ready', 'signing', 'ready', 'connecting', 'connecting', 'ready',
  ]);
});

test('a malformed payload blinks the error colour and leaves the state as it was', () => {
  assert.deepEqual(nextLed('ready', 'malformed'), { state: 'ready', blink: 'error' });
  assert.deepEqual(nextLed('signing', 'malformed'), { state: 'signing', blink: 'error' });
});

test('fatal is sticky: nothing but a restart leaves error', () => {
  for (const from of ['booting', 'connecting', 'ready', 'signing'] as LedName[]) assert.equal(nextLed(from, 'fatal').state, 'error');
  for (const e of ['booted', 'connected', 'disconnected', 'request', 'replied', 'malformed', 'fatal'] as LedEvent[])
    assert.deepEqual(nextLed('error', e), { state: 'error' });
});

test('refused is sticky and only for a connected or connecting device: retired, its own colour, no error blink over it', () => {
  for (const from of ['connecting', 'ready', 'signing'] as LedName[]) assert.equal(nextLed(from, 'refused').state, 'retired');
  assert.equal(nextLed('booting', 'refused').state, 'booting');
  assert.equal(nextLed('error', 'refused').state, 'error');
  for (const e of ['booted', 'connected', 'disconnected', 'request', 'replied', 'malformed', 'fatal', 'refused'] as LedEvent[])
    assert.deepEqual(nextLed('retired', e), { state: 'retired' });
  assert.notEqual(LED_COLOURS.retired.pattern, LED_COLOURS.connecting.pattern, 'a single GPIO LED tells them apart');
});

test('events that do not apply change nothing (no request before connecting)', () => {
  assert.deepEqual(nextLed('booting', 'request'), { state: 'booting' });
  assert.deepEqual(nextLed('connecting', 'replied'), { state: 'connecting' });
  assert.deepEqual(nextLed('ready', 'replied'), { state: 'ready' });
});

test('every state has its own colour', () => {
  const colours = Object.values(LED_COLOURS).map((c) => c.rgb.join(','));
  assert.equal(new Set(colours).size, colours.length);
});
