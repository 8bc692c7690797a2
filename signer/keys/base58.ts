/**
 * Base58Check (Bitcoin alphabet, 4-byte SHA256d checksum): the text form of BIP 32 extended
 * keys (xpub/tpub…). hsmd's wire carries the raw 78 bytes; this is for logs, tools and tests.
 */
import { sha256 } from '../crypto/hashes.js';
import { concat, equal } from '../bytes.js';

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

const checksum = (payload: Uint8Array): Uint8Array => sha256(sha256(payload)).subarray(0, 4);

/** Base58 of bytes; each leading zero byte becomes a '1'. */
export function base58Encode(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = '';
  while (n > 0n) {
    out = ALPHABET[Number(n % 58n)]! + out;
    n /= 58n;
  }
  return '1'.repeat(zeros) + out;
}

/** Bytes of a Base58 string; throws on a character outside the alphabet. */
export function base58Decode(text: string): Uint8Array {
  let zeros = 0;
  while (zeros < text.length && text[zeros] === '1') zeros++;
  let n = 0n;
  for (const ch of text) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) throw new Error('invalid base58 character ' + JSON.stringify(ch));
    n = n * 58n + BigInt(v);
  }
  const body: number[] = [];
  while (n > 0n) {
    body.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  return Uint8Array.from([...new Array<number>(zeros).fill(0), ...body]);
}

/** Base58Check of a payload. */
export const base58CheckEncode = (payload: Uint8Array): string => base58Encode(concat(payload, checksum(payload)));

/** Payload of a Base58Check string; throws if the checksum is wrong. */
export function base58CheckDecode(text: string): Uint8Array {
  const all = base58Decode(text);
  if (all.length < 4) throw new Error('base58check string too short');
  const payload = all.subarray(0, all.length - 4);
  if (!equal(checksum(payload), all.subarray(all.length - 4))) throw new Error('invalid checksum (base58check)');
  return payload.slice();
}
