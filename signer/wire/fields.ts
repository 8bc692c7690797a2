/**
 * The field types of hsmd's wire messages (docs/hsmd-protocol.md#field-encodings), one typed
 * Codec each, laid out exactly as CLN v25.12.1's towire_X / fromwire_X (file named per codec).
 *
 * Values stay raw: keys, signatures, transactions and PSBTs are bytes here; parsing them is
 * the job of the modules that use them. What CLN's fromwire checks cheaply is checked here
 * too (bools, sighash types, recovery ids, signature scalars below the group order, `side`).
 * What needs real parsing is not: that a pubkey is a curve point (pubkey_from_der), an
 * ext_key a valid BIP32 key (bip32_key_unserialize), a tx or PSBT well formed (libwally).
 * Whoever parses those must treat a failure as CLN treats a failed fromwire: a bad request.
 * Where each pubkey starts is noted as it is decoded (WireReader.pointsAt), and decide parses
 * every one with the signer's curve before any handler runs, as fromwire_pubkey does.
 * Transaction fields are in tx-fields.ts.
 */
import { bytes, bytes16, struct, u8, u32, u64, type Codec } from './codec.js';
import type { WireReader } from './reader.js';
import type { WireWriter } from './writer.js';
import { WireError } from './errors.js';

/** 33-byte compressed public key of a node (`common/node_id.c`). */
export type NodeId = Uint8Array;
/** 33-byte compressed secp256k1 point (`bitcoin/pubkey.c`). */
export type Pubkey = Uint8Array;
/** 32 bytes (`bitcoin/privkey.c` towire_secret). */
export type Secret = Uint8Array;
/** 32-byte secp256k1 scalar (`bitcoin/privkey.c` towire_privkey). */
export type Privkey = Uint8Array;
/** 32-byte SHA-256 digest. */
export type Sha256 = Uint8Array;
/** 32-byte txid in internal byte order (`bitcoin/tx.c` towire_bitcoin_txid). */
export type BitcoinTxid = Uint8Array;
/** 64-byte compact r‖s (`wire/towire.c` towire_secp256k1_ecdsa_signature). */
export type EcdsaSignature = Uint8Array;
/** 64-byte BIP 340 signature (`bitcoin/signature.c` towire_bip340sig). */
export type Bip340Sig = Uint8Array;
/** 78-byte BIP 32 serialization, public (`common/bip32.c` towire_ext_key). */
export type ExtKey = Uint8Array;
/** The chain's 32-byte genesis block hash, internal order (`bitcoin/block.c`). */
export type Chainparams = Uint8Array;
/** Feature bits of a channel type (`wire/channel_type_wire.csv`: len u16, features). */
export type ChannelType = Uint8Array;
export type AmountSat = bigint;
export type AmountMsat = bigint;
/** `enum side` (`common/htlc.h`): LOCAL = 0, REMOTE = 1. */
export type Side = 0 | 1;

/** 64 compact bytes and a recovery id 0..3 (towire_secp256k1_ecdsa_recoverable_signature). */
export interface RecoverableSignature {
  signature: Uint8Array;
  recovery: number;
}

/** 64 compact bytes and a sighash type (`bitcoin/signature.c` towire_bitcoin_signature). */
export interface BitcoinSignature {
  signature: Uint8Array;
  sighash: number;
}

/** BIP 32 version bytes of the network (`common/bip32.c` towire_bip32_key_version). */
export interface Bip32KeyVersion {
  pub: number;
  priv: number;
}

/** A channel's four basepoints (`common/derive_basepoints.c` towire_basepoints order). */
export interface Basepoints {
  revocation: Pubkey;
  payment: Pubkey;
  htlc: Pubkey;
  delayed_payment: Pubkey;
}

/** A channel's base secrets (`common/derive_basepoints.c` towire_secrets order). */
export interface Secrets {
  funding_privkey: Privkey;
  revocation_basepoint_secret: Secret;
  payment_basepoint_secret: Secret;
  delayed_payment_basepoint_secret: Secret;
  htlc_basepoint_secret: Secret;
}

/** hsmd_wire.csv subtype `hsm_htlc`. */
export interface HsmHtlc {
  side: Side;
  amount: AmountMsat;
  payment_hash: Sha256;
  cltv_expiry: number;
}

export const nodeId: Codec<NodeId> = bytes(33);
export const pubkey: Codec<Pubkey> = {
  encode: bytes(33).encode,
  decode(r) {
    r.pointsAt?.push(r.offset);
    return r.bytes(33);
  },
};
export const secret: Codec<Secret> = bytes(32);
export const privkey: Codec<Privkey> = bytes(32);
export const sha256: Codec<Sha256> = bytes(32);
export const bitcoinTxid: Codec<BitcoinTxid> = bytes(32);
export const bip340sig: Codec<Bip340Sig> = bytes(64);
export const extKey: Codec<ExtKey> = bytes(78);
export const chainparams: Codec<Chainparams> = bytes(32);
export const amountSat: Codec<AmountSat> = u64;
export const amountMsat: Codec<AmountMsat> = u64;
export const channelType: Codec<ChannelType> = bytes16;

/** secp256k1's group order n, big-endian. */
const ORDER = new Uint8Array([
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
  0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
]);

/** True if the 32 big-endian bytes at sig[off] are below n. */
function belowOrder(sig: Uint8Array, off: number): boolean {
  for (let i = 0; i < 32; i++) {
    const d = sig[off + i]! - ORDER[i]!;
    if (d !== 0) return d < 0;
  }
  return false;
}

/** secp256k1_ecdsa_signature_parse_compact fails unless r < n and s < n. */
const validCompact = (sig: Uint8Array): boolean => belowOrder(sig, 0) && belowOrder(sig, 32);

function writeCompact(w: WireWriter, sig: Uint8Array): void {
  if (!(sig instanceof Uint8Array) || sig.length !== 64) {
    throw new WireError('signature must be 64 bytes');
  }
  if (!validCompact(sig)) throw new WireError('signature r or s is not below the group order');
  w.bytes(sig);
}

function readCompact(r: WireReader): Uint8Array {
  const at = r.offset;
  const sig = r.bytes(64);
  // wire/fromwire.c fromwire_secp256k1_ecdsa_signature: parse_compact must succeed.
  if (!validCompact(sig)) r.fail('signature r or s is not below the group order', at);
  return sig;
}

export const ecdsaSignature: Codec<EcdsaSignature> = { encode: writeCompact, decode: readCompact };

export const recoverableSignature: Codec<RecoverableSignature> = {
  encode(w, v) {
    writeCompact(w, v.signature);
    if (!(v.recovery >= 0 && v.recovery <= 3)) throw new WireError(`recovery id ${v.recovery} not in 0..3`);
    w.u8(v.recovery);
  },
  decode(r) {
    const signature = readCompact(r);
    const recovery = r.u8();
    // secp256k1_ecdsa_recoverable_signature_parse_compact requires 0 <= recid <= 3.
    if (recovery > 3) r.fail(`recovery id ${recovery} not in 0..3`, r.offset - 1);
    return { signature, recovery };
  },
};

/** `bitcoin/signature.h` sighash_type_valid: SIGHASH_ALL or SIGHASH_SINGLE|ANYONECANPAY. */
const validSighash = (t: number): boolean => t === 0x01 || t === 0x83;

export const bitcoinSignature: Codec<BitcoinSignature> = {
  encode(w, v) {
    writeCompact(w, v.signature);
    if (!validSighash(v.sighash)) throw new WireError(`sighash type ${v.sighash} not allowed`);
    w.u8(v.sighash);
  },
  decode(r) {
    const signature = readCompact(r);
    const sighash = r.u8();
    // bitcoin/signature.c fromwire_bitcoin_signature fails other sighash types.
    if (!validSighash(sighash)) r.fail(`sighash type 0x${sighash.toString(16)} not allowed`, r.offset - 1);
    return { signature, sighash };
  },
};

export const bip32KeyVersion: Codec<Bip32KeyVersion> = struct({ pub: u32, priv: u32 });

export const basepoints: Codec<Basepoints> = struct({
  revocation: pubkey,
  payment: pubkey,
  htlc: pubkey,
  delayed_payment: pubkey,
});

export const secrets: Codec<Secrets> = struct({
  funding_privkey: privkey,
  revocation_basepoint_secret: secret,
  payment_basepoint_secret: secret,
  delayed_payment_basepoint_secret: secret,
  htlc_basepoint_secret: secret,
});

/** `common/htlc_wire.c` fromwire_side: a u8 below NUM_SIDES (2). */
export const side: Codec<Side> = {
  encode(w, v) {
    if (v !== 0 && v !== 1) throw new WireError(`side must be 0 or 1, got ${String(v)}`);
    u8.encode(w, v);
  },
  decode(r) {
    const v = r.u8();
    if (v > 1) r.fail(`side must be 0 or 1, got ${v}`, r.offset - 1);
    return v as Side;
  },
};

export const hsmHtlc: Codec<HsmHtlc> = struct({
  side,
  amount: amountMsat,
  payment_hash: sha256,
  cltv_expiry: u32,
});
