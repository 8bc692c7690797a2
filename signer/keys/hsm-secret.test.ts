/**
 * hsm_secret forms and errors (common/hsm_secret.c v25.12.1), with CLN's pytest facts
 * (cln-hsmd-facts.json) and the transcript headers as the real files.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fixturePath, readJsonFixture } from '../../test/fixtures.js';
import { concat, fromHex, toHex, utf8 } from '../bytes.js';
import { entropyToMnemonic, isValidMnemonic, mnemonicToEntropy } from './bip39.js';
import {
  HsmSecretError,
  HsmSecretErrorCode,
  HsmSecretTypeCode,
  createMnemonicHsmSecret,
  hsmSecretErrorString,
  hsmSecretNeedsPassphrase,
  parseHsmSecret,
  unlockHsmSecret,
} from './hsm-secret.js';

const facts = readJsonFixture('vectors/cln-hsmd-facts.json');
const header = (name: string) =>
  JSON.parse(readFileSync(fixturePath('transcripts/' + name), 'utf8').split('\n')[0]!).header;
const ABANDON = facts.hsmtool_generatehsm_node_ids[1].mnemonic as string;

/** The pytest legacy seed: (basename + 32 zero bytes)[:32] (facts notes, utils.py L912). */
const legacySeed = (basename: string) => concat(utf8(basename), new Uint8Array(32)).slice(0, 32);

function assertHsmError(f: () => unknown, code: number, extra?: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof HsmSecretError);
    assert.equal(e.code, code);
    assert.ok(e.message.startsWith(hsmSecretErrorString(code)));
    assert.equal(e.clnMessage, 'Failed to load hsm_secret: ' + e.message);
    assert.equal(e.wrongPassphrase, code === HsmSecretErrorCode.WRONG_PASSPHRASE);
    if (extra) assert.match(e.message, extra);
    else assert.equal(e.message, hsmSecretErrorString(code), 'exactly CLN\'s text');
    return true;
  });
}

test('transcript headers: 32-byte legacy and v25.12 mnemonic files', () => {
  const legacy = fromHex(header('hsmd-basic-legacy.jsonl').hsm_secret);
  const p = parseHsmSecret(legacy);
  assert.equal(p.type, 'plain');
  assert.equal(HsmSecretTypeCode[p.type], 0);
  assert.equal(toHex(unlockHsmSecret(legacy)), toHex(legacy));
  assert.equal(toHex(unlockHsmSecret(legacy, 'ignored')), toHex(legacy), 'plain ignores a passphrase');

  const mnemonicFile = fromHex(header('hsmd-basic-mnemonic.jsonl').hsm_secret);
  const m = parseHsmSecret(mnemonicFile);
  assert.equal(m.type, 'mnemonic');
  assert.equal(HsmSecretTypeCode[m.type], 2);
  assert.ok(m.type === 'mnemonic' && m.mnemonic === ABANDON);
  assert.equal(hsmSecretNeedsPassphrase(mnemonicFile), false);
  assert.equal(unlockHsmSecret(mnemonicFile).length, 64);
});

test("pytest's modern hsm_secret = 32 zero bytes + mnemonic of the legacy seed's first 16 bytes", () => {
  for (const e of facts.modern_mnemonic_hsm_secret_node_ids) {
    const entropy = legacySeed(e.lightning_dir_basename).slice(0, 16);
    assert.equal(entropyToMnemonic(entropy), e.mnemonic, e.node);
    const file = createMnemonicHsmSecret(entropy);
    assert.equal(toHex(file), toHex(concat(new Uint8Array(32), utf8(e.mnemonic))), 'no newline, no NUL');
    assert.equal(toHex(mnemonicToEntropy(e.mnemonic)!), toHex(entropy));
  }
});

test('mnemonic with passphrase (hsmtool generatehsm fact): check bytes, wrong and missing passphrase', () => {
  const g = facts.hsmtool_generatehsm_node_ids[0];
  const file = createMnemonicHsmSecret(mnemonicToEntropy(g.mnemonic)!, g.passphrase);
  assert.equal(file.slice(0, 32).some((b) => b !== 0), true, 'fact note: content[:32] != zeros');
  const p = parseHsmSecret(file);
  assert.equal(p.type, 'mnemonic-with-passphrase');
  assert.equal(HsmSecretTypeCode[p.type], 3);
  assert.equal(hsmSecretNeedsPassphrase(file), true);
  assert.equal(unlockHsmSecret(file, g.passphrase).length, 64);
  assertHsmError(() => unlockHsmSecret(file), HsmSecretErrorCode.PASSPHRASE_REQUIRED);
  assertHsmError(() => unlockHsmSecret(file, 'not the passphrase'), HsmSecretErrorCode.WRONG_PASSPHRASE);
  assertHsmError(() => unlockHsmSecret(file, ''), HsmSecretErrorCode.WRONG_PASSPHRASE);
});

test('a passphrase for a no-passphrase mnemonic is an error (PASSPHRASE_NOT_NEEDED)', () => {
  const file = concat(new Uint8Array(32), utf8(ABANDON));
  assertHsmError(() => unlockHsmSecret(file, 'x'), HsmSecretErrorCode.PASSPHRASE_NOT_NEEDED);
  assertHsmError(() => unlockHsmSecret(file, ''), HsmSecretErrorCode.PASSPHRASE_NOT_NEEDED);
});

test('invalid mnemonics as libwally sees them (English list, single spaces, checksum)', () => {
  const words = ABANDON.split(' ');
  const bad = [
    words.slice(0, 11).join(' ') + ' abandon', // checksum
    words.slice(0, 11).join(' ') + ' abou', // unknown word
    ABANDON + '\n', // a trailing newline makes "about\n"
    ABANDON.replace(' ', '  '), // double space gives an empty word
    words.slice(0, 9).join(' '), // 9 words
  ];
  for (const m of bad) {
    assert.equal(isValidMnemonic(m), false, JSON.stringify(m));
    assertHsmError(() => unlockHsmSecret(concat(new Uint8Array(32), utf8(m))), HsmSecretErrorCode.INVALID_MNEMONIC);
  }
  assert.equal(isValidMnemonic(ABANDON), true);
  for (const e of facts.modern_mnemonic_hsm_secret_node_ids) assert.equal(isValidMnemonic(e.mnemonic), true);
});

test('the mnemonic text ends at the first NUL (tal_strndup)', () => {
  const file = concat(new Uint8Array(32), utf8(ABANDON), new Uint8Array([0]), utf8('trailing junk'));
  const p = parseHsmSecret(file);
  assert.ok(p.type === 'mnemonic' && p.mnemonic === ABANDON);
  assert.equal(toHex(unlockHsmSecret(file)), toHex(unlockHsmSecret(concat(new Uint8Array(32), utf8(ABANDON)))));
});

test('73-byte encrypted form: clear error naming lightning-hsmtool decrypt', () => {
  const file = new Uint8Array(73).fill(7);
  const p = parseHsmSecret(file);
  assert.equal(p.type, 'encrypted');
  assert.equal(HsmSecretTypeCode[p.type], 1);
  assert.equal(hsmSecretNeedsPassphrase(file), true);
  assertHsmError(() => unlockHsmSecret(file), HsmSecretErrorCode.PASSPHRASE_REQUIRED, /lightning-hsmtool decrypt/);
  assertHsmError(() => unlockHsmSecret(file, 'pw'), HsmSecretErrorCode.INVALID_FORMAT, /lightning-hsmtool decrypt/);
});

test('fewer than 32 bytes is INVALID_FORMAT; error strings are CLN\'s', () => {
  assertHsmError(() => unlockHsmSecret(new Uint8Array(31)), HsmSecretErrorCode.INVALID_FORMAT);
  assert.equal(hsmSecretErrorString(HsmSecretErrorCode.WRONG_PASSPHRASE), 'Wrong passphrase');
  assert.equal(hsmSecretErrorString(HsmSecretErrorCode.PASSPHRASE_REQUIRED), 'Passphrase required but not provided');
  assert.equal(hsmSecretErrorString(99), 'Unknown error');
});

test('--recover facts: hex and codex32 recoveries write plain 32-byte files', () => {
  const [codex, hex] = facts.recover_facts;
  assert.equal(parseHsmSecret(fromHex(codex.hsm_secret_hex)).type, 'plain');
  assert.equal(toHex(fromHex(hex.hex_recover_arg)), toHex(legacySeed('lightning-1')));
});
