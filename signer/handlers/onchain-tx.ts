/**
 * Shared steps of the handlers that sign one input of a `bitcoin_tx` (sweeps, HTLC txs,
 * mutual close, splice): parse the transaction and its PSBT, and bitcoin/signature.c
 * sign_tx_input (BIP 143 over the wire tx, the input amount from the PSBT, CLN's low-R
 * sign_hash).
 */
import { equal } from '../bytes.js';
import type { Curve } from '../crypto/curve.js';
import { signLowR } from '../crypto/signatures.js';
import { witnessV0Sighash } from '../bolt3/sighash.js';
import { serializeTxNoWitness, type Tx } from '../bolt3/tx.js';
import { parseWallyTx } from '../psbt/libwally-rules.js';
import { asVersion2Psbt, parsePsbt, PsbtError, type Psbt } from '../psbt/psbt.js';
import { spentOutput } from '../psbt/sign.js';
import type { SpentOutput } from '../psbt/taproot.js';
import { encodeMessage } from '../wire/messages.js';
import { WireError } from '../wire/errors.js';
import type { BitcoinTx } from '../wire/tx-fields.js';

/** A decoded bitcoin_tx: the transaction as sent and its PSBT. */
export interface ParsedBitcoinTx {
  readonly tx: Tx;
  readonly psbt: Psbt;
}

/** Parses a PSBT; a string describes why it is malformed. */
export function readPsbt(bytes: Uint8Array | undefined, curve: Curve): Psbt | string {
  if (bytes === undefined) return 'NULL psbt';
  try {
    return parsePsbt(bytes, curve);
  } catch (e) {
    if (e instanceof PsbtError) return `malformed PSBT: ${e.message}`;
    throw e;
  }
}

/**
 * fromwire_bitcoin_tx: the tx and its PSBT. We also require the PSBT's unsigned tx to be
 * the same transaction, since the policies read outputs and amounts from the PSBT (the PSBT's
 * version raised to 2 as CLN reads it, so the transaction's is compared the same way).
 */
export function readBitcoinTx(wire: BitcoinTx, curve: Curve): ParsedBitcoinTx | string {
  let tx: Tx;
  try {
    tx = parseWallyTx(wire.tx);
  } catch (e) {
    if (e instanceof WireError) return `malformed transaction: ${e.message}`;
    throw e;
  }
  const psbt = readPsbt(wire.psbt, curve);
  if (typeof psbt === 'string') return psbt;
  if (!equal(serializeTxNoWitness(psbt.tx), serializeTxNoWitness(asVersion2Psbt(tx)))) return 'PSBT does not describe the transaction';
  return { tx, psbt };
}

/** Every input's spent output from the PSBT, or a description of the first one missing. */
export function allSpent(psbt: Psbt): SpentOutput[] | string {
  const spent: SpentOutput[] = [];
  for (let k = 0; k < psbt.inputs.length; k++) {
    const s = spentOutput(psbt, k);
    if (!s) return `input ${k} has no amount in the PSBT`;
    spent.push(s);
  }
  return spent;
}

/**
 * sign_tx_input(tx, in, NULL, wscript, privkey, …, sighash) then towire_hsmd_sign_tx_reply:
 * bitcoin_tx_hash_for_sig takes the amount from psbt_input_get_amount(tx->psbt, in).
 */
export function signInputReply(
  curve: Curve,
  parsed: ParsedBitcoinTx,
  input: number,
  wscript: Uint8Array,
  priv: Uint8Array,
  sighash: number,
): Uint8Array | string {
  if (input >= parsed.tx.inputs.length) return `bad input ${input} of ${parsed.tx.inputs.length}`;
  const spent = spentOutput(parsed.psbt, input);
  if (!spent) return `input ${input} has no amount in the PSBT`;
  const hash = witnessV0Sighash(parsed.tx, input, wscript, spent.amountSat, sighash);
  const signature = signLowR(curve, hash, priv);
  return encodeMessage('hsmd_sign_tx_reply', { sig: { signature, sighash } });
}

/** Largest witness of one input: item count, `items` pushes of at most these sizes. */
export const witnessUpperBound = (itemSizes: readonly number[]): number =>
  1 + itemSizes.reduce((a, n) => a + (n < 0xfd ? 1 : 3) + n, 0);
