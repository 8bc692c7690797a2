/**
 * The broker's refusal of a stale device (refusal.ts, docs/remote-protocol.md "Rollback"):
 * the payload round-trips, anything else is refused with the reason, and a device stops only
 * on a refusal of its own journal.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { decodeRefusal, encodeRefusal, refusalMismatch, type Refusal } from './refusal.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const REFUSAL: Refusal = { reason: 'rollback', lastId: 96n, answeredUpTo: 131n };

test('a refusal round-trips, as the JSON docs/remote-protocol.md gives, ids as decimal strings up to 2^64-1', () => {
  assert.equal(new TextDecoder().decode(encodeRefusal(REFUSAL)), '{"v":1,"reason":"rollback","lastId":"96","answeredUpTo":"131"}');
  assert.deepEqual(decodeRefusal(encodeRefusal(REFUSAL)), REFUSAL);
  const edge: Refusal = { reason: 'rollback', lastId: 0n, answeredUpTo: 2n ** 64n - 1n };
  assert.deepEqual(decodeRefusal(encodeRefusal(edge)), edge);
});

test('a payload that is not a refusal is an error naming what is wrong, never a throw', () => {
  const cases: [string | Uint8Array, RegExp][] = [
    ['', /not JSON/],
    ['{"v":1', /not JSON/],
    [Uint8Array.of(0x7b, 0xff, 0x7d), /not JSON/],
    ['[1]', /not a JSON object/],
    ['null', /not a JSON object/],
    ['"rollback"', /not a JSON object/],
    ['{"v":1,"reason":"rollback","lastId":"1"}', /fields lastId, reason, v; expected answeredUpTo, lastId, reason, v/],
    ['{"v":1,"reason":"rollback","lastId":"1","answeredUpTo":"2","extra":0}', /fields answeredUpTo, extra, lastId, reason, v/],
    ['{"v":2,"reason":"rollback","lastId":"1","answeredUpTo":"2"}', /version 2; expected 1/],
    ['{"v":"1","reason":"rollback","lastId":"1","answeredUpTo":"2"}', /version "1"; expected 1/],
    ['{"v":1,"reason":"seed","lastId":"1","answeredUpTo":"2"}', /reason "seed"; expected "rollback"/],
    ['{"v":1,"reason":"rollback","lastId":1,"answeredUpTo":"2"}', /lastId 1 is not a decimal string/],
    ['{"v":1,"reason":"rollback","lastId":"01","answeredUpTo":"2"}', /lastId "01" is not a decimal string/],
    ['{"v":1,"reason":"rollback","lastId":"-1","answeredUpTo":"2"}', /lastId "-1" is not a decimal string/],
    ['{"v":1,"reason":"rollback","lastId":"1","answeredUpTo":"18446744073709551616"}', /answeredUpTo 18446744073709551616 is above 2\^64-1/],
    ['{"v":1,"reason":"rollback","lastId":"7","answeredUpTo":"7"}', /lastId 7 is not below answeredUpTo 7: that is no rollback/],
  ];
  for (const [payload, reason] of cases) {
    const decoded = decodeRefusal(typeof payload === 'string' ? utf8(payload) : payload);
    assert.ok(decoded instanceof Error, String(payload));
    assert.match(decoded.message, reason, String(payload));
  }
});

test('a device stops only on a refusal of its own journal: the last id it announced, below what was answered', () => {
  assert.equal(refusalMismatch(REFUSAL, 96n), undefined);
  // The active device (its journal reaches the answered id) ignores one left for the stale device.
  assert.match(refusalMismatch(REFUSAL, 131n)!, /ends at id 131, which reaches id 131 the broker answered: it is meant for another device/);
  assert.match(refusalMismatch(REFUSAL, 200n)!, /meant for another device/);
  // Behind too, but not the hello it refuses (another stale copy): not this device's refusal.
  assert.match(refusalMismatch(REFUSAL, 95n)!, /refuses a hello with last id 96, and this device's journal ends at id 95/);
});
