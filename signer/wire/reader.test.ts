/**
 * WireReader / WireWriter: big-endian integers, CLN's bool rule, truncation errors that name
 * the field, and BigSize against BOLT 1 Appendix A (lightning/bolts a377265, 01-messaging.md);
 * integers, assembled from bytes, against DataView's reading of random bytes (fast-check).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assertProperty } from '../../property-tests/settings.js';
import { fromHex, toHex } from '../bytes.js';
import { WireError } from './errors.js';
import { WireReader } from './reader.js';
import { WireWriter } from './writer.js';

test('integers are big-endian and round-trip at their limits', () => {
  const w = new WireWriter(1); // start tiny: exercises growth
  w.u8(0xff);
  w.u16(0x0102);
  w.u32(0xdeadbeef);
  w.u64(0xffffffffffffffffn);
  w.bool(true);
  w.bool(false);
  w.bytes(fromHex('a1a2'));
  const out = w.finish();
  assert.equal(toHex(out), 'ff' + '0102' + 'deadbeef' + 'ffffffffffffffff' + '01' + '00' + 'a1a2');
  const r = new WireReader(out);
  assert.equal(r.u8(), 0xff);
  assert.equal(r.u16(), 0x0102);
  assert.equal(r.u32(), 0xdeadbeef);
  assert.equal(r.u64(), 0xffffffffffffffffn);
  assert.equal(r.bool(), true);
  assert.equal(r.bool(), false);
  assert.equal(r.offset, 17);
  assert.equal(r.remaining, 2);
  assert.deepEqual(r.bytes(2), fromHex('a1a2'));
  assert.ok(r.atEnd);
});

test('writer grows across many writes without losing bytes', () => {
  const w = new WireWriter(2);
  for (let i = 0; i < 1000; i++) w.u32(i);
  const r = new WireReader(w.finish());
  for (let i = 0; i < 1000; i++) assert.equal(r.u32(), i);
  assert.ok(r.atEnd);
});

test('writer rejects values outside their type', () => {
  const w = new WireWriter();
  assert.throws(() => w.u8(256), WireError);
  assert.throws(() => w.u16(-1), WireError);
  assert.throws(() => w.u32(2 ** 32), WireError);
  assert.throws(() => w.u32(1.5), WireError);
  assert.throws(() => w.u64(-1n), WireError);
  assert.throws(() => w.u64(2n ** 64n), WireError);
  assert.throws(() => w.bool(1 as unknown as boolean), WireError);
});

test('fromwire_bool: bytes other than 0 and 1 fail', () => {
  assert.equal(new WireReader(fromHex('01')).bool(), true);
  assert.equal(new WireReader(fromHex('00')).bool(), false);
  for (const b of ['02', '80', 'ff']) {
    assert.throws(() => new WireReader(fromHex(b)).bool(), WireError);
  }
});

test('a truncated read names the message, field, size, offset and what is left', () => {
  const r = new WireReader(fromHex('0017' + '0078' + 'aabbcc'), 4);
  r.msgName = 'hsmd_sign_message';
  r.fieldName = 'msg';
  assert.throws(() => r.bytes(120), (e: unknown) => {
    assert.ok(e instanceof WireError);
    assert.equal(e.message, 'hsmd_sign_message: field msg needs 120 bytes at offset 4, only 3 left');
    assert.equal(e.offset, 4);
    return true;
  });
});

test('every integer read past the end throws WireError', () => {
  const empty = (): WireReader => new WireReader(new Uint8Array(0));
  for (const read of [
    (r: WireReader) => r.u8(), (r: WireReader) => r.u16(), (r: WireReader) => r.u32(),
    (r: WireReader) => r.u64(), (r: WireReader) => r.bool(), (r: WireReader) => r.bigsize(),
  ]) {
    assert.throws(() => read(empty()), WireError);
  }
  assert.throws(() => new WireReader(fromHex('010203')).u32(), WireError);
});

test('a sub-reader is bounded and reports absolute offsets', () => {
  const r = new WireReader(fromHex('00112233445566'));
  r.u8();
  const sub = r.sub(3);
  assert.equal(r.offset, 4);
  assert.equal(sub.offset, 1);
  assert.equal(sub.u16(), 0x1122);
  assert.throws(() => sub.u16(), (e: unknown) => e instanceof WireError && e.offset === 3);
});

// BOLT 1 Appendix A: BigSize Decoding Tests and BigSize Encoding Tests.
const BIGSIZE_OK: [string, bigint][] = [
  ['00', 0n], ['fc', 252n], ['fd00fd', 253n], ['fdffff', 65535n], ['fe00010000', 65536n],
  ['feffffffff', 4294967295n], ['ff0000000100000000', 4294967296n],
  ['ffffffffffffffffff', 18446744073709551615n],
];
const BIGSIZE_BAD: [string, string][] = [
  ['fd00fc', 'two byte not canonical'], ['fe0000ffff', 'four byte not canonical'],
  ['ff00000000ffffffff', 'eight byte not canonical'], ['fd00', 'two byte short read'],
  ['feffff', 'four byte short read'], ['ffffffffff', 'eight byte short read'],
  ['', 'one byte no read'], ['fd', 'two byte no read'], ['fe', 'four byte no read'],
  ['ff', 'eight byte no read'],
];

/** Each hex reads as its value, filling the input, and the value writes as that hex. */
function roundTrips<T>(cases: readonly [string, T][], read: (r: WireReader) => T, write: (w: WireWriter, v: T) => void): void {
  for (const [hex, value] of cases) {
    const r = new WireReader(fromHex(hex));
    assert.equal(read(r), value, hex);
    assert.ok(r.atEnd);
    const w = new WireWriter();
    write(w, value);
    assert.equal(toHex(w.finish()), hex);
  }
}

test('BigSize decoding and encoding (BOLT 1 Appendix A)', () => {
  roundTrips(BIGSIZE_OK, (r) => r.bigsize(), (w, v) => w.bigsize(v));
  for (const [hex, name] of BIGSIZE_BAD) {
    assert.throws(() => new WireReader(fromHex(hex)).bigsize(), WireError, name);
  }
});

// Bitcoin's CompactSize (Bitcoin Core serialize.h): the same prefixes as BigSize, little-endian.
const COMPACT_OK: [string, number][] = [
  ['00', 0], ['fc', 252], ['fdfd00', 253], ['fdffff', 65535], ['fe00000100', 65536], ['feffffffff', 4294967295],
];

test('CompactSize: shortest form, little-endian; non-minimal forms only where libwally allows them', () => {
  roundTrips(COMPACT_OK, (r) => r.compactSize(), (w, v) => w.compactSize(v));
  for (const hex of ['fdfc00', 'feffff0000'])
    assert.throws(() => new WireReader(fromHex(hex)).compactSize(), /CompactSize is not minimally encoded at offset 0/);
  assert.throws(() => new WireReader(fromHex('ff0000000001000000')).compactSize(), /CompactSize too large/);
  assert.equal(new WireReader(fromHex('fdfc00')).compactSize('any'), 252);
  assert.equal(new WireReader(fromHex('ff0500000000000000')).compactSize('any'), 5);
  assert.throws(() => new WireReader(fromHex('fdff')).compactSize(), /needs 2 bytes at offset 1, only 1 left/);
  assert.throws(() => new WireReader(fromHex('0300')).compactCount(1), /count 3 of items of at least 1 bytes exceeds the 1 bytes left/);
});

test('little-endian integers read and write as Bitcoin serializes them', () => {
  const w = new WireWriter();
  w.u16le(0x0102);
  w.u32le(0x01020304);
  w.u64le(0x0102030405060708n);
  assert.equal(toHex(w.finish()), '0201' + '04030201' + '0807060504030201');
  const r = new WireReader(w.finish());
  assert.deepEqual([r.u16le(), r.u32le(), r.u64le()], [0x0102, 0x01020304, 0x0102030405060708n]);
  assert.throws(() => new WireWriter().u32le(-1), WireError);
});

test('integers of either byte order equal DataView\'s reading of the same bytes, at any offset, u64 on both sides of 2^53', () => {
  // Bytes of an 8-byte value chosen near 2^53 and the u64 limits as often as anywhere.
  const u64 = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 2n ** 53n - 4n, max: 2n ** 53n + 4n }), fc.bigInt({ min: 0n, max: 2n ** 32n }));
  const input = fc.tuple(fc.uint8Array({ maxLength: 7 }), u64, fc.boolean(), fc.uint8Array({ minLength: 8, maxLength: 8 }));
  assertProperty(fc.property(input, ([pad, value, le, raw]) => {
    const bytes = new Uint8Array(pad.length + 16);
    const view = new DataView(bytes.buffer);
    view.setBigUint64(pad.length, value, le);
    bytes.set(raw, pad.length + 8);
    const at = pad.length;
    const r = new WireReader(bytes, at);
    assert.equal(le ? r.u64le() : r.u64(), view.getBigUint64(at, le));
    assert.equal(le ? r.u32le() : r.u32(), view.getUint32(at + 8, le));
    assert.equal(le ? r.u16le() : r.u16(), view.getUint16(at + 12, le));
    assert.equal(r.remaining, 2);
  }), 1000);
});
