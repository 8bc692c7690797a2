/**
 * The word lookup without a Map (binary search): it relies on the English list being sorted,
 * and must find every word; checked against the BIP 39 reference vectors (trezor/python-mnemonic
 * vectors.json, English, the first and the all-ones entropy).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { toHex } from '../bytes.js';
import { entropyToMnemonic, mnemonicToEntropy } from './bip39.js';

test('the English word list is sorted (the lookup is a binary search)', () => {
  assert.equal(wordlist.length, 2048);
  for (let i = 1; i < wordlist.length; i++) assert.ok(wordlist[i - 1]! < wordlist[i]!, `${wordlist[i - 1]} < ${wordlist[i]}`);
});

test('every word is found at its index; other words are not', () => {
  for (let i = 0; i < 2048; i += 1) {
    // 12 words: eleven copies of word i then a word whose index fixes the 4 checksum bits.
    const entropy = new Uint8Array(16);
    let acc = 0n;
    for (let w = 0; w < 11; w++) acc = (acc << 11n) | BigInt(i);
    acc <<= 7n; // 121 bits of words 1..11 + the first 7 bits of word 12 (zero) = 128 bits
    for (let b = 15; b >= 0; b--, acc >>= 8n) entropy[b] = Number(acc & 0xffn);
    const words = entropyToMnemonic(entropy).split(' ');
    assert.deepEqual(words.slice(0, 11), Array(11).fill(wordlist[i]));
    assert.equal(toHex(mnemonicToEntropy(words.join(' '))!), toHex(entropy));
  }
  const valid = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
  assert.equal(toHex(mnemonicToEntropy(valid)!), '00000000000000000000000000000000');
  assert.equal(toHex(mnemonicToEntropy('zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong')!), 'ffffffffffffffffffffffffffffffff');
  for (const notAWord of ['aaa', 'abandonx', 'zzz', 'Abandon', ''])
    assert.equal(mnemonicToEntropy(valid.replace(/^abandon/, notAWord)), undefined, notAWord);
});
