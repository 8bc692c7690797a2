/**
 * BOLT 3 witness scripts (funding, to_local, to_remote, anchors, offered/received HTLCs,
 * second-stage HTLC outputs) and the segwit v0 scriptPubKeys that commit to them; an HTLC
 * output script read back (readHtlcScript: its kind, payment hash and expiry, keys aside).
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

/**
 * The two HTLC output scripts of BOLT 3 ("Offered HTLC Outputs", "Received HTLC Outputs"), as
 * templates: the builders below fill the named slots, `readHtlcScript` reads them back. Both
 * share the revocation branch and the test of the witness item's size (32 bytes: a preimage).
 */
type Slot = Item | 'revocationHash' | 'remoteKey' | 'localKey' | 'paymentHash160' | 'cltv';

const HTLC_HEAD: readonly Slot[] = [
  OP_DUP, OP_HASH160, 'revocationHash', OP_EQUAL,
  OP_IF,
    OP_CHECKSIG,
  OP_ELSE,
    'remoteKey', OP_SWAP, OP_SIZE, num(32), OP_EQUAL,
];
/** Offered: the remote key with the preimage, else the 2-of-2 (the HTLC-timeout transaction, no CLTV here). */
const OFFERED_BODY: readonly Slot[] = [
    OP_NOTIF,
      OP_DROP, num(2), OP_SWAP, 'localKey', num(2), OP_CHECKMULTISIG,
    OP_ELSE,
      OP_HASH160, 'paymentHash160', OP_EQUALVERIFY, OP_CHECKSIG,
    OP_ENDIF,
];
/** Received: the 2-of-2 with the preimage (the HTLC-success transaction), else the remote key after cltv_expiry. */
const RECEIVED_BODY: readonly Slot[] = [
    OP_IF,
      OP_HASH160, 'paymentHash160', OP_EQUALVERIFY,
      num(2), OP_SWAP, 'localKey', num(2), OP_CHECKMULTISIG,
    OP_ELSE,
      OP_DROP, 'cltv', OP_CHECKLOCKTIMEVERIFY, OP_DROP, OP_CHECKSIG,
    OP_ENDIF,
];
/** option_anchors: `1 OP_CHECKSEQUENCEVERIFY OP_DROP` before the last OP_ENDIF. */
const ANCHORS_DELAY: readonly Slot[] = [num(1), OP_CHECKSEQUENCEVERIFY, OP_DROP];

const htlcTemplate = (offered: boolean, anchors: boolean): Slot[] =>
  [...HTLC_HEAD, ...(offered ? OFFERED_BODY : RECEIVED_BODY), ...(anchors ? ANCHORS_DELAY : []), OP_ENDIF];

function htlcScript(offered: boolean, keys: HtlcScriptKeys, paymentHash: Uint8Array, cltvExpiry: number, anchors: boolean): Uint8Array {
  const values = {
    revocationHash: hash160(keys.revocationPubkey),
    remoteKey: keys.remoteHtlcPubkey,
    localKey: keys.localHtlcPubkey,
    paymentHash160: ripemd160(paymentHash),
  };
  return script(htlcTemplate(offered, anchors).map((slot) => (slot === 'cltv' ? num(cltvExpiry) : typeof slot === 'string' ? values[slot] : slot)));
}

/** BOLT 3 Offered HTLC Outputs (the `1 OP_CHECKSEQUENCEVERIFY OP_DROP` only with option_anchors). */
export const offeredHtlcScript = (keys: HtlcScriptKeys, paymentHash: Uint8Array, anchors: boolean): Uint8Array =>
  htlcScript(true, keys, paymentHash, 0, anchors);

/** BOLT 3 Received HTLC Outputs (the `1 OP_CHECKSEQUENCEVERIFY OP_DROP` only with option_anchors). */
export const receivedHtlcScript = (keys: HtlcScriptKeys, paymentHash: Uint8Array, cltvExpiry: number, anchors: boolean): Uint8Array =>
  htlcScript(false, keys, paymentHash, cltvExpiry, anchors);

/** What an HTLC output's witness script fixes, its keys aside. */
export interface HtlcScriptTerms {
  /** Offered by the commitment's owner (its second stage is HTLC-timeout), else received (HTLC-success). */
  readonly offered: boolean;
  /** RIPEMD160 of the payment hash. */
  readonly paymentHash160: Uint8Array;
  /** A received HTLC's cltv_expiry; an offered HTLC's script has none (it is the HTLC-timeout's locktime). */
  readonly cltvExpiry: number | undefined;
  readonly anchors: boolean;
}

/** The script's items (opcodes and direct pushes), or undefined if it is cut short or uses OP_PUSHDATA (no BOLT 3 script does). */
function scriptItems(s: Uint8Array): Item[] | undefined {
  const out: Item[] = [];
  for (let p = 0; p < s.length; ) {
    const op = s[p++]!;
    if (op >= 1 && op <= 75) {
      if (p + op > s.length) return undefined;
      out.push(s.subarray(p, p + op));
      p += op;
    } else if (op >= 0x4c && op <= 0x4e) {
      return undefined;
    } else {
      out.push(op);
    }
  }
  return out;
}

const sameItem = (a: Item, b: Item): boolean =>
  typeof a === 'number' || typeof b === 'number' ? a === b : a.length === b.length && a.every((x, i) => x === b[i]);

/** The number `add_number` pushes as `item`, or undefined if it pushes none that way (cltv_expiry is a u32). */
function numberOf(item: Item): number | undefined {
  let n: number;
  if (typeof item === 'number') n = item === OP_0 ? 0 : item >= 0x51 && item <= 0x60 ? item - 0x50 : -1;
  else n = item.length > 5 ? -1 : item.reduceRight((v, b) => v * 256 + b, 0);
  return n >= 0 && n <= 0xffffffff && sameItem(num(n), item) ? n : undefined;
}

/** The terms of `items` if they follow `template` (keys: any 33-byte push, the revocation hash any 20 bytes), else undefined. */
function readTemplate(items: readonly Item[], template: readonly Slot[]): { paymentHash160: Uint8Array; cltvExpiry: number | undefined } | undefined {
  if (items.length !== template.length) return undefined;
  let paymentHash160: Uint8Array | undefined;
  let cltvExpiry: number | undefined;
  for (let i = 0; i < items.length; i++) {
    const [got, want] = [items[i]!, template[i]!];
    const push = typeof got === 'number' ? undefined : got;
    if (want === 'cltv') cltvExpiry = numberOf(got);
    else if (want === 'paymentHash160') paymentHash160 = push?.length === 20 ? push : undefined;
    const ok = want === 'cltv' ? cltvExpiry !== undefined
      : want === 'paymentHash160' ? paymentHash160 !== undefined
        : want === 'revocationHash' ? push?.length === 20
          : want === 'remoteKey' || want === 'localKey' ? push?.length === 33
            : sameItem(got, want);
    if (!ok) return undefined;
  }
  return paymentHash160 && { paymentHash160: Uint8Array.from(paymentHash160), cltvExpiry };
}

/** The terms of a BOLT 3 HTLC output script (offered or received, with or without anchors), or undefined if `witnessScript` is none. */
export function readHtlcScript(witnessScript: Uint8Array): HtlcScriptTerms | undefined {
  const items = scriptItems(witnessScript);
  if (items === undefined) return undefined;
  for (const offered of [true, false]) {
    for (const anchors of [true, false]) {
      const terms = readTemplate(items, htlcTemplate(offered, anchors));
      if (terms) return { offered, anchors, ...terms };
    }
  }
  return undefined;
}
