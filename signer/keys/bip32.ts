/**
 * BIP 32 hierarchical keys on a `Curve`, matching libwally's bip32.c where CLN uses it:
 * master from seed (HMAC-SHA512 "Bitcoin seed"), private/public child derivation, the 78-byte
 * serialization (towire_ext_key sends the public form) and parsing with BIP 32's validity
 * rules (test vector 5).
 */
import { concat, toHex, u32be, utf8 } from '../bytes.js';
import type { Curve } from '../crypto/curve.js';
import { hmacSha512 } from '../crypto/hashes.js';
import { hash160 } from '../crypto/signatures.js';
import { base58CheckDecode, base58CheckEncode } from './base58.js';

/** Child numbers at or above this are hardened. */
export const HARDENED = 0x80000000;

/** The version bytes libwally knows (BIP32_VER_*); hsmd_init passes one public/private pair. */
export const Bip32Version = {
  mainPublic: 0x0488b21e,
  mainPrivate: 0x0488ade4,
  testPublic: 0x043587cf,
  testPrivate: 0x04358394,
} as const;

const PUBLIC_VERSIONS: readonly number[] = [Bip32Version.mainPublic, Bip32Version.testPublic];
const PRIVATE_VERSIONS: readonly number[] = [Bip32Version.mainPrivate, Bip32Version.testPrivate];

/** An extended key. `version` is the private version when `privateKey` is present. */
export interface ExtendedKey {
  readonly version: number;
  readonly depth: number;
  /** First 4 bytes of HASH160(parent public key); zero for a master key. */
  readonly parentFingerprint: Uint8Array;
  readonly childNumber: number;
  readonly chainCode: Uint8Array;
  /** 33-byte compressed public key (always present). */
  readonly publicKey: Uint8Array;
  /** 32-byte private key, if this is a private extended key. */
  readonly privateKey?: Uint8Array;
}

/** A key's own fingerprint: the first 4 bytes of HASH160 of its public key. */
export const fingerprint = (key: ExtendedKey): Uint8Array => hash160(key.publicKey).slice(0, 4);

const BITCOIN_SEED = utf8('Bitcoin seed');

/**
 * BIP 32 master key generation (bip32_key_from_seed). Returns undefined when I_L is 0 or ≥ n,
 * where libwally fails; CLN then retries with its next HKDF counter (hsmd_init).
 */
export function masterKeyFromSeed(curve: Curve, seed: Uint8Array, privateVersion: number): ExtendedKey | undefined {
  const I = hmacSha512(BITCOIN_SEED, seed);
  const privateKey = I.slice(0, 32);
  if (!curve.isPrivateKey(privateKey)) return undefined;
  return {
    version: privateVersion,
    depth: 0,
    parentFingerprint: new Uint8Array(4),
    childNumber: 0,
    chainCode: I.slice(32),
    publicKey: curve.publicKey(privateKey),
    privateKey,
  };
}

/**
 * CKDpriv / CKDpub (bip32_key_from_parent). A private parent gives a private child; a public
 * parent gives a public child and cannot derive hardened indices. Throws where BIP 32 says
 * the index is invalid (I_L ≥ n or a zero/infinite result), as libwally does.
 */
export function deriveChild(curve: Curve, parent: ExtendedKey, index: number): ExtendedKey {
  if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) throw new RangeError('invalid child index');
  if (parent.depth >= 255) throw new RangeError('BIP 32 depth limit reached');
  const hardened = index >= HARDENED;
  let data: Uint8Array;
  if (hardened) {
    if (!parent.privateKey) throw new Error('cannot derive a hardened child from a public key');
    data = concat(new Uint8Array(1), parent.privateKey, u32be(index));
  } else {
    data = concat(parent.publicKey, u32be(index));
  }
  const I = hmacSha512(parent.chainCode, data);
  const IL = I.subarray(0, 32);
  const common = {
    version: parent.version,
    depth: parent.depth + 1,
    parentFingerprint: fingerprint(parent),
    childNumber: index,
    chainCode: I.slice(32),
  };
  if (parent.privateKey) {
    const privateKey = curve.privateAdd(parent.privateKey, IL); // throws if I_L ≥ n or sum is 0
    return { ...common, publicKey: curve.publicKey(privateKey), privateKey };
  }
  return { ...common, publicKey: curve.pointAddTweak(parent.publicKey, IL) };
}

/** Child numbers of a path like "m/86'/0'/0'" or "m/0H/1" (', h and H mark hardened). */
export function parsePath(path: string): number[] {
  const parts = path.split('/');
  if (parts[0] !== 'm') throw new Error('BIP 32 path must start with m: ' + path);
  return parts.slice(1).map((p) => {
    const m = /^(\d+)(['hH]?)$/.exec(p);
    const n = m ? Number(m[1]) : NaN;
    if (!m || n >= HARDENED) throw new Error('invalid BIP 32 path element ' + JSON.stringify(p));
    return m[2] ? n + HARDENED : n;
  });
}

/** Derives along a path (string form or child numbers). */
export function derivePath(curve: Curve, key: ExtendedKey, path: string | readonly number[]): ExtendedKey {
  const indices = typeof path === 'string' ? parsePath(path) : path;
  return indices.reduce((k, i) => deriveChild(curve, k, i), key);
}

/** libwally's version swap when serializing the public part of a private key. */
function publicVersionOf(version: number): number {
  if (version === Bip32Version.mainPrivate) return Bip32Version.mainPublic;
  if (version === Bip32Version.testPrivate) return Bip32Version.testPublic;
  return version;
}

/** The public extended key of a key (N() in BIP 32). */
export function neuter(key: ExtendedKey): ExtendedKey {
  const { privateKey: _dropped, ...rest } = key;
  return { ...rest, version: key.privateKey ? publicVersionOf(key.version) : key.version };
}

/**
 * The 78-byte serialization (bip32_key_serialize): version ‖ depth ‖ parent fingerprint ‖
 * child number ‖ chain code ‖ key data (0x00 ‖ private key, or the public key).
 */
export function serializeExtendedKey(key: ExtendedKey, opts: { private?: boolean } = {}): Uint8Array {
  const wantPrivate = opts.private === true;
  if (wantPrivate && !key.privateKey) throw new Error('not a private extended key');
  const version = wantPrivate ? key.version : key.privateKey ? publicVersionOf(key.version) : key.version;
  const out = new Uint8Array(78);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, version, false);
  out[4] = key.depth;
  out.set(key.parentFingerprint, 5);
  dv.setUint32(9, key.childNumber >>> 0, false);
  out.set(key.chainCode, 13);
  if (wantPrivate) out.set(key.privateKey!, 46);
  else out.set(key.publicKey, 45);
  return out;
}

/** Base58Check text (xpub…/xprv…/tpub…) of an extended key. */
export const extendedKeyToString = (key: ExtendedKey, opts: { private?: boolean } = {}): string =>
  base58CheckEncode(serializeExtendedKey(key, opts));

/** Parses 78 bytes, rejecting every invalid form BIP 32's test vector 5 lists. */
export function parseExtendedKey(curve: Curve, bytes: Uint8Array): ExtendedKey {
  if (bytes.length !== 78) throw new Error('extended key must be 78 bytes');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 78);
  const version = dv.getUint32(0, false);
  const isPrivate = PRIVATE_VERSIONS.includes(version);
  if (!isPrivate && !PUBLIC_VERSIONS.includes(version)) throw new Error('unknown extended key version');
  const depth = bytes[4]!;
  const parentFingerprint = bytes.slice(5, 9);
  const childNumber = dv.getUint32(9, false);
  if (depth === 0 && parentFingerprint.some((b) => b !== 0)) throw new Error('zero depth with non-zero parent fingerprint');
  if (depth === 0 && childNumber !== 0) throw new Error('zero depth with non-zero index');
  const chainCode = bytes.slice(13, 45);
  const keyData = bytes.slice(45);
  const prefix = keyData[0]!;
  const common = { version, depth, parentFingerprint, childNumber, chainCode };
  if (isPrivate) {
    if (prefix === 2 || prefix === 3) throw new Error('prvkey version / pubkey mismatch');
    if (prefix !== 0) throw new Error('invalid prvkey prefix ' + toHex(keyData.subarray(0, 1)));
    const privateKey = keyData.slice(1);
    if (!curve.isPrivateKey(privateKey)) throw new Error('private key ' + (privateKey.every((b) => b === 0) ? '0' : 'n or more') + ' not in 1..n-1');
    return { ...common, publicKey: curve.publicKey(privateKey), privateKey };
  }
  if (prefix === 0) throw new Error('pubkey version / prvkey mismatch');
  if (prefix !== 2 && prefix !== 3) throw new Error('invalid pubkey prefix ' + toHex(keyData.subarray(0, 1)));
  if (!curve.isCompressedPoint(keyData)) throw new Error('invalid pubkey ' + toHex(keyData));
  return { ...common, publicKey: keyData };
}

/** Parses Base58Check text (checksum verified). */
export const parseExtendedKeyString = (curve: Curve, text: string): ExtendedKey =>
  parseExtendedKey(curve, base58CheckDecode(text));
