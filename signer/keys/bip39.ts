/**
 * BIP 39 (English) exactly as libwally, which CLN's common/hsm_secret.c calls:
 * - validation (bip39_mnemonic_validate): words split on single spaces, each looked up
 *   verbatim, 12/15/18/21/24 words, checksum checked. No trimming, no Unicode normalisation.
 * - seed (bip39_mnemonic_to_seed): PBKDF2-HMAC-SHA512(mnemonic bytes, "mnemonic" ‖ passphrase
 *   bytes, 2048, 64). libwally hashes the raw bytes: unlike the BIP 39 text there is no NFKD
 *   step, so a non-ASCII passphrase is used as given (UTF-8 for strings).
 * - creation (bip39_mnemonic_from_bytes): entropy ‖ checksum, 11 bits per word, joined by ' '.
 */
import { hmacSha512, sha256 } from '../crypto/hashes.js';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { concat, utf8 } from '../bytes.js';

/**
 * Index of an English word: binary search in the list, which is sorted (bip39.test.ts checks).
 * No word → index Map: the device decodes one mnemonic per boot, and a 2,048-entry Map would
 * stay in its heap for nothing (docs/device-memory.md).
 */
function indexOfWord(word: string): number | undefined {
  let low = 0;
  let high = wordlist.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const w = wordlist[mid]!;
    if (w === word) return mid;
    if (w < word) low = mid + 1;
    else high = mid - 1;
  }
  return undefined;
}

/** Bytes of a mnemonic or passphrase: strings as UTF-8, bytes as given. */
export const textBytes = (t: string | Uint8Array): Uint8Array => (typeof t === 'string' ? utf8(t) : t);

/**
 * The entropy a mnemonic encodes, or undefined if libwally would reject it (unknown word,
 * wrong word count, bad checksum).
 */
export function mnemonicToEntropy(mnemonic: string | Uint8Array): Uint8Array | undefined {
  const bytes = textBytes(mnemonic);
  // libwally wordlist_init: split on every single space; an empty word never matches.
  const words: string[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x20) continue;
    let w = '';
    for (let j = start; j < i; j++) {
      if (bytes[j]! >= 0x80) return undefined; // every English word is ASCII
      w += String.fromCharCode(bytes[j]!);
    }
    words.push(w);
    start = i + 1;
  }
  // bip39_mnemonic_to_bytes: 11 bits per word must give 16/20/24/28/32 entropy bytes.
  if (![12, 15, 18, 21, 24].includes(words.length)) return undefined;
  const entropyLen = (words.length * 11 - words.length / 3) / 8;
  const packed = new Uint8Array(entropyLen + 1);
  let acc = 0;
  let bits = 0;
  let pos = 0;
  for (const w of words) {
    const idx = indexOfWord(w);
    if (idx === undefined) return undefined;
    acc = (acc << 11) | idx;
    bits += 11;
    while (bits >= 8) {
      bits -= 8;
      packed[pos++] = (acc >>> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) packed[pos] = (acc << (8 - bits)) & 0xff;
  const entropy = packed.slice(0, entropyLen);
  const checksumBits = entropyLen / 4;
  const mask = (0xff << (8 - checksumBits)) & 0xff;
  if ((packed[entropyLen]! & mask) !== (sha256(entropy)[0]! & mask)) return undefined;
  return entropy;
}

/** True if libwally's bip39_mnemonic_validate accepts the mnemonic (English wordlist). */
export const isValidMnemonic = (mnemonic: string | Uint8Array): boolean =>
  mnemonicToEntropy(mnemonic) !== undefined;

/** bip39_mnemonic_from_bytes with the English list: 16/20/24/28/32 bytes of entropy. */
export function entropyToMnemonic(entropy: Uint8Array): string {
  if (![16, 20, 24, 28, 32].includes(entropy.length)) throw new RangeError('invalid BIP 39 entropy length');
  const all = concat(entropy, sha256(entropy).subarray(0, 1));
  const wordCount = (entropy.length * 8 + entropy.length / 4) / 11;
  const words: string[] = [];
  let acc = 0;
  let bits = 0;
  for (const byte of all) {
    acc = (acc << 8) | byte;
    bits += 8;
    if (bits >= 11 && words.length < wordCount) {
      bits -= 11;
      words.push(wordlist[(acc >>> bits) & 0x7ff]!);
    }
    acc &= (1 << bits) - 1;
  }
  return words.join(' ');
}

const MNEMONIC_SALT = utf8('mnemonic');

/**
 * bip39_mnemonic_to_seed: the 64-byte BIP 39 seed. `passphrase` undefined means NULL (no
 * passphrase), which gives the same seed as the empty string.
 */
export function mnemonicToSeed(mnemonic: string | Uint8Array, passphrase?: string | Uint8Array): Uint8Array {
  const salt = passphrase === undefined ? MNEMONIC_SALT : concat(MNEMONIC_SALT, textBytes(passphrase));
  return pbkdf2HmacSha512(textBytes(mnemonic), salt, 2048);
}

/**
 * PBKDF2 (RFC 8018) with HMAC-SHA512, one 64-byte block: U1 = HMAC(P, S ‖ 1), Ui = HMAC(P,
 * Ui-1), T = U1 ^ … ^ Uc. Through the hashes port, not noble's pbkdf2, whose SHA-512 keeps
 * its schedule in a module-level buffer, read-only on the device (docs/device-memory.md "Built by mcconfig").
 */
function pbkdf2HmacSha512(password: Uint8Array, salt: Uint8Array, iterations: number): Uint8Array {
  let u = hmacSha512(password, concat(salt, Uint8Array.of(0, 0, 0, 1)));
  const t = u.slice();
  for (let i = 1; i < iterations; i++) {
    u = hmacSha512(password, u);
    for (let j = 0; j < t.length; j++) t[j]! ^= u[j]!;
  }
  return t;
}
