/**
 * Forgeries derived from recorded requests (test/fixtures/transcripts): a recorded
 * bitcoin_tx with one field changed, in both the transaction and the PSBT's unsigned copy, so
 * that only the change differs from what CLN sent.
 */
import { parseTx, serializeTx, serializeTxNoWitness, type Tx } from '../signer/bolt3/tx.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import { parsePsbt, serializePsbt } from '../signer/psbt/psbt.js';
import type { BitcoinTx } from '../signer/wire/tx-fields.js';

/** The same bitcoin_tx with `edit` applied to both the tx and the PSBT's unsigned tx. */
export function editedTx(bt: BitcoinTx, edit: (tx: Tx) => void): BitcoinTx {
  const tx = parseTx(bt.tx);
  edit(tx);
  const psbt = parsePsbt(bt.psbt, nobleCurve);
  edit(psbt.tx);
  // An output added by `edit` gets an empty PSBT output map (one map per output).
  while (psbt.outputs.length < psbt.tx.outputs.length) psbt.outputs.push([]);
  const at = psbt.global.findIndex((r) => r.key.length === 1 && r.key[0] === 0x00);
  psbt.global[at] = { key: psbt.global[at]!.key, value: serializeTxNoWitness(psbt.tx) };
  return { tx: serializeTx(tx), psbt: serializePsbt(psbt) };
}
