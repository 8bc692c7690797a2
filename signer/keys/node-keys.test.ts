/**
 * KeyRing derivations against CLN's pytest facts (cln-hsmd-facts.json): legacy `lightning-N`
 * and mnemonic node ids and keys, hsmtool generatehsm node ids, makesecret("scb secret");
 * plus the memo caches and hsmd's index checks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readJsonFixture } from '../../test/fixtures.js';
import { concat, fromHex, toHex, utf8 } from '../bytes.js';
import { nobleCurve as curve } from '../crypto/noble.js';
import { mnemonicToEntropy } from './bip39.js';
import { HARDENED } from './bip32.js';
import { createMnemonicHsmSecret, unlockHsmSecret } from './hsm-secret.js';
import { KeyRing } from './node-keys.js';

const facts = readJsonFixture('vectors/cln-hsmd-facts.json');
const legacySeed = (basename: string) => concat(utf8(basename), new Uint8Array(32)).slice(0, 32);
const mnemonicRing = (mnemonic: string, passphrase?: string) =>
  new KeyRing(curve, unlockHsmSecret(createMnemonicHsmSecret(mnemonicToEntropy(mnemonic)!, passphrase), passphrase));
const priv32 = (withMarker: string) => toHex(fromHex(withMarker).slice(0, 32));

test('legacy lightning-N hsm_secrets give the pytest node ids and node keys', () => {
  for (const e of facts.legacy_hsm_secret_node_ids) {
    const ring = new KeyRing(curve, legacySeed(e.lightning_dir_basename));
    assert.equal(toHex(ring.nodeId), e.node_id, e.node);
    if (e.node_privkey_with_compressed_marker) assert.equal(toHex(ring.nodePrivateKey), priv32(e.node_privkey_with_compressed_marker));
    assert.equal(ring.hasBip86, false);
    assert.equal(ring.bip86Base, undefined);
  }
});

test('mnemonic hsm_secrets (32 zero bytes + words) give the pytest node ids and node keys', () => {
  for (const e of facts.modern_mnemonic_hsm_secret_node_ids) {
    const file = concat(new Uint8Array(32), utf8(e.mnemonic));
    const ring = new KeyRing(curve, unlockHsmSecret(file));
    assert.equal(toHex(ring.nodeId), e.node_id, e.node);
    assert.equal(toHex(ring.nodePrivateKey), priv32(e.node_privkey_with_compressed_marker));
    assert.equal(ring.hasBip86, true);
  }
});

test('secretType: by length unless given (a passphrase mnemonic must say 3)', () => {
  assert.equal(new KeyRing(curve, legacySeed('lightning-1')).secretType, 0);
  const seed = unlockHsmSecret(concat(new Uint8Array(32), utf8(facts.hsmtool_generatehsm_node_ids[1].mnemonic)));
  assert.equal(new KeyRing(curve, seed).secretType, 2);
  assert.equal(new KeyRing(curve, seed, { secretType: 3 }).secretType, 3);
});

test('hsmtool generatehsm facts: mnemonic with and without passphrase', () => {
  for (const g of facts.hsmtool_generatehsm_node_ids) {
    const ring = mnemonicRing(g.mnemonic, g.passphrase === '' ? undefined : g.passphrase);
    assert.equal(toHex(ring.nodeId), g.node_id, g.mnemonic);
  }
});

test('makesecret("scb secret") for l1, mnemonic and legacy hsm_secret', () => {
  const m = facts.makesecret;
  assert.equal(toHex(utf8(m.input_string)), m.input_hex);
  const modern = facts.modern_mnemonic_hsm_secret_node_ids.find((e: any) => e.node === 'l1');
  // The note: makesecret depends on hsm_secret, not on the node key (dev-force-privkey is set).
  const ring = new KeyRing(curve, unlockHsmSecret(concat(new Uint8Array(32), utf8(modern.mnemonic))), {
    dev: { forcePrivkey: fromHex(m.dev_force_privkey) },
  });
  assert.equal(toHex(ring.deriveSecret(fromHex(m.input_hex))), m.expected_secret);
  assert.equal(toHex(ring.nodeId), toHex(curve.publicKey(fromHex(m.dev_force_privkey))));
  const legacy = new KeyRing(curve, legacySeed('lightning-1'));
  assert.equal(toHex(legacy.deriveSecret(fromHex(m.input_hex))), m.previous_value_with_legacy_hsm_secret);
});

test('derived keys are memoized; bounded caches recompute the same values', () => {
  const ring = new KeyRing(curve, legacySeed('lightning-1'), { cacheLimits: { walletKeys: 2, channels: 1 } });
  const k0 = ring.walletKey(0);
  assert.equal(ring.walletKey(0), k0, 'same object from the cache');
  ring.walletKey(1);
  ring.walletKey(2); // evicts 0
  const again = ring.walletKey(0);
  assert.notEqual(again, k0);
  assert.equal(toHex(again.publicKey), toHex(k0.publicKey));
  const peer = fromHex(facts.legacy_hsm_secret_node_ids[1].node_id);
  const ch = ring.channel(peer, 1n);
  assert.equal(ring.channel(peer, 1n), ch);
  assert.equal(ch.perCommitmentPoint(5n), ch.perCommitmentPoint(5n));
  const other = ring.channel(peer, 2n);
  assert.notEqual(toHex(other.fundingPublicKey), toHex(ch.fundingPublicKey), 'dbid is part of the seed');
  assert.equal(ring.walletBase, ring.walletBase);
});

test("hsmd's checks: hardened wallet indices and BIP 86 on legacy secrets fail", () => {
  const ring = new KeyRing(curve, legacySeed('lightning-1'));
  assert.throws(() => ring.walletKey(HARDENED), /too great/);
  assert.throws(() => ring.bip86Key(0), /BIP86/);
  assert.throws(() => ring.bip86BaseXpub(0x043587cf), /BIP86/);
  assert.throws(() => new KeyRing(curve, new Uint8Array(33)));
});

test('dev_force_channel_secrets and shaseed replace derive_keys output', () => {
  const ring0 = new KeyRing(curve, legacySeed('lightning-2'));
  const peer = fromHex(facts.legacy_hsm_secret_node_ids[0].node_id);
  const s = ring0.channel(peer, 7n).secrets;
  const forced = new KeyRing(curve, legacySeed('lightning-3'), {
    dev: { forceChannelSecrets: s, forceChannelShaseed: s.shaseed },
  });
  const f = forced.channel(peer, 99n);
  assert.deepEqual(f.secrets, s);
  assert.equal(toHex(f.perCommitmentPoint(0n)), toHex(ring0.channel(peer, 7n).perCommitmentPoint(0n)));
});
