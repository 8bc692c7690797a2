/**
 * unlockSeed's errors say what the owner does: a file in none of CLN's forms names its size
 * and what to copy; the legacy 73-byte encrypted form, how to convert it (docs/hsmd-protocol.md).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { ENCRYPTED_FORM_HINT } from '../../signer/keys/hsm-secret.js';
import { unlockSeed } from './device-boot.js';
import { DeviceSetupError } from './ports.js';

test('an hsm_secret the device cannot use names its size and the fix; the encrypted form says how to convert it', () => {
  const plain = new Uint8Array(32).fill(1);
  assert.deepEqual(unlockSeed(plain, undefined), plain, 'the plain form is the seed');
  assert.throws(() => unlockSeed(new Uint8Array(20).fill(1), undefined), (e: Error) =>
    e instanceof DeviceSetupError && /Invalid hsm_secret format \(20 bytes\): copy the node's own hsm_secret unchanged/.test(e.message));
  assert.throws(() => unlockSeed(new Uint8Array(73).fill(1), undefined), (e: Error) =>
    e instanceof DeviceSetupError && e.message.includes(ENCRYPTED_FORM_HINT) && !/mnemonic/.test(e.message));
});
