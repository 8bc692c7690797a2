/**
 * Field codecs (docs/hsmd-protocol.md#field-encodings): each round-trips encode → decode →
 * encode, with the edge cases CLN's towire_X/fromwire_X define (file cited per test).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex } from '../bytes.js';
import type { Codec } from './codec.js';
import { WireError } from './errors.js';
import {
  amountMsat, amountSat, basepoints, bip32KeyVersion, bip340sig, bitcoinSignature, bitcoinTxid,
  chainparams, channelType, ecdsaSignature, extKey, hsmHtlc, nodeId, privkey, pubkey,
  recoverableSignature, secret, secrets, sha256, side,
} from './fields.js';
import { bitcoinOutpoint, bitcoinTx, hsmUtxo, wallyPsbt, type HsmUtxo } from './tx-fields.js';
import { decodeHex, enc, roundTrip } from '../../test/codec-roundtrip.js';

const rep = (byte: string, n: number): string => byte.repeat(n);

/** secp256k1 group order n and n-1, the bounds of parse_compact. */
const N = 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141';
const N_MINUS_1 = 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140';

test('fixed-size keys, hashes and signatures have their sizes', () => {
  const sizes: [Codec<Uint8Array>, number][] = [
    [nodeId, 33], [pubkey, 33], [secret, 32], [privkey, 32], [sha256, 32], [bitcoinTxid, 32],
    [bip340sig, 64], [extKey, 78], [chainparams, 32],
  ];
  for (const [c, n] of sizes) {
    const hex = rep('5a', n);
    assert.deepEqual(roundTrip(c, hex), fromHex(hex));
    assert.throws(() => decodeHex(c, rep('5a', n - 1)), WireError);
    assert.throws(() => enc(c, new Uint8Array(n + 1)), WireError);
  }
  // docs/hsmd-protocol.md#init: regtest genesis hash as lightningd sends it.
  const regtest = '06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f';
  assert.equal(toHex(roundTrip(chainparams, regtest)), regtest);
});

test('secp256k1_ecdsa_signature: r and s must be below n (parse_compact)', () => {
  assert.deepEqual(roundTrip(ecdsaSignature, N_MINUS_1 + N_MINUS_1), fromHex(N_MINUS_1 + N_MINUS_1));
  assert.deepEqual(roundTrip(ecdsaSignature, rep('00', 64)), new Uint8Array(64));
  for (const bad of [N + rep('11', 32), rep('11', 32) + N, rep('ff', 64)]) {
    assert.throws(() => decodeHex(ecdsaSignature, bad), /below the group order/);
    assert.throws(() => enc(ecdsaSignature, fromHex(bad)), WireError);
  }
});

test('recoverable signature: 64 bytes then recovery id 0..3', () => {
  const sig = rep('11', 64);
  for (const id of [0, 1, 2, 3]) {
    assert.deepEqual(roundTrip(recoverableSignature, sig + '0' + id), { signature: fromHex(sig), recovery: id });
  }
  assert.throws(() => decodeHex(recoverableSignature, sig + '04'), /recovery id 4/);
  assert.throws(() => enc(recoverableSignature, { signature: fromHex(sig), recovery: 4 }), WireError);
  assert.throws(() => decodeHex(recoverableSignature, sig), WireError);
});

test('bitcoin_signature: 64 bytes then sighash, only ALL or SINGLE|ANYONECANPAY', () => {
  const sig = rep('22', 64);
  assert.deepEqual(roundTrip(bitcoinSignature, sig + '01'), { signature: fromHex(sig), sighash: 1 });
  assert.deepEqual(roundTrip(bitcoinSignature, sig + '83'), { signature: fromHex(sig), sighash: 0x83 });
  for (const t of ['00', '02', '03', '81', '82']) {
    assert.throws(() => decodeHex(bitcoinSignature, sig + t), /sighash/, t);
  }
  assert.throws(() => enc(bitcoinSignature, { signature: fromHex(sig), sighash: 2 }), WireError);
});

test('bip32_key_version: u32 pub then u32 priv (docs/hsmd-protocol.md#init regtest values)', () => {
  assert.deepEqual(roundTrip(bip32KeyVersion, '043587cf04358394'), { pub: 0x043587cf, priv: 0x04358394 });
});

test('basepoints and secrets: field order of towire_basepoints / towire_secrets', () => {
  const [a, b, c, d, e] = ['02' + rep('a1', 32), '03' + rep('b2', 32), '02' + rep('c3', 32), '03' + rep('d4', 32), rep('e5', 32)];
  assert.deepEqual(roundTrip(basepoints, a! + b + c + d), {
    revocation: fromHex(a!), payment: fromHex(b!), htlc: fromHex(c!), delayed_payment: fromHex(d!),
  });
  const s = [rep('01', 32), rep('02', 32), rep('03', 32), rep('04', 32), e!];
  assert.deepEqual(roundTrip(secrets, s.join('')), {
    funding_privkey: fromHex(s[0]!),
    revocation_basepoint_secret: fromHex(s[1]!),
    payment_basepoint_secret: fromHex(s[2]!),
    delayed_payment_basepoint_secret: fromHex(s[3]!),
    htlc_basepoint_secret: fromHex(s[4]!),
  });
});

test('amounts are u64; channel_type is u16 length + feature bytes', () => {
  assert.equal(roundTrip(amountSat, '000000012a05f200'), 5_000_000_000n);
  assert.equal(roundTrip(amountMsat, 'ffffffffffffffff'), 0xffffffffffffffffn);
  assert.deepEqual(roundTrip(channelType, '0000'), new Uint8Array(0));
  assert.deepEqual(roundTrip(channelType, '0003401000'), fromHex('401000'));
});

test('side and hsm_htlc: side is LOCAL 0 or REMOTE 1 (fromwire_side)', () => {
  assert.equal(roundTrip(side, '00'), 0);
  assert.equal(roundTrip(side, '01'), 1);
  assert.throws(() => decodeHex(side, '02'), /side must be 0 or 1/);
  assert.throws(() => enc(side, 2 as 0), WireError);
  const htlc = '01' + '00000000000003e8' + rep('ab', 32) + '00000190';
  assert.deepEqual(roundTrip(hsmHtlc, htlc), { side: 1, amount: 1000n, payment_hash: fromHex(rep('ab', 32)), cltv_expiry: 400 });
});

test('wally_psbt: u32 length + bytes; length 0 is the NULL psbt (fromwire_wally_psbt)', () => {
  assert.equal(roundTrip(wallyPsbt, '00000000'), undefined);
  assert.deepEqual(roundTrip(wallyPsbt, '0000000570736274ff'), fromHex('70736274ff'));
  assert.throws(() => enc(wallyPsbt, new Uint8Array(0)), /undefined for a NULL psbt/);
  assert.throws(() => decodeHex(wallyPsbt, '0000000670736274ff'), WireError);
});

test('bitcoin_tx: u32 length + tx, then wally_psbt, which must not be NULL (fromwire_bitcoin_tx)', () => {
  const tx = '02000000000000000000';
  const v = roundTrip(bitcoinTx, '0000000a' + tx + '00000002' + 'abcd');
  assert.deepEqual(v, { tx: fromHex(tx), psbt: fromHex('abcd') });
  assert.throws(() => decodeHex(bitcoinTx, '0000000a' + tx + '00000000'), /NULL \(zero-length\) psbt/);
  assert.throws(() => enc(bitcoinTx, { tx: fromHex(tx), psbt: undefined as unknown as Uint8Array }), WireError);
  assert.throws(() => decodeHex(bitcoinTx, '0000000b' + tx + '00000002' + 'abcd'), WireError);
});

test('bitcoin_outpoint: txid then u32 index', () => {
  assert.deepEqual(roundTrip(bitcoinOutpoint, rep('aa', 32) + '00000002'), { txid: fromHex(rep('aa', 32)), n: 2 });
});

test('hsm_utxo: a wallet input as recorded in sign_withdrawal (session-basic-l1)', () => {
  const hex = '333c10202dba58df7993e2d7226b50bfaf84034ad53183d2e97240fb38a42954' + '00000001' +
    '000000012a05f200' + '00000001' + '00' + '0016' + '00142e83319afa8b580f489940117ff63382d1d4bfd9' + '00' + '00';
  const expected: HsmUtxo = {
    outpoint: { txid: fromHex('333c10202dba58df7993e2d7226b50bfaf84034ad53183d2e97240fb38a42954'), n: 1 },
    amount: 5_000_000_000n,
    keyindex: 1,
    is_p2sh: false,
    scriptPubkey: fromHex('00142e83319afa8b580f489940117ff63382d1d4bfd9'),
    close_info: undefined,
    is_in_coinbase: false,
  };
  assert.deepEqual(roundTrip(hsmUtxo, hex), expected);
});

test('hsm_utxo: unilateral-close part, with and without commitment point (hsm_utxo.c)', () => {
  const head = rep('aa', 32) + '00000002' + '00000000000186a0' + '00000000' + '00' + '0022' + '0020' + rep('bb', 32);
  const peer = '02' + rep('cc', 32);
  const point = '03' + rep('dd', 32);
  const withPoint = head + '01' + '0000000000000007' + peer + '01' + point + '01' + '00000001' + '00';
  const v = roundTrip(hsmUtxo, withPoint);
  assert.deepEqual(v.close_info, {
    channel_id: 7n, peer_id: fromHex(peer), commitment_point: fromHex(point), option_anchors: true, csv: 1,
  });
  const staticRemotekey = head + '01' + '0000000000000007' + peer + '00' + '00' + '00000000' + '00';
  assert.deepEqual(roundTrip(hsmUtxo, staticRemotekey).close_info, {
    channel_id: 7n, peer_id: fromHex(peer), commitment_point: undefined, option_anchors: false, csv: 0,
  });
});

test('hsm_utxo: empty scriptPubkey (NULL) and the two legacy bools round-trip; bad bools fail', () => {
  const base = rep('aa', 32) + '00000000' + '0000000000000001' + '00000005';
  assert.deepEqual(roundTrip(hsmUtxo, base + '01' + '0000' + '00' + '01').scriptPubkey, new Uint8Array(0));
  const v = roundTrip(hsmUtxo, base + '01' + '0000' + '00' + '01');
  assert.equal(v.is_p2sh, true);
  assert.equal(v.is_in_coinbase, true);
  assert.throws(() => decodeHex(hsmUtxo, base + '02' + '0000' + '00' + '00'), /bool/);
  assert.throws(() => decodeHex(hsmUtxo, base + '00' + '0000' + '00' + '02'), /bool/);
  assert.throws(() => decodeHex(hsmUtxo, base + '00' + '0000' + '00'), WireError);
});
