/**
 * Transaction-carrying field types of hsmd's wire: `wally_psbt`, `bitcoin_tx`, `hsm_utxo`
 * (and `bitcoin_outpoint` inside it), laid out byte for byte as CLN v25.12.1 writes them.
 *
 * - `wally_psbt` (`bitcoin/psbt.c`): u32 length + PSBT bytes. A NULL psbt is written as
 *   length 0 and fromwire_wally_psbt reads length 0 back as NULL without failing: here
 *   `undefined`. lightningd re-serialises every PSBT as version 0 before sending.
 * - `bitcoin_tx` (`bitcoin/tx.c`): u32 length + the linearised tx (witness form if any
 *   input has a witness) + `wally_psbt`. fromwire_bitcoin_tx fails when the PSBT is NULL
 *   (length 0), so a decodable bitcoin_tx always carries one: `psbt` is not optional.
 * - `hsm_utxo` (`hsmd/hsm_utxo.c`): see HsmUtxo.
 *
 * Transaction and PSBT bytes are kept raw (never parsed here).
 */
import { bool, bytes16, optional, struct, u32, u64, type Codec } from './codec.js';
import { amountSat, bitcoinTxid, nodeId, pubkey } from './fields.js';
import type { AmountSat, BitcoinTxid, NodeId, Pubkey } from './fields.js';
import { WireError } from './errors.js';

/** Raw PSBT bytes, or undefined for CLN's NULL psbt (written as length 0). */
export type WallyPsbt = Uint8Array | undefined;

/** A transaction with its PSBT, both raw. */
export interface BitcoinTx {
  /** The serialized transaction, exactly the bytes lightningd sent. */
  tx: Uint8Array;
  /** The PSBT (version 0 on the wire); never NULL in a decodable bitcoin_tx. */
  psbt: Uint8Array;
}

/** `bitcoin/tx.c` towire_bitcoin_outpoint: txid then u32 output index. */
export interface BitcoinOutpoint {
  txid: BitcoinTxid;
  n: number;
}

/** `common/utxo.h` struct unilateral_close_info, as hsm_utxo.c writes it. */
export interface UnilateralCloseInfo {
  /** The channel's dbid. */
  channel_id: bigint;
  peer_id: NodeId;
  /** Absent for static_remotekey outputs (no tweak). */
  commitment_point: Pubkey | undefined;
  option_anchors: boolean;
  csv: number;
}

/**
 * `hsmd/hsm_utxo.c` towire_hsm_utxo, in wire order: outpoint, amount (sat), keyindex,
 * a legacy bool (was is_p2sh), scriptPubkey (u16 length; length 0 = NULL, not known),
 * close_info (presence bool + fields: it is a unilateral-close output), a legacy bool (was
 * is_in_coinbase). lightningd writes both legacy bools as false and hsmd ignores them, but
 * fromwire_bool still rejects values other than 0/1; they are kept so frames round-trip.
 */
export interface HsmUtxo {
  outpoint: BitcoinOutpoint;
  amount: AmountSat;
  keyindex: number;
  is_p2sh: boolean;
  scriptPubkey: Uint8Array;
  close_info: UnilateralCloseInfo | undefined;
  is_in_coinbase: boolean;
}

export const wallyPsbt: Codec<WallyPsbt> = {
  encode(w, v) {
    if (v === undefined) {
      w.u32(0);
      return;
    }
    if (!(v instanceof Uint8Array) || v.length === 0) {
      throw new WireError('psbt must be non-empty bytes, or undefined for a NULL psbt');
    }
    w.u32(v.length);
    w.bytes(v);
  },
  decode(r) {
    const len = r.u32();
    return len === 0 ? undefined : r.bytes(len);
  },
};

export const bitcoinTx: Codec<BitcoinTx> = {
  encode(w, v) {
    if (!(v.tx instanceof Uint8Array)) throw new WireError('bitcoin_tx.tx must be bytes');
    if (v.psbt === undefined) throw new WireError('bitcoin_tx needs a psbt (CLN cannot read a NULL one)');
    w.u32(v.tx.length);
    w.bytes(v.tx);
    wallyPsbt.encode(w, v.psbt);
  },
  decode(r) {
    const tx = r.bytes(r.u32());
    const at = r.offset;
    const psbt = wallyPsbt.decode(r);
    // bitcoin/tx.c fromwire_bitcoin_tx: "if (!tx->psbt) return fromwire_fail(...)".
    if (psbt === undefined) return r.fail('bitcoin_tx has a NULL (zero-length) psbt', at);
    return { tx, psbt };
  },
};

export const bitcoinOutpoint: Codec<BitcoinOutpoint> = struct({ txid: bitcoinTxid, n: u32 });

const closeInfo: Codec<UnilateralCloseInfo> = struct({
  channel_id: u64,
  peer_id: nodeId,
  commitment_point: optional(pubkey),
  option_anchors: bool,
  csv: u32,
});

export const hsmUtxo: Codec<HsmUtxo> = struct({
  outpoint: bitcoinOutpoint,
  amount: amountSat,
  keyindex: u32,
  is_p2sh: bool,
  scriptPubkey: bytes16,
  close_info: optional(closeInfo),
  is_in_coinbase: bool,
});
