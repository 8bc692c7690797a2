/**
 * Transaction parsing/serialization: BOLT 3 Appendix B (non-witness funding and coinbase
 * transactions, txids), and every commitment/HTLC transaction of Appendices C and F.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readJsonFixture } from '../../test/fixtures.js';
import { concat, fromHex, toHex } from '../bytes.js';
import { fundingScript, p2wsh } from './scripts.js';
import { parseTx, readTx, reverseTxid, serializeTx, txid, txWeight } from './tx.js';
import { WireError } from '../wire/errors.js';

const vectors = readJsonFixture('vectors/bolt03-commitment-txs.json');
const b = vectors.appendix_b_funding_tx.values;

test('Appendix B: funding tx and coinbase parse, re-serialize and hash to the printed txids', () => {
  const coinbase = parseTx(fromHex(b.block_1_coinbase_transaction));
  assert.equal(toHex(serializeTx(coinbase)), b.block_1_coinbase_transaction);
  assert.equal(toHex(reverseTxid(txid(coinbase))), b.input_txid);

  const funding = parseTx(fromHex(b.funding_tx));
  assert.equal(toHex(serializeTx(funding)), b.funding_tx);
  assert.equal(funding.inputs.length, 1);
  assert.equal(toHex(reverseTxid(funding.inputs[0]!.prevTxid)), b.input_txid);
  assert.equal(funding.inputs[0]!.prevVout, b.input_index);
  assert.equal(funding.outputs[b.funding_output].amountSat, BigInt(b.funding_satoshis));
  assert.equal(funding.outputs[1 - b.funding_output]!.amountSat, BigInt(b.change_satoshis));
  const witnessScript = fundingScript(fromHex(b.local_funding_pubkey), fromHex(b.remote_funding_pubkey));
  assert.deepEqual(funding.outputs[b.funding_output]!.scriptPubKey, p2wsh(witnessScript));
  // Appendix B '#' lines: the funding witness script and the txid.
  const comments: string[] = vectors.appendix_b_funding_tx.spec_comment_lines.map((l: any) => l.text);
  assert.ok(comments.includes(`# funding witness script = ${toHex(witnessScript)}`));
  assert.ok(comments.includes(`# txid: ${toHex(reverseTxid(txid(funding)))}`));
  // A non-witness tx weighs 4 × its size.
  assert.equal(txWeight(funding), 4 * fromHex(b.funding_tx).length);
});

test('every Appendix C and F transaction round-trips byte for byte', () => {
  const hexes: string[] = [];
  for (const c of vectors.appendix_c_static_remotekey.test_cases) {
    hexes.push(c.commit_tx, ...c.htlc_txs.map((x: any) => x.tx));
  }
  for (const c of vectors.appendix_f_anchors.test_cases) {
    hexes.push(c.ExpectedCommitmentTxHex, ...c.HtlcDescs.map((x: any) => x.ResolutionTxHex));
  }
  const n = vectors.counts;
  assert.equal(hexes.length, n.appendix_c_test_cases + n.appendix_c_htlc_txs + n.appendix_f_test_cases + n.appendix_f_htlc_txs);
  for (const hex of hexes) assert.equal(toHex(serializeTx(parseTx(fromHex(hex)))), hex);
});

test('readTx reads one tx out of a longer buffer; parseTx rejects trailing and missing bytes', () => {
  const tx = fromHex(vectors.appendix_c_static_remotekey.test_cases[0].commit_tx);
  const wire = concat(new Uint8Array([9, 9]), tx, new Uint8Array([0xaa]));
  const { tx: read, end } = readTx(wire, 2);
  assert.equal(end, 2 + tx.length);
  assert.deepEqual(serializeTx(read), tx);
  assert.throws(() => parseTx(concat(tx, new Uint8Array([0]))), WireError);
  assert.throws(() => parseTx(tx.subarray(0, tx.length - 1)), WireError);
});

test('a witness-form tx whose witnesses are all empty is rejected (BIP 144 superfluous witness)', () => {
  const legacy = fromHex(b.funding_tx);
  const n = legacy.length;
  // version ‖ 00 01 ‖ body ‖ one empty witness stack ‖ locktime
  const superfluous = concat(legacy.subarray(0, 4), new Uint8Array([0, 1]), legacy.subarray(4, n - 4), new Uint8Array([0]), legacy.subarray(n - 4));
  assert.throws(() => parseTx(superfluous), /superfluous/);
});
