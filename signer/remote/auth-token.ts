/**
 * Device authentication for MQTT (docs/remote-protocol.md): the username is the device's public key (its
 * node id, hex); the password is a token the device signs with that key over the broker's
 * id and the current time, so a captured token is useless elsewhere and soon everywhere.
 *
 *   password = hex( u64 BE unix ms ‖ 64-byte compact ECDSA signature )
 *   signed   = SHA256( "sphinx-key/mqtt-auth/v1" ‖ 0x00 ‖ broker id (UTF-8) ‖ 0x00 ‖ u64 BE unix ms )
 *
 * Pure: the caller supplies the time. Refusing unknown keys and reused tokens needs the
 * broker's memory and is done there.
 */
import { concat, fromHex, toHex, utf8 } from '../bytes.js';
import type { Curve } from '../crypto/curve.js';
import { sha256 } from '../crypto/signatures.js';

const DOMAIN = utf8('sphinx-key/mqtt-auth/v1');
/** Tokens older than this are refused. */
export const TOKEN_MAX_AGE_MS = 5 * 60_000;
/** Clock skew tolerated for a token from "the future". */
export const TOKEN_MAX_SKEW_MS = 30_000;

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export type TokenCheck =
  | { readonly ok: true; readonly publicKey: Uint8Array; readonly issuedAt: number }
  | { readonly ok: false; readonly reason: string };

function signedHash(brokerId: string, issuedAtMs: number): Uint8Array {
  const time = new Uint8Array(8);
  new DataView(time.buffer).setBigUint64(0, BigInt(issuedAtMs));
  return sha256(concat(DOMAIN, Uint8Array.of(0), utf8(brokerId), Uint8Array.of(0), time));
}

/** The credentials a device presents to the broker `brokerId` at `nowMs`. */
export function makeCredentials(curve: Curve, privateKey: Uint8Array, brokerId: string, nowMs: number): Credentials {
  const time = new Uint8Array(8);
  new DataView(time.buffer).setBigUint64(0, BigInt(nowMs));
  const signature = curve.sign(signedHash(brokerId, nowMs), privateKey);
  return { username: toHex(curve.publicKey(privateKey)), password: toHex(concat(time, signature)) };
}

/** Checks form, freshness and signature of presented credentials. */
export function checkCredentials(curve: Curve, username: string, password: string, brokerId: string, nowMs: number): TokenCheck {
  if (!/^0[23][0-9a-f]{64}$/.test(username)) return { ok: false, reason: 'username is not a compressed public key in hex' };
  if (!/^[0-9a-f]{144}$/.test(password)) return { ok: false, reason: 'password is not a token (72 bytes in hex)' };
  const token = fromHex(password);
  const issuedAt = Number(new DataView(token.buffer).getBigUint64(0));
  const skew = clockSkew(issuedAt - nowMs);
  if (nowMs - issuedAt > TOKEN_MAX_AGE_MS)
    return { ok: false, reason: `token expired: ${skew} (limit ${TOKEN_MAX_AGE_MS / 1000} s old): set the device clock right (NTP), or it is an old token replayed` };
  if (issuedAt - nowMs > TOKEN_MAX_SKEW_MS)
    return { ok: false, reason: `token from the future: ${skew} (tolerance ${TOKEN_MAX_SKEW_MS / 1000} s): set the device clock right (NTP)` };
  const publicKey = fromHex(username);
  let valid: boolean;
  try {
    valid = curve.verify(token.subarray(8), signedHash(brokerId, issuedAt), publicKey);
  } catch {
    valid = false;
  }
  if (valid) return { ok: true, publicKey, issuedAt };
  // The key is the username, so a good key's signature fails over another message: another broker id.
  return { ok: false, reason: `bad signature: not signed over this broker's id ${brokerId}; most likely the device was started with another --broker-id (it must be ${brokerId}); ${skew}` };
}

/** "device clock 3.2 s ahead of this broker's" from issued-at minus now (ms). */
function clockSkew(aheadMs: number): string {
  const s = Math.abs(aheadMs) / 1000;
  return `device clock ${s < 10 ? s.toFixed(1) : Math.round(s)} s ${aheadMs >= 0 ? 'ahead of' : 'behind'} this broker's`;
}
