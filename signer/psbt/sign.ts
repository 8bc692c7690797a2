/**
 * libwally's wally_psbt_sign(psbt, key, EC_FLAG_GRIND_R) (src/psbt.c wally_psbt_sign_bip32 →
 * wally_psbt_sign_input_bip32), and CLN's psbt_input_add_pubkey (bitcoin/psbt.c), on our
 * record-preserving Psbt. Each returns an error string where libwally returns WALLY_EINVAL
 * (CLN then fails hard; we answer a bad request instead).
 */
import { concat, equal, u32leAt } from '../bytes.js';
import type { Curve } from '../crypto/curve.js';
import { hash160, sha256, signLowRLibwally, signSchnorrBip340 } from '../crypto/signatures.js';
import { compactToDer } from '../bolt3/der.js';
import { sighasher } from '../bolt3/sighash.js';
import { parseTxOut, readTx, serializeTxOut } from '../bolt3/tx.js';
import {
  PSBT_IN_BIP32_DERIVATION,
  PSBT_IN_NON_WITNESS_UTXO,
  PSBT_IN_PARTIAL_SIG,
  PSBT_IN_SIGHASH_TYPE,
  PSBT_IN_TAP_BIP32_DERIVATION,
  PSBT_IN_TAP_KEY_SIG,
  PSBT_IN_TAP_MERKLE_ROOT,
  PSBT_IN_WITNESS_SCRIPT,
  PSBT_IN_WITNESS_UTXO,
  addRecord,
  findRecord,
  record,
  recordsOf,
  setRecord,
  type Psbt,
  type PsbtRecord,
} from './psbt.js';
import { SIGHASH_DEFAULT, isTaprootSighash, taprootKeySpendSighash, tweakPrivateKey, type SpentOutput } from './taproot.js';

const PSBT_IN_REDEEM_SCRIPT = 0x04;

const isP2tr = (s: Uint8Array): boolean => s.length === 34 && s[0] === 0x51 && s[1] === 0x20;
const isP2wpkh = (s: Uint8Array): boolean => s.length === 22 && s[0] === 0x00 && s[1] === 0x14;
const isP2wsh = (s: Uint8Array): boolean => s.length === 34 && s[0] === 0x00 && s[1] === 0x20;

/** PSBT_IN_WITNESS_UTXO's output, if it is one. */
function decodeTxOut(bytes: Uint8Array): SpentOutput | undefined {
  try {
    return parseTxOut(bytes);
  } catch {
    return undefined;
  }
}

/** OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG: BIP 143's scriptCode for P2WPKH. */
const p2pkh = (keyHash: Uint8Array): Uint8Array => concat(Uint8Array.of(0x76, 0xa9, 0x14), keyHash, Uint8Array.of(0x88, 0xac));

/**
 * utxo_from_input: the witness utxo, else output `vout` of the non-witness utxo (v0: the
 * index comes from the global tx).
 */
export function spentOutput(psbt: Psbt, index: number): SpentOutput | undefined {
  const input = psbt.inputs[index]!;
  const witness = findRecord(input, Uint8Array.of(PSBT_IN_WITNESS_UTXO));
  if (witness) return decodeTxOut(witness.value);
  const full = findRecord(input, Uint8Array.of(PSBT_IN_NON_WITNESS_UTXO));
  if (!full) return undefined;
  try {
    const { tx } = readTx(full.value);
    const out = tx.outputs[psbt.tx.inputs[index]!.prevVout];
    return out && { amountSat: out.amountSat, scriptPubKey: out.scriptPubKey };
  } catch {
    return undefined;
  }
}

/** The txout bytes of PSBT_IN_WITNESS_UTXO. */
export const encodeTxOut = (amountSat: bigint, scriptPubKey: Uint8Array): Uint8Array => serializeTxOut({ amountSat, scriptPubKey });

/**
 * bitcoin/psbt.c psbt_input_add_pubkey: a BIP 32 derivation of fingerprint
 * hash160(pubkey)[0..4] and path [0]; for taproot the x-only key with no leaf hashes
 * (BIP 371 value: CompactSize 0 ‖ fingerprint ‖ path). An existing key is left alone.
 */
export function addInputPubkey(psbt: Psbt, index: number, pubkey: Uint8Array, taproot: boolean): void {
  const origin = concat(hash160(pubkey).subarray(0, 4), new Uint8Array(4));
  const input = psbt.inputs[index]!;
  if (taproot) addRecord(input, record(PSBT_IN_TAP_BIP32_DERIVATION, pubkey.subarray(1), concat(Uint8Array.of(0), origin)));
  else addRecord(input, record(PSBT_IN_BIP32_DERIVATION, pubkey, origin));
}

const hasKey = (map: readonly PsbtRecord[], type: number, keyData: Uint8Array): boolean =>
  findRecord(map, concat(Uint8Array.of(type), keyData)) !== undefined;

/** Which derivation (if any) names this key, following wally_psbt_get_input_bip32_key_from_alloc. */
function matchKey(input: readonly PsbtRecord[], pub: Uint8Array): { keyData: Uint8Array; taproot: boolean } | undefined {
  const xonly = pub.subarray(1);
  for (const keyData of [pub, xonly]) {
    if (!hasKey(input, PSBT_IN_BIP32_DERIVATION, keyData)) continue;
    // Already signed by this key: nothing to do.
    if (hasKey(input, PSBT_IN_PARTIAL_SIG, pub) || hasKey(input, PSBT_IN_PARTIAL_SIG, xonly)) return undefined;
    return { keyData, taproot: false };
  }
  if (recordsOf(input, PSBT_IN_TAP_KEY_SIG).length > 0) return undefined;
  return hasKey(input, PSBT_IN_TAP_BIP32_DERIVATION, xonly) ? { keyData: xonly, taproot: true } : undefined;
}

/** wally_psbt_sign: signs every input whose derivations name `priv`'s public key. */
export function signPsbtWithKey(curve: Curve, psbt: Psbt, priv: Uint8Array): string | undefined {
  const pub = curve.publicKey(priv);
  const hasher = sighasher(psbt.tx);
  for (let i = 0; i < psbt.inputs.length; i++) {
    const input = psbt.inputs[i]!;
    const match = matchKey(input, pub);
    if (!match) continue;
    const spent = spentOutput(psbt, i);
    if (!spent) return `input ${i} has no utxo to sign against`;
    const taproot = isP2tr(spent.scriptPubKey);
    if (taproot !== match.taproot) return `input ${i}: key type does not match its scriptPubKey`;
    // get_signing_script, for every input signed: a redeem script must be the P2SH of the utxo's script.
    const redeem = findRecord(input, Uint8Array.of(PSBT_IN_REDEEM_SCRIPT));
    if (redeem && !equal(concat(Uint8Array.of(0xa9, 0x14), hash160(redeem.value), Uint8Array.of(0x87)), spent.scriptPubKey))
      return `input ${i}: redeem script does not match`;
    const sighashRecord = findRecord(input, Uint8Array.of(PSBT_IN_SIGHASH_TYPE));
    const sighash = sighashRecord ? readLe32(sighashRecord.value) : taproot ? SIGHASH_DEFAULT : 0x01;
    if (sighash === undefined || sighash > 0xff) return `input ${i}: bad sighash type`;
    const error = taproot ? signTaproot(curve, psbt, i, priv, sighash) : signEcdsa(curve, psbt, i, spent, priv, match.keyData, sighash, hasher);
    if (error) return error;
  }
  return undefined;
}

function signEcdsa(
  curve: Curve,
  psbt: Psbt,
  i: number,
  spent: SpentOutput,
  priv: Uint8Array,
  keyData: Uint8Array,
  sighash: number,
  hasher: ReturnType<typeof sighasher>,
): string | undefined {
  const input = psbt.inputs[i]!;
  // wally_tx_get_input_signature_hash: a segwit v0 input takes ALL, NONE, SINGLE (and with ANYONECANPAY) only.
  if (sighash === SIGHASH_DEFAULT || !isTaprootSighash(sighash)) return `input ${i}: unsupported sighash ${sighash}`;
  // get_signing_script: the redeem script if any (signPsbtWithKey checked it is the P2SH of the utxo script).
  const script = findRecord(input, Uint8Array.of(PSBT_IN_REDEEM_SCRIPT))?.value ?? spent.scriptPubKey;
  // get_scriptcode: segwit v0 only (a legacy input would need the pre-segwit sighash).
  if (!findRecord(input, Uint8Array.of(PSBT_IN_WITNESS_UTXO))) return `input ${i}: legacy (non-segwit) inputs are not signed`;
  let scriptCode: Uint8Array;
  if (isP2wpkh(script)) scriptCode = p2pkh(script.subarray(2));
  else if (isP2wsh(script)) {
    const ws = findRecord(input, Uint8Array.of(PSBT_IN_WITNESS_SCRIPT));
    if (!ws || !equal(sha256(ws.value), script.subarray(2))) return `input ${i}: witness script missing or not matching`;
    scriptCode = ws.value;
  } else return `input ${i}: unknown scriptPubKey type`;
  const compact = signLowRLibwally(curve, hasher.sighash(i, scriptCode, spent.amountSat, sighash), priv);
  // wally_ec_sig_to_der, then the sighash byte; keyed by the derivation's pubkey.
  addRecord(input, record(PSBT_IN_PARTIAL_SIG, keyData, concat(compactToDer(compact), Uint8Array.of(sighash))));
  return undefined;
}

function signTaproot(curve: Curve, psbt: Psbt, i: number, priv: Uint8Array, sighash: number): string | undefined {
  const spent: SpentOutput[] = [];
  for (let k = 0; k < psbt.inputs.length; k++) {
    const s = spentOutput(psbt, k);
    if (!s) return `input ${k} has no utxo (taproot signing needs all of them)`;
    spent.push(s);
  }
  if (!isTaprootSighash(sighash)) return `input ${i}: unsupported taproot sighash ${sighash}`;
  if ((sighash & 0x03) === 0x03 && i >= psbt.tx.outputs.length) return `input ${i}: SIGHASH_SINGLE without its output`;
  const merkleRoot = findRecord(psbt.inputs[i]!, Uint8Array.of(PSBT_IN_TAP_MERKLE_ROOT))?.value;
  const key = tweakPrivateKey(curve, priv, merkleRoot);
  const sig = signSchnorrBip340(curve, taprootKeySpendSighash(psbt.tx, i, spent, sighash), key);
  // wally_psbt_sign_input_bip32: the sighash byte only when not SIGHASH_DEFAULT.
  const value = sighash === SIGHASH_DEFAULT ? sig : concat(sig, Uint8Array.of(sighash));
  setRecord(psbt.inputs[i]!, record(PSBT_IN_TAP_KEY_SIG, new Uint8Array(0), value));
  return undefined;
}

const readLe32 = (b: Uint8Array): number | undefined => (b.length === 4 ? u32leAt(b) : undefined);
