/**
 * readHtlcScript (scripts.ts) against BOLT 3's own HTLC output scripts: every `wscript` of
 * Appendix C's output descriptions reads back as the kind the vector names (offered or
 * received), RIPEMD160 of its HTLC's payment hash (SHA256 of the vector's preimage, hashed with
 * @noble/hashes here) and, received, the HTLC's expiry; option_anchors scripts compiled with
 * bitcoinjs-lib from the BOLT 3 template read back with anchors. Anything else reads as none.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import * as bitcoin from 'bitcoinjs-lib';
import { readJsonFixture } from '../../test/fixtures.js';
import { fromHex, toHex } from '../bytes.js';
import { anchorScript, fundingScript, offeredHtlcScript, readHtlcScript, receivedHtlcScript, toLocalScript } from './scripts.js';

const vectors = readJsonFixture('vectors/bolt03-commitment-txs.json').appendix_c_static_remotekey;
const htlcs = new Map<number, any>(vectors.common_parameters.htlcs.map((h: any) => [h.htlc, h]));
const descriptions = vectors.test_cases.flatMap((c: any) => c.output_descriptions.filter((o: any) => o.kind === 'htlc'));

test('BOLT 3 Appendix C: every HTLC output script reads as its kind, payment hash and (received) expiry', () => {
  assert.ok(descriptions.length >= 30);
  const kinds = new Set<string>();
  for (const d of descriptions) {
    const htlc = htlcs.get(d.htlc)!;
    const terms = readHtlcScript(fromHex(d.wscript));
    assert.ok(terms, `htlc ${d.htlc}: ${d.wscript}`);
    assert.equal(terms.offered, d.direction === 'offered');
    assert.equal(d.direction === 'offered', htlc.direction === 'local->remote', 'offered by the commitment owner (local)');
    assert.equal(toHex(terms.paymentHash160), toHex(ripemd160(sha256(fromHex(htlc.payment_preimage)))));
    assert.equal(terms.cltvExpiry, terms.offered ? undefined : htlc.expiry);
    assert.equal(terms.anchors, false);
    kinds.add(d.direction);
  }
  assert.deepEqual([...kinds].sort(), ['offered', 'received']);
});

const keys = { revocationPubkey: fromHex(`02${'11'.repeat(32)}`), localHtlcPubkey: fromHex(`03${'22'.repeat(32)}`), remoteHtlcPubkey: fromHex(`02${'33'.repeat(32)}`) };
const paymentHash = sha256(Uint8Array.of(7));
const op = bitcoin.opcodes as unknown as Record<string, number>;
const b = (x: Uint8Array): Buffer => Buffer.from(x);

/** BOLT 3 "Offered HTLC Outputs" / "Received HTLC Outputs" with option_anchors, compiled by bitcoinjs-lib. */
function bitcoinjsHtlcScript(offered: boolean, cltv: number): Uint8Array {
  const head = [op.OP_DUP, op.OP_HASH160, b(bitcoin.crypto.hash160(b(keys.revocationPubkey))), op.OP_EQUAL, op.OP_IF, op.OP_CHECKSIG, op.OP_ELSE,
    b(keys.remoteHtlcPubkey), op.OP_SWAP, op.OP_SIZE, bitcoin.script.number.encode(32), op.OP_EQUAL];
  const hash = b(ripemd160(paymentHash));
  const body = offered
    ? [op.OP_NOTIF, op.OP_DROP, op.OP_2, op.OP_SWAP, b(keys.localHtlcPubkey), op.OP_2, op.OP_CHECKMULTISIG, op.OP_ELSE,
      op.OP_HASH160, hash, op.OP_EQUALVERIFY, op.OP_CHECKSIG, op.OP_ENDIF]
    : [op.OP_IF, op.OP_HASH160, hash, op.OP_EQUALVERIFY, op.OP_2, op.OP_SWAP, b(keys.localHtlcPubkey), op.OP_2, op.OP_CHECKMULTISIG,
      op.OP_ELSE, op.OP_DROP, bitcoin.script.number.encode(cltv), op.OP_CHECKLOCKTIMEVERIFY, op.OP_DROP, op.OP_CHECKSIG, op.OP_ENDIF];
  return new Uint8Array(bitcoin.script.compile([...head, ...body, op.OP_1!, op.OP_CHECKSEQUENCEVERIFY!, op.OP_DROP!, op.OP_ENDIF!] as (number | Buffer)[]));
}

test('option_anchors HTLC scripts (bitcoinjs-lib) read back with anchors; the builders give the same bytes', () => {
  for (const cltv of [1, 16, 17, 119, 500, 0x7fff_ffff, 0xffff_ffff]) {
    const offered = bitcoinjsHtlcScript(true, cltv);
    const received = bitcoinjsHtlcScript(false, cltv);
    assert.equal(toHex(offeredHtlcScript(keys, paymentHash, true)), toHex(offered));
    assert.equal(toHex(receivedHtlcScript(keys, paymentHash, cltv, true)), toHex(received), `cltv ${cltv}`);
    const hash160 = toHex(ripemd160(paymentHash));
    assert.deepEqual({ ...readHtlcScript(offered)!, paymentHash160: toHex(readHtlcScript(offered)!.paymentHash160) },
      { offered: true, anchors: true, paymentHash160: hash160, cltvExpiry: undefined });
    assert.deepEqual({ ...readHtlcScript(received)!, paymentHash160: toHex(readHtlcScript(received)!.paymentHash160) },
      { offered: false, anchors: true, paymentHash160: hash160, cltvExpiry: cltv });
  }
});

test('no other script reads as an HTLC script', () => {
  const received = receivedHtlcScript(keys, paymentHash, 500, false);
  const at = (needle: string): number => toHex(received).indexOf(needle) / 2;
  const edited = (from: number, bytes: number[], cut = bytes.length): Uint8Array =>
    Uint8Array.from([...received.subarray(0, from), ...bytes, ...received.subarray(from + cut)]);
  const others: [string, Uint8Array][] = [
    ['to_local', toLocalScript(keys.revocationPubkey, 144, keys.localHtlcPubkey)],
    ['funding', fundingScript(keys.localHtlcPubkey, keys.remoteHtlcPubkey)],
    ['anchor', anchorScript(keys.localHtlcPubkey)],
    ['empty', new Uint8Array()],
    ['cut short', received.subarray(0, received.length - 1)],
    ['one byte more', Uint8Array.from([...received, 0x68])],
    ['a push running past the end', Uint8Array.from([...received.subarray(0, received.length - 1), 0x05])],
    // 500 pushed as 3 bytes (f4 01 00): the same number, not as add_number pushes it.
    ['a non-minimal expiry', edited(at('02f401b1'), [0x03, 0xf4, 0x01, 0x00], 3)],
    ['an expiry above 2^32 - 1', edited(at('02f401b1'), [0x05, 0x00, 0x00, 0x00, 0x00, 0x01], 3)],
    ['OP_PUSHDATA1 for the expiry', edited(at('02f401b1'), [0x4c, 0x02, 0xf4, 0x01], 3)],
    ['a 32-byte key', edited(at(toHex(keys.remoteHtlcPubkey)) - 1, [0x20, ...keys.remoteHtlcPubkey.subarray(1)], 34)],
    ['OP_CHECKSEQUENCEVERIFY for OP_CHECKLOCKTIMEVERIFY', edited(at('02f401b1') + 3, [0xb2], 1)],
  ];
  for (const [what, script] of others) assert.equal(readHtlcScript(script), undefined, what);
  assert.ok(readHtlcScript(received), 'the unedited script reads');
});
