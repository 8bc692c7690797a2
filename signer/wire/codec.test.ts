/**
 * Codec combinators: fixed bytes, u8[len], T[count], ?T, subtypes, wirestring (CLN's
 * towire/fromwire_wirestring) and TLV streams against BOLT 1 Appendix B
 * (lightning/bolts a377265, 01-messaging.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex } from '../bytes.js';
import {
  array16, bool, bytes, bytes16, optional, struct, tlvStream, u16, u32, u64, wirestring,
  type Codec,
} from './codec.js';
import { WireError } from './errors.js';
import { WireReader } from './reader.js';
import { pubkey } from './fields.js';
import { decodeHex, enc, roundTrip } from '../../test/codec-roundtrip.js';

test('bytes(n) round-trips and rejects other lengths on encode, short input on decode', () => {
  assert.deepEqual(roundTrip(bytes(3), 'a1b2c3'), fromHex('a1b2c3'));
  assert.deepEqual(roundTrip(bytes(0), ''), new Uint8Array(0));
  assert.throws(() => enc(bytes(3), fromHex('a1b2')), WireError);
  assert.throws(() => decodeHex(bytes(3), 'a1b2'), WireError);
});

test('decoded bytes are copies, not views of the frame', () => {
  const frame = fromHex('0102');
  const v = bytes(2).decode(new WireReader(frame));
  frame[0] = 0xff;
  assert.deepEqual(v, fromHex('0102'));
});

test('bytes16: u16 length then bytes, as one field; empty and 65535 bytes', () => {
  assert.deepEqual(roundTrip(bytes16, '0003a1b2c3'), fromHex('a1b2c3'));
  assert.deepEqual(roundTrip(bytes16, '0000'), new Uint8Array(0));
  const big = new Uint8Array(0xffff).fill(7);
  assert.deepEqual(roundTrip(bytes16, 'ffff' + toHex(big)), big);
  assert.throws(() => enc(bytes16, new Uint8Array(0x10000)), WireError);
  assert.throws(() => decodeHex(bytes16, '0004a1b2c3'), WireError);
});

test('array16: u16 count then items; empty array; truncated item', () => {
  assert.deepEqual(roundTrip(array16(u32), '0000'), []);
  assert.deepEqual(roundTrip(array16(u32), '0002' + '0000001c' + '00000038'), [28, 56]);
  assert.deepEqual(roundTrip(array16(bytes16), '0002' + '0000' + '0001ff'), [new Uint8Array(0), fromHex('ff')]);
  assert.throws(() => decodeHex(array16(u32), '0002' + '0000001c' + '0000'), WireError);
});

test('optional: presence bool then value; absent is undefined; bad presence byte fails', () => {
  assert.equal(roundTrip(optional(u32), '00'), undefined);
  assert.equal(roundTrip(optional(u32), '01' + '00000005'), 5);
  assert.throws(() => decodeHex(optional(u32), '02' + '00000005'), WireError);
  assert.throws(() => decodeHex(optional(u32), '01' + '0000'), WireError);
});

test('struct: fields in order, keyed by name; encode errors name the field', () => {
  const c = struct({ a: u16, b: u64, c: bool });
  assert.deepEqual(roundTrip(c, '0102' + '0000000000000003' + '01'), { a: 0x0102, b: 3n, c: true });
  assert.throws(() => enc(c, { a: 1, b: 2 as unknown as bigint, c: true }), /b: u64 out of range/);
});

test('wirestring: bytes then NUL; round-trips ASCII, UTF-8, empty', () => {
  assert.equal(roundTrip(wirestring, '626f6c7431322d696e766f6963652d6261736500'), 'bolt12-invoice-base');
  assert.equal(roundTrip(wirestring, '00'), '');
  assert.equal(roundTrip(wirestring, 'c3a9e282acf09f988000'), '\u00e9\u20ac\u{1F600}');
  // A leading BOM is content, not stripped.
  assert.equal(roundTrip(wirestring, 'efbbbf6100'), '\ufeffa');
  assert.equal(roundTrip(wirestring, '207e7f00'), ' ~\x7f');
});

test('wirestring: stops at the first NUL; later bytes belong to the next field', () => {
  const r = new WireReader(fromHex('6100' + '6200'));
  assert.equal(wirestring.decode(r), 'a');
  assert.equal(wirestring.decode(r), 'b');
  assert.ok(r.atEnd);
});

test('wirestring: what fromwire_wirestring rejects (no NUL, control bytes) fails', () => {
  assert.throws(() => decodeHex(wirestring, '616263'), /no NUL/);
  assert.throws(() => decodeHex(wirestring, ''), /no NUL/);
  assert.throws(() => decodeHex(wirestring, '610a6200'), /control byte 0x0a/);
  assert.throws(() => decodeHex(wirestring, '1f00'), WireError);
});

test('wirestring: invalid UTF-8 is rejected (a JS string cannot round-trip it)', () => {
  for (const hex of ['ff00', 'c0af00', 'e08080' + '00', 'eda08000', 'c300', 'f4908080' + '00']) {
    assert.throws(() => decodeHex(wirestring, hex), /not valid UTF-8/, hex);
  }
});

test('wirestring: strings CLN could not send back are rejected on encode', () => {
  assert.throws(() => enc(wirestring, 'a\u0000b'), WireError);
  assert.throws(() => enc(wirestring, 'tab\there'), WireError);
  assert.throws(() => enc(wirestring, '\ud800'), /lone surrogate/);
  assert.throws(() => enc(wirestring, '\udc00x'), /lone surrogate/);
});

/** BOLT 1 `tu64` as CLN's fromwire_tu64: up to 8 bytes, no leading zero, fills the value. */
const tu64: Codec<bigint> = {
  encode(w, v) {
    let hex = v === 0n ? '' : v.toString(16);
    if (hex.length % 2) hex = '0' + hex;
    w.bytes(fromHex(hex));
  },
  decode(r) {
    const b = r.bytes(r.remaining);
    if (b.length > 8 || (b.length > 0 && b[0] === 0)) r.fail('tu64 not minimal');
    return b.length === 0 ? 0n : BigInt('0x' + toHex(b));
  },
};

/** BOLT 1 Appendix B namespace n1 (tlv3's point validity is not checked by this codec). */
const n1 = tlvStream({
  tlv1: { type: 1, codec: tu64 },
  tlv2: { type: 2, codec: bytes(8) },
  tlv3: { type: 3, codec: struct({ node_id: pubkey, amount_msat_1: u64, amount_msat_2: u64 }) },
  tlv4: { type: 254, codec: u16 },
});

test('TLV decoding successes: empty and unknown odd types are kept and re-encoded (BOLT 1)', () => {
  assert.deepEqual(roundTrip(n1, ''), {});
  for (const [hex, type] of [
    ['2100', 0x21n], ['fd020100', 0x201n], ['fd00fd00', 0xfdn], ['fd00ff00', 0xffn],
    ['fe0200000100', 0x2000001n], ['ff020000000000000100', 0x200000000000001n],
  ] as const) {
    assert.deepEqual(roundTrip(n1, hex), { unknown: [{ type, value: new Uint8Array(0) }] }, hex);
  }
});

test('TLV decoding successes in n1 (BOLT 1)', () => {
  assert.deepEqual(roundTrip(n1, '0100'), { tlv1: 0n });
  assert.deepEqual(roundTrip(n1, '010101'), { tlv1: 1n });
  assert.deepEqual(roundTrip(n1, '01080100000000000000'), { tlv1: 72057594037927936n });
  assert.deepEqual(roundTrip(n1, '02080000000000000226'), { tlv2: fromHex('0000000000000226') });
  assert.deepEqual(
    roundTrip(n1, '0331023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb00000000000000010000000000000002'),
    { tlv3: { node_id: fromHex('023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb'), amount_msat_1: 1n, amount_msat_2: 2n } },
  );
  assert.deepEqual(roundTrip(n1, 'fd00fe020226'), { tlv4: 550 });
  // "Any appending of a higher-numbered valid stream to a lower-numbered valid stream".
  assert.deepEqual(roundTrip(n1, '010101' + '2100' + 'fd00fe020226'),
    { tlv1: 1n, tlv4: 550, unknown: [{ type: 0x21n, value: new Uint8Array(0) }] });
});

test('TLV decoding failures (BOLT 1 Appendix B)', () => {
  const failures = [
    'fd', 'fd01', 'fd000100', 'fd0101', '0ffd', '0ffd26', '0ffd2602', '0ffd000100',
    '0ffd0201' + '00'.repeat(256),
    '1200', 'fd010200', 'fe0100000200', 'ff010000000000000200',
    '0109ffffffffffffffffff', '010100', '01020001', '0108' + '0001000000000000',
    '020701010101010101', '0209010101010101010101',
    '0321023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb',
    '0332023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb0000000000000001000000000000000001',
    'fd00fe00', 'fd00fe0101', 'fd00fe03010101', '0000',
    // TLV Stream Decoding Failure: ordering and duplicates.
    '020800000000000002260101' + '2a', '02080000000000000231' + '02080000000000000451',
    '1f000f012a', '1f001f012a',
  ];
  for (const hex of failures) assert.throws(() => decodeHex(n1, hex), WireError, hex);
  // Appending an invalid stream to a valid one fails too.
  assert.throws(() => decodeHex(n1, '0100' + '1200'), WireError);
});

test('TLV errors say what is wrong', () => {
  assert.throws(() => decodeHex(n1, '1200'), /unknown even TLV type 18/);
  assert.throws(() => decodeHex(n1, '1f000f012a'), /not strictly increasing/);
  assert.throws(() => decodeHex(n1, 'fd00fe03010101'), /1 bytes left over in TLV type 254/);
});

test('TLV encoding: known types in order, unknown odd ones merged in order', () => {
  const v = { tlv4: 550, tlv1: 1n, unknown: [{ type: 5n, value: fromHex('aa') }, { type: 301n, value: fromHex('') }] };
  assert.equal(toHex(enc(n1, v)), '010101' + '0501aa' + 'fd00fe020226' + 'fd012d00');
  assert.throws(() => enc(n1, { unknown: [{ type: 4n, value: new Uint8Array(0) }] }), /must be odd/);
  assert.throws(() => enc(n1, { unknown: [{ type: 1n, value: new Uint8Array(0) }] }), WireError);
  assert.throws(() => enc(n1, { unknown: [{ type: 7n, value: new Uint8Array(0) }, { type: 5n, value: new Uint8Array(0) }] }), WireError);
});
