/**
 * The hash types wally_psbt_sign signs a segwit v0 input with (docs/hsmd-protocol.md "Signing"):
 * ALL, NONE, SINGLE and each with ANYONECANPAY; any other type in the PSBT (0x04, 0x84, 0x41) is
 * refused, as libwally refuses to sign it (CLN's hsmd then stops; the differential lane checks it).
 * A P2WPKH spend built with bitcoinjs-lib; each signature checked with bitcoinjs-lib's own BIP 143
 * hash. A redeem script that is not the P2SH of the spent script stops libwally before any
 * input type (get_signing_script): on a P2WPKH input and on a P2TR one (the differential lane
 * saw CLN stop on it, docs/hsmd-protocol.md#the-differential-lane).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { Psbt, Transaction, payments } from 'bitcoinjs-lib';
import { derToCompact } from '../bolt3/der.js';
import { nobleCurve } from '../crypto/noble.js';
import { parsePsbt } from './psbt.js';
import { signPsbtWithKey } from './sign.js';

const PRIV = new Uint8Array(32).fill(7);
const PUB = nobleCurve.publicKey(PRIV);

function spend(sighashType: number, redeemScript?: Buffer): Psbt {
  const script = payments.p2wpkh({ pubkey: Buffer.from(PUB) }).output!;
  const psbt = new Psbt();
  psbt.addInput({
    hash: Buffer.alloc(32, 1),
    index: 0,
    witnessUtxo: { script, value: 50_000n },
    bip32Derivation: [{ masterFingerprint: Buffer.alloc(4), path: 'm/0', pubkey: Buffer.from(PUB) }],
    sighashType,
    ...(redeemScript ? { redeemScript } : {}),
  });
  psbt.addOutput({ script, value: 40_000n });
  return psbt;
}

test('a segwit v0 input is signed with each hash type libwally takes, and refused with any other', () => {
  for (const type of [0x01, 0x02, 0x03, 0x81, 0x82, 0x83]) {
    const psbt = parsePsbt(spend(type).toBuffer(), nobleCurve);
    assert.equal(signPsbtWithKey(nobleCurve, psbt, PRIV), undefined, `type ${type}`);
    const sig = psbt.inputs[0]!.find((r) => r.key[0] === 0x02)!.value;
    assert.equal(sig.at(-1), type);
    const tx = Transaction.fromBuffer(Buffer.from(spend(type).data.globalMap.unsignedTx.toBuffer()));
    const hash = tx.hashForWitnessV0(0, payments.p2pkh({ pubkey: Buffer.from(PUB) }).output!, 50_000n, type);
    const der = sig.subarray(0, -1);
    assert.ok(nobleCurve.verify(derToCompact(der), hash, PUB), `type ${type}: the signature verifies`);
  }
  for (const type of [0x04, 0x84, 0x41]) {
    const psbt = parsePsbt(spend(type).toBuffer(), nobleCurve);
    assert.match(signPsbtWithKey(nobleCurve, psbt, PRIV) ?? '', /input 0: unsupported sighash/, `type ${type}`);
    assert.ok(!psbt.inputs[0]!.some((r) => r.key[0] === 0x02), 'nothing signed');
  }
});

test('a redeem script that is not the P2SH of the spent script: nothing is signed, on a segwit v0 input as on a taproot one', () => {
  const redeem = Buffer.from('fe515abc063d6541', 'hex');
  const v0 = parsePsbt(spend(0x01, redeem).toBuffer(), nobleCurve);
  assert.match(signPsbtWithKey(nobleCurve, v0, PRIV) ?? '', /input 0: redeem script does not match/);
  assert.ok(!v0.inputs[0]!.some((r) => r.key[0] === 0x02), 'nothing signed');
  const xonly = Buffer.from(PUB.subarray(1));
  const taproot = new Psbt();
  taproot.addInput({
    hash: Buffer.alloc(32, 1),
    index: 0,
    witnessUtxo: { script: Buffer.concat([Buffer.from('5120', 'hex'), Buffer.alloc(32, 9)]), value: 50_000n },
    tapBip32Derivation: [{ masterFingerprint: Buffer.alloc(4), path: 'm/0', pubkey: xonly, leafHashes: [] }],
  });
  // bitcoinjs-lib does not mix taproot and P2SH fields: the redeem script goes in as a raw record.
  taproot.data.inputs[0]!.unknownKeyVals = [{ key: Buffer.from('04', 'hex'), value: redeem }];
  taproot.addOutput({ script: Buffer.from('0014' + '11'.repeat(20), 'hex'), value: 40_000n });
  const parsed = parsePsbt(taproot.toBuffer(), nobleCurve);
  assert.match(signPsbtWithKey(nobleCurve, parsed, PRIV) ?? '', /input 0: redeem script does not match/);
  assert.ok(!parsed.inputs[0]!.some((r) => r.key[0] === 0x13), 'no taproot key signature');
});
