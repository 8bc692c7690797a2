/**
 * Device authentication for MQTT (docs/remote-protocol.md): the username is the device's public key (its
 * node id, hex); the password is a token the device signs with that key over the broker's
 * id and the current time, so a captured token is useless elsewhere and soon everywhere.
 *
 *   version 2 (made here):
 *   password = hex( u8 2 ‖ u64 BE unix ms ‖ u64 BE last journaled id ‖ 64-byte compact ECDSA signature )
 *   signed   = SHA256( "sphinx-key/mqtt-auth/v2" ‖ 0x00 ‖ broker id (UTF-8) ‖ 0x00 ‖ u64 BE unix ms ‖ u64 BE last id )
 *   version 1 (still accepted, from older firmware; no last id):
 *   password = hex( u64 BE unix ms ‖ 64-byte compact ECDSA signature )
 *   signed   = SHA256( "sphinx-key/mqtt-auth/v1" ‖ 0x00 ‖ broker id (UTF-8) ‖ 0x00 ‖ u64 BE unix ms )
 *
 * The last id lets the embedded server keep a device whose journal is behind what the broker
 * answered off the MQTT session of the active device with the same seed, before it takes it
 * over (docs/remote-protocol.md "Rollback"). A password's length tells its version.
 *
 * Pure: the caller supplies the time. Refusing unknown keys and reused tokens needs the
 * broker's memory and is done there.
 */
import { concat, fromHex, toHex, u64be, utf8 } from '../bytes.js';
import type { Curve } from '../crypto/curve.js';
import { bytesToBigInt, fromScalar, HALF_N, N } from '../crypto/secp256k1/scalars.js';
import { sha256 } from '../crypto/signatures.js';

const DOMAIN_V1 = 'sphinx-key/mqtt-auth/v1';
const DOMAIN_V2 = 'sphinx-key/mqtt-auth/v2';
const TOKEN_VERSION = 2;
/** Hex characters of a version 1 and a version 2 password. */
const V1_HEX = 2 * (8 + 64);
const V2_HEX = 2 * (1 + 8 + 8 + 64);
/** Tokens older than this are refused. */
export const TOKEN_MAX_AGE_MS = 5 * 60_000;
/** Clock skew tolerated for a token from "the future". */
export const TOKEN_MAX_SKEW_MS = 30_000;

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export type TokenCheck =
  /** `lastId`: the device's last journaled id, as its token says (undefined for a version 1 token). */
  | { readonly ok: true; readonly publicKey: Uint8Array; readonly issuedAt: number; readonly lastId: bigint | undefined }
  | { readonly ok: false; readonly reason: string };

/** What the token signs: the time, and (version 2) the last id, as they appear in it. */
function signedHash(domain: string, brokerId: string, fields: Uint8Array): Uint8Array {
  return sha256(concat(utf8(domain), Uint8Array.of(0), utf8(brokerId), Uint8Array.of(0), fields));
}

/**
 * The credentials (version 2) a device presents to the broker `brokerId` at `nowMs`, its journal
 * ending at `lastId` (0 for none: a spare standing by, a restore).
 */
export function makeCredentials(curve: Curve, privateKey: Uint8Array, brokerId: string, nowMs: number, lastId: bigint): Credentials {
  const fields = concat(u64be(BigInt(nowMs)), u64be(lastId));
  const signature = curve.sign(signedHash(DOMAIN_V2, brokerId, fields), privateKey);
  return { username: toHex(curve.publicKey(privateKey)), password: toHex(concat(Uint8Array.of(TOKEN_VERSION), fields, signature)) };
}

/**
 * The last id a version 2 password claims, unverified (checkCredentials verifies it with the
 * rest); undefined for anything else. Read where the server must decide before it checks.
 */
export function claimedLastId(password: string): bigint | undefined {
  if (password.length !== V2_HEX || !password.startsWith('02') || !/^[0-9a-f]*$/.test(password)) return undefined;
  return BigInt(`0x${password.slice(18, 34)}`);
}

/** Checks form, freshness and signature of presented credentials. */
export function checkCredentials(curve: Curve, username: string, password: string, brokerId: string, nowMs: number): TokenCheck {
  if (!/^0[23][0-9a-f]{64}$/.test(username)) return { ok: false, reason: 'username is not a compressed public key in hex' };
  const v2 = password.length === V2_HEX;
  if (!/^[0-9a-f]*$/.test(password) || (password.length !== V1_HEX && !v2)) return { ok: false, reason: 'password is not a token (72 or 81 bytes in hex)' };
  if (v2 && !password.startsWith('02')) return { ok: false, reason: `password is not a token: version ${parseInt(password.slice(0, 2), 16)} (this broker reads 1 and 2)` };
  const token = fromHex(password);
  const fields = v2 ? token.subarray(1, 17) : token.subarray(0, 8);
  const view = new DataView(fields.buffer, fields.byteOffset, fields.byteLength);
  const issuedAt = Number(view.getBigUint64(0));
  const lastId = v2 ? view.getBigUint64(8) : undefined;
  const skew = clockSkew(issuedAt - nowMs);
  if (nowMs - issuedAt > TOKEN_MAX_AGE_MS)
    return { ok: false, reason: `token expired: ${skew} (limit ${TOKEN_MAX_AGE_MS / 1000} s old): set the device clock right (NTP), or it is an old token replayed` };
  if (issuedAt - nowMs > TOKEN_MAX_SKEW_MS)
    return { ok: false, reason: `token from the future: ${skew} (tolerance ${TOKEN_MAX_SKEW_MS / 1000} s): set the device clock right (NTP)` };
  const publicKey = fromHex(username);
  const signature = token.subarray(token.length - 64);
  const hash = signedHash(v2 ? DOMAIN_V2 : DOMAIN_V1, brokerId, fields);
  // S above ⌊n/2⌋ is the high-S spelling.
  const s = bytesToBigInt(signature.subarray(32));
  if (s > HALF_N && s < N) {
    // Curve.verify refuses it; say why, since the canonical form tells a re-spelled replay from junk.
    const canonical = concat(signature.subarray(0, 32), fromScalar(N - s));
    return {
      ok: false,
      reason: verifies(curve, canonical, hash, publicKey)
        ? `high-S signature (non-canonical): a valid token re-spelled with S replaced by n − S, which no device makes (they sign low-S only): a captured token replayed in another spelling, not a wrong --broker-id; ${skew}`
        : `high-S signature (non-canonical): no device makes one (they sign low-S only), and its low-S form does not verify either; ${skew}`,
    };
  }
  if (verifies(curve, signature, hash, publicKey)) return { ok: true, publicKey, issuedAt, lastId };
  // The key is the username, so a good key's signature fails over another message: another broker id.
  return { ok: false, reason: `bad signature: not signed over this broker's id ${brokerId}; most likely the device was started with another --broker-id (it must be ${brokerId}); ${skew}` };
}

/** Curve.verify, false where it throws (a point or signature it cannot parse). */
function verifies(curve: Curve, signature: Uint8Array, hash: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return curve.verify(signature, hash, publicKey);
  } catch {
    return false;
  }
}

/** "device clock 3.2 s ahead of this broker's" from issued-at minus now (ms). */
function clockSkew(aheadMs: number): string {
  const s = Math.abs(aheadMs) / 1000;
  return `device clock ${s < 10 ? s.toFixed(1) : Math.round(s)} s ${aheadMs >= 0 ? 'ahead of' : 'behind'} this broker's`;
}
