/**
 * CRC-32C (crc32c.ts, slicing-by-8) against its published check value and RFC 3720's vectors,
 * and against the bit-at-a-time definition: every length, split and range of a fixed input
 * (lengths across the 8-byte blocks and the byte-at-a-time tail), then random inputs, ranges
 * and continuations (fast-check).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import { assertProperty } from '../../property-tests/settings.js';
import { crc32c, crc32cUpdate } from './crc32c.js';

/** The definition, one bit at a time (RFC 3720 §12.1): the oracle for the tables. */
function bitwise(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

test('CRC-32C check value: "123456789" → 0xE3069283 (RFC 3720 / CRC catalogue)', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

test('CRC-32C: RFC 3720 B.4 vectors, and every length, split and range equal to the bit-at-a-time definition', () => {
  const bytes = (f: (i: number) => number) => Uint8Array.from({ length: 32 }, (_, i) => f(i));
  assert.equal(crc32c(bytes(() => 0)), 0x8a9136aa);
  assert.equal(crc32c(bytes(() => 0xff)), 0x62a8ab43);
  assert.equal(crc32c(bytes((i) => i)), 0x46dd794e);
  assert.equal(crc32c(bytes((i) => 31 - i)), 0x113fdb5c);
  const data = Uint8Array.from({ length: 67 }, (_, i) => (i * 151 + 7) & 0xff);
  for (let n = 0; n <= data.length; n++) {
    const b = data.subarray(0, n);
    assert.equal(crc32c(b), bitwise(b), `length ${n}`);
    const split = n >> 1;
    assert.equal(crc32cUpdate(crc32c(b.subarray(0, split)), b.subarray(split)), bitwise(b), `length ${n} split at ${split}`);
    assert.equal(crc32cUpdate(crc32cUpdate(0, data, 0, split), data, split, n), bitwise(b), `length ${n} as ranges split at ${split}`);
    assert.equal(crc32cUpdate(0, data, split, n), bitwise(data.subarray(split, n)), `range [${split}, ${n})`);
  }
});

test('CRC-32C equals the bit-at-a-time definition on random bytes, ranges and continuations', () => {
  const input = fc.uint8Array({ maxLength: 600 }).chain((data) =>
    fc.tuple(fc.constant(data), fc.nat(data.length), fc.nat(data.length), fc.nat(data.length)).map(([d, a, b, c]) => {
      const [start, split, end] = [a, b, c].sort((x, y) => x - y) as [number, number, number];
      return { data: d, start, split, end };
    }));
  assertProperty(fc.property(input, ({ data, start, split, end }) => {
    const range = data.subarray(start, end);
    assert.equal(crc32c(data), bitwise(data));
    assert.equal(crc32cUpdate(0, data, start, end), bitwise(range));
    assert.equal(crc32cUpdate(crc32cUpdate(0, data, start, split), data, split, end), bitwise(range));
  }), 500);
});
