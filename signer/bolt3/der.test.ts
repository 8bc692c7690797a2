/**
 * DER ↔ compact signatures over every signature printed in BOLT 3 Appendix C, and BIP 66
 * strictness (padding that is not needed is rejected).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readJsonFixture } from '../../test/fixtures.js';
import { concat, fromHex, toHex } from '../bytes.js';
import { compactToDer, derToCompact, witnessSignature } from './der.js';

const set = readJsonFixture('vectors/bolt03-commitment-txs.json').appendix_c_static_remotekey;
const sigs: string[] = set.test_cases.flatMap((c: any) => [
  c.remote_signature, c.local_signature,
  ...c.htlc_txs.flatMap((x: any) => [x.remote_htlc_signature, x.local_htlc_signature]),
]);

test('DER round-trips through compact for every Appendix C signature', () => {
  assert.equal(sigs.length, 2 * (16 + 33));
  for (const s of sigs) {
    const compact = derToCompact(fromHex(s));
    assert.equal(compact.length, 64);
    assert.equal(toHex(compactToDer(compact)), s);
    assert.equal(toHex(witnessSignature(compact, 0x01)), s + '01');
  }
  // Both a 0x00-padded r (71-72 byte DER) and an unpadded one occur.
  assert.ok(sigs.some((s) => s.startsWith('3045022100')) && sigs.some((s) => s.startsWith('30440220')));
});

test('BIP 66: a needless 0x00 pad or trailing bytes are rejected', () => {
  const s = fromHex(sigs.find((x) => x.startsWith('30440220'))!);
  // Pad r with a 0x00 it does not need (r's top bit is clear).
  const padded = concat(new Uint8Array([0x30, s[1]! + 1, 0x02, 0x21, 0x00]), s.subarray(4));
  assert.throws(() => derToCompact(padded), /not minimal/);
  assert.throws(() => derToCompact(concat(s, new Uint8Array([0]))), RangeError);
});
