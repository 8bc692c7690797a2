/**
 * bitcoinjs-lib as an independent oracle for our transaction code (docs/decisions.md#our-own-transactions-and-psbt):
 * fast-check builds random transactions and both libraries must agree on their serialization,
 * parse, txid, and BIP 143 and BIP 341 signature hashes. BIP 341's own wallet vectors pin the
 * key-path sighash and tweak, and CLN's recorded PSBTs show why we write PSBTs ourselves.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { Psbt, Transaction } from 'bitcoinjs-lib';
import fc from 'fast-check';
import { assertProperty } from '../property-tests/settings.js';
import { witnessV0Sighash } from '../signer/bolt3/sighash.js';
import { parseTx, serializeTx, serializeTxNoWitness, txid, type Tx } from '../signer/bolt3/tx.js';
import { fromHex, toHex } from '../signer/bytes.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import { parsePsbt, serializePsbt } from '../signer/psbt/psbt.js';
import { taprootKeySpendSighash, tweakPrivateKey } from '../signer/psbt/taproot.js';
import { decodeMessage } from '../signer/wire/messages.js';
import { fixturePath, readJsonFixture } from './fixtures.js';
import { loadTranscript } from './transcript.js';

const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const input = fc.record({
  prevTxid: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  prevVout: u32,
  scriptSig: bytes(80),
  sequence: u32,
  witness: fc.array(bytes(80), { maxLength: 3 }),
});
const output = fc.record({ amountSat: fc.bigInt({ min: 0n, max: 2_100_000_000_000_000n }), scriptPubKey: bytes(60) });
const anyTx: fc.Arbitrary<Tx> = fc.record({
  version: u32,
  inputs: fc.array(input, { minLength: 1, maxLength: 4 }),
  outputs: fc.array(output, { maxLength: 4 }),
  locktime: u32,
});

/** The same transaction built through bitcoinjs-lib's own API. */
function theirs(tx: Tx): Transaction {
  const t = new Transaction();
  t.version = tx.version;
  t.locktime = tx.locktime;
  tx.inputs.forEach((i, k) => {
    t.addInput(i.prevTxid, i.prevVout, i.sequence, i.scriptSig);
    t.setWitness(k, i.witness);
  });
  for (const o of tx.outputs) t.addOutput(o.scriptPubKey, o.amountSat);
  return t;
}

test('serialize, parse and txid agree with bitcoinjs-lib on random transactions', () => {
  assertProperty(fc.property(anyTx, (tx) => {
    const ours = serializeTx(tx);
    assert.equal(toHex(ours), toHex(theirs(tx).toBuffer()));
    assert.equal(toHex(serializeTxNoWitness(tx)), toHex(theirs({ ...tx, inputs: tx.inputs.map((i) => ({ ...i, witness: [] })) }).toBuffer()));
    // Txids display reversed; bitcoinjs-lib's getId is the display form.
    assert.equal(toHex(txid(tx).slice().reverse()), theirs(tx).getId());
    const parsed = Transaction.fromBuffer(ours);
    assert.deepEqual(parseTx(ours), {
      version: parsed.version,
      locktime: parsed.locktime,
      inputs: parsed.ins.map((i) => ({ prevTxid: Uint8Array.from(i.hash), prevVout: i.index, scriptSig: Uint8Array.from(i.script), sequence: i.sequence, witness: i.witness.map((w) => Uint8Array.from(w)) })),
      outputs: parsed.outs.map((o) => ({ amountSat: o.value, scriptPubKey: Uint8Array.from(o.script) })),
    });
  }), 200);
});

test('BIP 143 sighashes agree with bitcoinjs-lib for every sighash type', () => {
  const types = fc.constantFrom(0x01, 0x02, 0x03, 0x81, 0x82, 0x83);
  assertProperty(fc.property(anyTx, fc.nat(), bytes(100), fc.bigInt({ min: 0n, max: 2_100_000_000_000_000n }), types, (tx, pick, scriptCode, amount, type) => {
    const index = pick % tx.inputs.length;
    assert.equal(toHex(witnessV0Sighash(tx, index, scriptCode, amount, type)), toHex(theirs(tx).hashForWitnessV0(index, scriptCode, amount, type)));
  }), 200);
});

test('BIP 341 key-path sighashes agree with bitcoinjs-lib for every hash type', () => {
  const spent = fc.record({ amountSat: fc.bigInt({ min: 0n, max: 2_100_000_000_000_000n }), scriptPubKey: bytes(40) });
  // bitcoinjs-lib refuses a transaction without outputs here.
  const withOutputs = anyTx.filter((tx) => tx.outputs.length > 0);
  assertProperty(fc.property(withOutputs.chain((tx) => fc.tuple(fc.constant(tx), fc.array(spent, { minLength: tx.inputs.length, maxLength: tx.inputs.length }))), fc.nat(), fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83), ([tx, spentOutputs], pick, type) => {
    let prevouts = spentOutputs;
    // SIGHASH_SINGLE signs the output at the input's index: pick an input that has one.
    const index = pick % ((type & 0x03) === 0x03 ? Math.min(tx.inputs.length, tx.outputs.length) : tx.inputs.length);
    // With ANYONECANPAY bitcoinjs-lib sizes the message for a P2TR script (34 bytes) in the signed input, as a key path spends.
    if (type & 0x80) prevouts = prevouts.map((p, k) => (k === index ? { ...p, scriptPubKey: Uint8Array.of(0x51, 0x20, ...p.scriptPubKey.slice(0, 32), ...new Uint8Array(32)).slice(0, 34) } : p));
    const expected = theirs(tx).hashForWitnessV1(index, prevouts.map((p) => p.scriptPubKey), prevouts.map((p) => p.amountSat), type);
    assert.equal(toHex(taprootKeySpendSighash(tx, index, prevouts, type)), toHex(expected));
  }), 200);
});

/** BIP 341's wallet test vectors (test/fixtures/vectors/bip341-wallet-test-vectors.json). */
interface KeyPathVectors {
  keyPathSpending: {
    given: { rawUnsignedTx: string; utxosSpent: { scriptPubKey: string; amountSats: number }[] };
    inputSpending: {
      given: { txinIndex: number; internalPrivkey: string; merkleRoot: string | null; hashType: number };
      intermediary: { internalPubkey: string; tweak: string; tweakedPrivkey: string; sigMsg: string; sigHash: string };
      expected: { witness: string[] };
    }[];
  }[];
}

test('BIP 341 key-path vectors: sighash and tweaked key of every input, every hash type', () => {
  const { keyPathSpending: [vectors] } = readJsonFixture('vectors/bip341-wallet-test-vectors.json') as KeyPathVectors;
  const tx = parseTx(fromHex(vectors!.given.rawUnsignedTx));
  const spent = vectors!.given.utxosSpent.map((u) => ({ amountSat: BigInt(u.amountSats), scriptPubKey: fromHex(u.scriptPubKey) }));
  let checked = 0;
  for (const v of vectors!.inputSpending) {
    const { txinIndex, internalPrivkey, merkleRoot, hashType } = v.given;
    const tweaked = tweakPrivateKey(nobleCurve, fromHex(internalPrivkey), merkleRoot === null ? undefined : fromHex(merkleRoot));
    assert.equal(toHex(tweaked), v.intermediary.tweakedPrivkey, `input ${txinIndex}: tweaked key`);
    const sighash = taprootKeySpendSighash(tx, txinIndex, spent, hashType);
    assert.equal(toHex(sighash), v.intermediary.sigHash, `input ${txinIndex}: sighash`);
    // The witness signature verifies under the output key against our sighash.
    const sig = fromHex(v.expected.witness[0]!).subarray(0, 64);
    assert.ok(nobleCurve.verifySchnorr(sig, sighash, spent[txinIndex]!.scriptPubKey.subarray(2)), `input ${txinIndex}: signature`);
    checked++;
  }
  assert.equal(checked, 7);
});

test('CLN PSBTs: ours round-trips every recorded one byte for byte; bitcoinjs-lib reorders CLN\'s proprietary records', () => {
  const psbts: Uint8Array[] = [];
  for (const session of ['session-basic-l1.jsonl', 'session-basic-l2.jsonl']) {
    for (const ex of loadTranscript(fixturePath(`transcripts/${session}`)).exchanges) {
      for (const hex of [ex.req, ex.rep]) {
        if (hex === null) continue;
        const message = decodeMessage(fromHex(hex)) as { psbt?: unknown };
        if (message.psbt instanceof Uint8Array) psbts.push(message.psbt);
      }
    }
  }
  assert.ok(psbts.length >= 4, `${psbts.length} recorded PSBTs`);
  let reordered = 0;
  for (const psbt of psbts) {
    assert.equal(toHex(serializePsbt(parsePsbt(psbt, nobleCurve))), toHex(psbt));
    if (toHex(Psbt.fromBuffer(psbt).toBuffer()) !== toHex(psbt)) reordered++;
  }
  assert.ok(reordered > 0, 'bitcoinjs-lib keeps the bytes of every recorded PSBT: docs/decisions.md needs a new reason');
});
