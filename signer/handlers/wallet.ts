/**
 * Wallet inputs of a PSBT: libhsmd.c sign_our_inputs and hsm_key_for_utxo, shared by
 * sign_withdrawal (7), sign_anchorspend (147) and sign_htlc_tx_mingle (149), plus the
 * wallet-ownership test the on-chain policies use for outputs.
 */
import { equal } from '../bytes.js';
import type { Curve } from '../crypto/curve.js';
import { hash160 } from '../crypto/signatures.js';
import { derivePrivateKey } from '../keys/bolt3-keys.js';
import type { KeyRing } from '../keys/node-keys.js';
import { p2wsh } from '../bolt3/scripts.js';
import type { HsmUtxo } from '../wire/tx-fields.js';
import {
  PSBT_IN_WITNESS_SCRIPT,
  PSBT_IN_WITNESS_UTXO,
  PSBT_OUT_BIP32_DERIVATION,
  PSBT_OUT_TAP_BIP32_DERIVATION,
  keyType,
  record,
  setRecord,
  type Psbt,
} from '../psbt/psbt.js';
import { addInputPubkey, encodeTxOut, signPsbtWithKey } from '../psbt/sign.js';
import { p2trScript, taprootOutputKey } from '../psbt/taproot.js';

const isP2tr = (s: Uint8Array): boolean => s.length === 34 && s[0] === 0x51 && s[1] === 0x20;
const HARDENED = 0x8000_0000;

/**
 * hsm_key_for_utxo: a unilateral-close output uses the channel's payment basepoint secret
 * (tweaked by the commitment point unless static_remotekey: hsm_unilateral_close_privkey);
 * otherwise BIP 86 base/0/keyindex for a mnemonic secret, else BIP 32 m/0/0/keyindex.
 */
export function keyForUtxo(keys: KeyRing, curve: Curve, utxo: HsmUtxo): Uint8Array {
  const close = utxo.close_info;
  if (close) {
    const ch = keys.channel(close.peer_id, close.channel_id);
    return close.commitment_point
      ? derivePrivateKey(curve, ch.secrets.payment, ch.basepoints.payment, close.commitment_point)
      : ch.secrets.payment;
  }
  return keys.hasBip86 ? keys.bip86PrivateKey(utxo.keyindex) : keys.walletPrivateKey(utxo.keyindex);
}

/** libhsmd.c sign_our_inputs: for each utxo, every PSBT input spending it. Error or undefined. */
export function signOurInputs(keys: KeyRing, curve: Curve, utxos: readonly HsmUtxo[], psbt: Psbt): string | undefined {
  for (const utxo of utxos) {
    for (let j = 0; j < psbt.inputs.length; j++) {
      const input = psbt.tx.inputs[j]!;
      // wally_psbt_input_spends
      if (!equal(input.prevTxid, utxo.outpoint.txid) || input.prevVout !== utxo.outpoint.n) continue;
      // bitcoin_key / bip86_key fail on a hardened index only when hsm_key_for_utxo runs,
      // i.e. for a utxo some input spends (a utxo no input spends is never looked at).
      if (!utxo.close_info && utxo.keyindex >= HARDENED) return `Index ${utxo.keyindex} too great`;
      const priv = keyForUtxo(keys, curve, utxo);
      const pub = curve.publicKey(priv);
      addInputPubkey(psbt, j, pub, isP2tr(utxo.scriptPubkey));
      // "It's actually a P2WSH in this case": to_remote with anchors, csv-locked.
      if (utxo.close_info?.option_anchors) {
        const wscript = toRemoteAnchoredScript(pub, utxo.close_info.csv);
        setRecord(psbt.inputs[j]!, record(PSBT_IN_WITNESS_SCRIPT, new Uint8Array(0), wscript));
        setRecord(psbt.inputs[j]!, record(PSBT_IN_WITNESS_UTXO, new Uint8Array(0), encodeTxOut(utxo.amount, p2wsh(wscript))));
      }
      const error = signPsbtWithKey(curve, psbt, priv);
      if (error) return `Received wally_err attempting to sign input ${j}: ${error}`;
    }
  }
  return undefined;
}

/**
 * bitcoin/script.c bitcoin_wscript_to_remote_anchored:
 * `<remote_key> OP_CHECKSIGVERIFY <csv> OP_CHECKSEQUENCEVERIFY`, csv pushed as add_number does.
 */
function toRemoteAnchoredScript(pub: Uint8Array, csv: number): Uint8Array {
  let number: number[];
  if (csv === 0) number = [0x00];
  else if (csv <= 16) number = [0x50 + csv];
  else {
    const le: number[] = [];
    for (let v = csv; v > 0; v = Math.floor(v / 256)) le.push(v & 0xff);
    if (le[le.length - 1]! & 0x80) le.push(0); // script numbers are signed
    number = [le.length, ...le];
  }
  return Uint8Array.of(33, ...pub, 0xad, ...number, 0xb2);
}

const isP2wpkh = (s: Uint8Array): boolean => s.length === 22 && s[0] === 0x00 && s[1] === 0x14;

/**
 * True if `script` is one of the wallet scripts of key `index`: the P2WPKH or BIP 86 P2TR of
 * m/0/0/index (and of the BIP 86 key). Only the script's own kind is computed: a P2TR
 * output key costs a curve tweak, which a P2WPKH output never needs.
 */
function isWalletScriptAt(keys: KeyRing, curve: Curve, index: number, script: Uint8Array): boolean {
  const wpkh = isP2wpkh(script);
  if (!wpkh && !isP2tr(script)) return false;
  const pubs = keys.hasBip86 ? [keys.walletPublicKey(index), keys.bip86PublicKey(index)] : [keys.walletPublicKey(index)];
  return pubs.some((pub) => equal(script, wpkh ? Uint8Array.of(0x00, 0x14, ...hash160(pub)) : p2trScript(taprootOutputKey(curve, pub))));
}

/**
 * True if output `index` of the PSBT pays our wallet: lightningd marks its change and sweep
 * outputs with a BIP 32 (0x02) or taproot BIP 32 (0x07) derivation whose last path element
 * is the wallet key index (wallet/reservation.c, onchaind); we re-derive that key and
 * require the output script to be exactly its P2WPKH or BIP 86 P2TR script.
 */
export function paysToWallet(keys: KeyRing, curve: Curve, psbt: Psbt, index: number): boolean {
  const script = psbt.tx.outputs[index]!.scriptPubKey;
  for (const r of psbt.outputs[index]!) {
    const type = keyType(r);
    if (type !== PSBT_OUT_BIP32_DERIVATION && type !== PSBT_OUT_TAP_BIP32_DERIVATION) continue;
    // Value: [CompactSize leaf-hash count (taproot, 0 for key path)] ‖ fingerprint ‖ u32le path*.
    const origin = type === PSBT_OUT_TAP_BIP32_DERIVATION ? r.value.subarray(1) : r.value;
    if (type === PSBT_OUT_TAP_BIP32_DERIVATION && r.value[0] !== 0) continue;
    if (origin.length < 8 || origin.length % 4 !== 0) continue;
    const last = new DataView(origin.buffer, origin.byteOffset + origin.length - 4).getUint32(0, true);
    if (last >= HARDENED) continue;
    if (isWalletScriptAt(keys, curve, last, script)) return true;
  }
  return false;
}

/** True if `script` is the P2WPKH or P2TR of wallet key `index` (setup_channel's shutdown index). */
export function isWalletScript(keys: KeyRing, curve: Curve, index: number, script: Uint8Array): boolean {
  return index < HARDENED && isWalletScriptAt(keys, curve, index, script);
}
