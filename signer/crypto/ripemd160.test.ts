import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import test from 'node:test';
import { ripemd160 as nobleRipemd160 } from '@noble/hashes/legacy.js';
import { toHex, utf8 } from '../bytes.js';
import { ripemd160 } from './ripemd160.js';

test('RIPEMD-160: the published vectors', () => {
  assert.equal(toHex(ripemd160(new Uint8Array(0))), '9c1185a5c5e9fc54612808977ee8f548b2258d31');
  assert.equal(toHex(ripemd160(utf8('abc'))), '8eb208f7e05d987a9b044a8e98c6b087f15a0bfc');
  assert.equal(toHex(ripemd160(utf8('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))), '12a053384a9c0c88e405a06c27dcf49ada62eb2b');
  assert.equal(toHex(ripemd160(utf8('a'.repeat(1_000_000)))), '52783243c1697bdbe16d37f97f68f08325dc1528');
});

test('RIPEMD-160: equal to noble\'s for every length across the block boundaries', () => {
  for (let n = 0; n < 300; n++) {
    const data = randomBytes(n);
    assert.equal(toHex(ripemd160(data)), toHex(nobleRipemd160(data)), `length ${n}`);
  }
});
