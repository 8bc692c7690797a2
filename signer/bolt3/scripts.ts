/**
 * BOLT 3 witness scripts (funding, to_local, to_remote, anchors, offered/received HTLCs,
 * second-stage HTLC outputs) and the segwit v0 scriptPubKeys that commit to them.
 *
 * Numbers are pushed as CLN's bitcoin/script.c add_number does: OP_0, OP_1..OP_16, else the
 * minimal little-endian signed encoding (so 144 is `02 9000`, 500 is `02 f401`).
 */
import { ripemd160, sha256 } from '../crypto/hashes.js';
import { hash160 } from '../crypto/signatures.js';

const OP_0 = 0x00;
const OP_IF = 0x63;
const OP_NOTIF = 0x64;
const OP_ELSE = 0x67;
const OP_ENDIF = 0x68;
const OP_IFDUP = 0x73;
const OP_DROP = 0x75;
const OP_DUP = 0x76;
const OP_SWAP = 0x7c;
const OP_SIZE = 0x82;
const OP_EQUAL = 0x87;
const OP_EQUALVERIFY = 0x88;
const OP_HASH160 = 0xa9;
const OP_CHECKSIG = 0xac;
const OP_CHECKSIGVERIFY = 0xad;
const OP_CHECKMULTISIG = 0xae;
const OP_CHECKLOCKTIMEVERIFY = 0xb1;
const OP_CHECKSEQUENCEVERIFY = 0xb2;

/** A script item: an opcode (number) or data to push (bytes). */
type Item = number | Uint8Array;

/** Encodes a script; data items get a direct push (all ours are < 76 bytes). */
function script(items: Item[]): Uint8Array {
  let len = 0;
  for (const it of items) len += typeof it === 'number' ? 1 : 1 + it.length;
  const out = new Uint8Array(len);
  let p = 0;
  for (const it of items) {
    if (typeof it === 'number') out[p++] = it;
    else {
      if (it.length > 75) throw new RangeError('push too long for a direct push');
      out[p++] = it.length;
      out.set(it, p);
      p += it.length;
    }
  }
  return out;
}

/** A non-negative number as CLN's add_number pushes it. */
function num(n: number): Item {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError('script number out of range');
  if (n === 0) return OP_0;
  if (n <= 16) return 0x50 + n;
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.push(v & 0xff);
  if (bytes[bytes.length - 1]! & 0x80) bytes.push(0); // keep it positive (script numbers are signed)
  return Uint8Array.from(bytes);
}

/** P2WSH scriptPubKey: OP_0 <SHA256(witnessScript)>. */
export const p2wsh = (witnessScript: Uint8Array): Uint8Array => script([OP_0, sha256(witnessScript)]);

/** P2WPKH scriptPubKey: OP_0 <HASH160(pubkey)>. */
export const p2wpkh = (pubkey: Uint8Array): Uint8Array => script([OP_0, hash160(pubkey)]);

/** BIP 143 scriptCode of a P2WPKH input: the P2PKH script of the key. */
export const p2wpkhScriptCode = (pubkey: Uint8Array): Uint8Array =>
  script([OP_DUP, OP_HASH160, hash160(pubkey), OP_EQUALVERIFY, OP_CHECKSIG]);

/** Lexicographic byte comparison, shorter first on a common prefix (memcmp, then length). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * BOLT 3 Funding Transaction Output: `2 <pubkey1> <pubkey2> 2 OP_CHECKMULTISIG`, pubkey1 the
 * lexicographically lesser compressed funding pubkey.
 */
export function fundingScript(fundingPubkeyA: Uint8Array, fundingPubkeyB: Uint8Array): Uint8Array {
  const [k1, k2] = compareBytes(fundingPubkeyA, fundingPubkeyB) < 0 ? [fundingPubkeyA, fundingPubkeyB] : [fundingPubkeyB, fundingPubkeyA];
  return script([num(2), k1, k2, num(2), OP_CHECKMULTISIG]);
}

/**
 * BOLT 3 `to_local` Output; the same script locks the HTLC-timeout/success output
 * ("The witness script for the output is: OP_IF <revocationpubkey> OP_ELSE ...").
 */
export function toLocalScript(revocationPubkey: Uint8Array, toSelfDelay: number, localDelayedPubkey: Uint8Array): Uint8Array {
  return script([
    OP_IF, revocationPubkey,
    OP_ELSE, num(toSelfDelay), OP_CHECKSEQUENCEVERIFY, OP_DROP, localDelayedPubkey,
    OP_ENDIF, OP_CHECKSIG,
  ]);
}

/** BOLT 3 `to_remote` Output with option_anchors: `<remotepubkey> OP_CHECKSIGVERIFY 1 OP_CHECKSEQUENCEVERIFY`. */
export function toRemoteAnchorsScript(remotePubkey: Uint8Array): Uint8Array {
  return script([remotePubkey, OP_CHECKSIGVERIFY, num(1), OP_CHECKSEQUENCEVERIFY]);
}

/**
 * BOLT 3 `to_local_anchor`/`to_remote_anchor`:
 * `<funding_pubkey> OP_CHECKSIG OP_IFDUP OP_NOTIF OP_16 OP_CHECKSEQUENCEVERIFY OP_ENDIF`.
 */
export function anchorScript(fundingPubkey: Uint8Array): Uint8Array {
  return script([fundingPubkey, OP_CHECKSIG, OP_IFDUP, OP_NOTIF, num(16), OP_CHECKSEQUENCEVERIFY, OP_ENDIF]);
}

/** The keys an HTLC output script of one commitment transaction uses. */
export interface HtlcScriptKeys {
  revocationPubkey: Uint8Array;
  localHtlcPubkey: Uint8Array;
  remoteHtlcPubkey: Uint8Array;
}

/** BOLT 3 Offered HTLC Outputs (the `1 OP_CHECKSEQUENCEVERIFY OP_DROP` only with option_anchors). */
export function offeredHtlcScript(keys: HtlcScriptKeys, paymentHash: Uint8Array, anchors: boolean): Uint8Array {
  return script([
    OP_DUP, OP_HASH160, hash160(keys.revocationPubkey), OP_EQUAL,
    OP_IF,
      OP_CHECKSIG,
    OP_ELSE,
      keys.remoteHtlcPubkey, OP_SWAP, OP_SIZE, num(32), OP_EQUAL,
      OP_NOTIF,
        OP_DROP, num(2), OP_SWAP, keys.localHtlcPubkey, num(2), OP_CHECKMULTISIG,
      OP_ELSE,
        OP_HASH160, ripemd160(paymentHash), OP_EQUALVERIFY, OP_CHECKSIG,
      OP_ENDIF,
      ...(anchors ? [num(1), OP_CHECKSEQUENCEVERIFY, OP_DROP] : []),
    OP_ENDIF,
  ]);
}

/** BOLT 3 Received HTLC Outputs (the `1 OP_CHECKSEQUENCEVERIFY OP_DROP` only with option_anchors). */
export function receivedHtlcScript(keys: HtlcScriptKeys, paymentHash: Uint8Array, cltvExpiry: number, anchors: boolean): Uint8Array {
  return script([
    OP_DUP, OP_HASH160, hash160(keys.revocationPubkey), OP_EQUAL,
    OP_IF,
      OP_CHECKSIG,
    OP_ELSE,
      keys.remoteHtlcPubkey, OP_SWAP, OP_SIZE, num(32), OP_EQUAL,
      OP_IF,
        OP_HASH160, ripemd160(paymentHash), OP_EQUALVERIFY,
        num(2), OP_SWAP, keys.localHtlcPubkey, num(2), OP_CHECKMULTISIG,
      OP_ELSE,
        OP_DROP, num(cltvExpiry), OP_CHECKLOCKTIMEVERIFY, OP_DROP, OP_CHECKSIG,
      OP_ENDIF,
      ...(anchors ? [num(1), OP_CHECKSEQUENCEVERIFY, OP_DROP] : []),
    OP_ENDIF,
  ]);
}
