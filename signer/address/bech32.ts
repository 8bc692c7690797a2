/**
 * Bech32 (BIP 173) and bech32m (BIP 350) decoding: the text of segwit addresses and, without
 * the 90-character limit, of BOLT 11 invoices. Pure; the checksum decides which variant a
 * string is.
 */

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
export const BECH32_CONST = 1;
export const BECH32M_CONST = 0x2bc830a3;

export type Bech32Variant = 'bech32' | 'bech32m';

export class Bech32Error extends Error {
  override readonly name = 'Bech32Error';
}

function polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = (((chk & 0x1ffffff) << 5) ^ v) >>> 0;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk = (chk ^ GENERATOR[i]!) >>> 0;
  }
  return chk;
}

const hrpExpand = (hrp: string): number[] => [...[...hrp].map((c) => c.charCodeAt(0) >> 5), 0, ...[...hrp].map((c) => c.charCodeAt(0) & 31)];

/** The hrp, the 5-bit data words (checksum removed) and the variant; throws Bech32Error. */
export function bech32Decode(text: string, maxLength = 90): { hrp: string; words: Uint8Array; variant: Bech32Variant } {
  if (text.length > maxLength) throw new Bech32Error(`longer than ${maxLength} characters`);
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) throw new Bech32Error('mixed case');
  const lower = text.toLowerCase();
  const sep = lower.lastIndexOf('1');
  if (sep < 1 || sep + 7 > lower.length) throw new Bech32Error('no human-readable part, or a checksum too short');
  const hrp = lower.slice(0, sep);
  for (const c of hrp) if (c.charCodeAt(0) < 33 || c.charCodeAt(0) > 126) throw new Bech32Error('invalid character in the human-readable part');
  const data: number[] = [];
  for (const c of lower.slice(sep + 1)) {
    const v = CHARSET.indexOf(c);
    if (v < 0) throw new Bech32Error(`invalid character ${JSON.stringify(c)}`);
    data.push(v);
  }
  const check = polymod([...hrpExpand(hrp), ...data]);
  const variant = check === BECH32_CONST ? 'bech32' : check === BECH32M_CONST ? 'bech32m' : undefined;
  if (!variant) throw new Bech32Error('bad checksum');
  return { hrp, words: Uint8Array.from(data.slice(0, -6)), variant };
}

/** Regroups 5-bit words into bytes; padding must be zero and under 5 bits (BIP 173). */
export function wordsToBytes(words: Uint8Array, strict = true): Uint8Array {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  for (const w of words) {
    acc = ((acc << 5) | w) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  if (strict && (bits >= 5 || ((acc << (8 - bits)) & 0xff) !== 0)) throw new Bech32Error('invalid padding');
  return Uint8Array.from(out);
}
