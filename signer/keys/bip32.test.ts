/**
 * BIP 32 test vectors 1-5 (bip32.json): every derivation from the seed (private chain), the
 * public-only derivation of every non-hardened step, serialization round trips, and every
 * invalid extended key of vector 5 rejected for the stated reason.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readJsonFixture } from '../../test/fixtures.js';
import { fromHex, toHex } from '../bytes.js';
import { nobleCurve as curve } from '../crypto/noble.js';
import {
  Bip32Version,
  HARDENED,
  deriveChild,
  extendedKeyToString,
  fingerprint,
  masterKeyFromSeed,
  neuter,
  parseExtendedKeyString,
  parsePath,
  serializeExtendedKey,
} from './bip32.js';

const bip32 = readJsonFixture('vectors/bip32.json');

test('vectors 1-4: private and public derivations give the published xprv/xpub', () => {
  let derivations = 0;
  for (const v of bip32.vectors.filter((x: any) => x.chains)) {
    const master = masterKeyFromSeed(curve, fromHex(v.seed_hex), Bip32Version.mainPrivate);
    assert.ok(master, `vector ${v.vector} master`);
    let key = master;
    let parentPath: number[] = [];
    for (const c of v.chains) {
      const path = parsePath(c.path);
      // Each chain extends the previous one by one step (BIP 32's listing).
      assert.deepEqual(path.slice(0, parentPath.length), parentPath);
      const parent = key;
      for (const i of path.slice(parentPath.length)) key = deriveChild(curve, key, i);
      parentPath = path;
      assert.equal(extendedKeyToString(key, { private: true }), c.ext_prv, `${v.vector} ${c.path} prv`);
      assert.equal(extendedKeyToString(key), c.ext_pub, `${v.vector} ${c.path} pub`);
      const last = path[path.length - 1];
      if (last !== undefined && last < HARDENED) {
        // CKDpub from the parent's public key alone gives the same public child.
        const pubChild = deriveChild(curve, neuter(parent), last);
        assert.equal(extendedKeyToString(pubChild), c.ext_pub, `${v.vector} ${c.path} CKDpub`);
      }
      // Parsing gives the key back.
      const parsedPrv = parseExtendedKeyString(curve, c.ext_prv);
      assert.equal(toHex(parsedPrv.privateKey!), toHex(key.privateKey!));
      assert.equal(toHex(serializeExtendedKey(parseExtendedKeyString(curve, c.ext_pub))), toHex(serializeExtendedKey(key)));
      derivations++;
    }
  }
  assert.equal(derivations, bip32.counts.derivations);
});

test('fingerprints link children to parents', () => {
  const master = masterKeyFromSeed(curve, fromHex(bip32.vectors[0].seed_hex), Bip32Version.mainPrivate)!;
  const child = deriveChild(curve, master, HARDENED);
  assert.equal(toHex(child.parentFingerprint), toHex(fingerprint(master)));
  // BIP 32 vector 1's master fingerprint (the m/0H xpub's parent field) is 3442193e.
  assert.equal(toHex(fingerprint(master)), toHex(parseExtendedKeyString(curve, bip32.vectors[0].chains[1].ext_pub).parentFingerprint));
  assert.throws(() => deriveChild(curve, neuter(master), HARDENED), /hardened/);
});

test('vector 5: every invalid extended key is rejected for its reason', () => {
  const keys = bip32.vectors[4].invalid_keys;
  assert.equal(keys.length, bip32.counts.invalid_keys);
  for (const k of keys) {
    // Our messages are the reasons, except the private-key range ones which share a suffix.
    const expected = String(k.reason).startsWith('private key') ? 'not in 1..n-1' : k.reason;
    assert.throws(() => parseExtendedKeyString(curve, k.key), (e: Error) => e.message.includes(expected), k.reason);
  }
});
