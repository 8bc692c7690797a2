/**
 * What hsmd derives from `secret_data` alone (hsmd/libhsmd.c, docs/hsmd-protocol.md#key-derivation). Pure
 * functions; the KeyRing (node-keys.ts) memoizes them.
 * `secret_data` is 32 bytes (legacy) or the 64-byte BIP 39 seed (mnemonic); some rules use
 * only its first 32 bytes, others all of it, as noted on each.
 */
import { u32le } from '../bytes.js';
import type { Curve } from '../crypto/curve.js';
import { HARDENED, derivePath, masterKeyFromSeed, type ExtendedKey } from './bip32.js';
import { hkdfSha256 } from './hkdf.js';

/** is_mnemonic_secret / use_bip86_derivation: a 64-byte secret came from a mnemonic. */
export const isMnemonicSecret = (secretData: Uint8Array): boolean => secretData.length === 64;

function checkSecret(secretData: Uint8Array): void {
  if (secretData.length !== 32 && secretData.length !== 64) throw new RangeError('secret_data must be 32 or 64 bytes');
}

/**
 * node_key: HKDF(salt = u32 counter LITTLE-endian from 0, IKM = secret_data[0:32],
 * info "nodeid"), counter incremented until the key is valid.
 */
export function nodePrivateKey(curve: Curve, secretData: Uint8Array): Uint8Array {
  checkSecret(secretData);
  const ikm = secretData.subarray(0, 32); // "Use first 32 bytes for node key derivation"
  for (let salt = 0; ; salt++) {
    const key = hkdfSha256(ikm, u32le(salt), 'nodeid');
    if (curve.isPrivateKey(key)) return key;
  }
}

/**
 * hsmd_init: bip32_seed = HKDF(salt = u32 counter LE, IKM = ALL of secret_data,
 * info "bip32 seed"), counter incremented until bip32_key_from_seed accepts it.
 */
export function bip32MasterKey(curve: Curve, secretData: Uint8Array, privateVersion: number): ExtendedKey {
  checkSecret(secretData);
  for (let salt = 0; ; salt++) {
    const seed = hkdfSha256(secretData, u32le(salt), 'bip32 seed');
    const master = masterKeyFromSeed(curve, seed, privateVersion);
    if (master) return master;
  }
}

/** hsmd_init: derived_secret = HKDF(salt ∅, IKM = ALL of secret_data, info "derived secrets"). */
export function derivedSecretsBase(secretData: Uint8Array): Uint8Array {
  checkSecret(secretData);
  return hkdfSha256(secretData, undefined, 'derived secrets');
}

/** handle_derive_secret (and sign_bolt12_2's base): HKDF(salt ∅, IKM = derived_secret, info). */
export const deriveSecretFrom = (base: Uint8Array, info: Uint8Array): Uint8Array => hkdfSha256(base, undefined, info);

/** hsm_channel_secret_base: HKDF(salt ∅, IKM = secret_data[0:32], info "peer seed"). */
export function channelBase(secretData: Uint8Array): Uint8Array {
  checkSecret(secretData);
  return hkdfSha256(secretData.subarray(0, 32), undefined, 'peer seed');
}

/** BIP 86 account path CLN uses on every network: m/86'/0'/0'. */
export const BIP86_BASE_PATH: readonly number[] = [86 + HARDENED, HARDENED, HARDENED];

/**
 * derive_bip86_base_key: BIP 32 master of the raw 64-byte BIP 39 seed (no HKDF), then
 * m/86'/0'/0'. Mnemonic secrets only.
 */
export function bip86BaseKey(curve: Curve, secretData: Uint8Array, privateVersion: number): ExtendedKey {
  if (!isMnemonicSecret(secretData)) throw new Error('BIP 86 derivation requires the 64-byte BIP 39 seed');
  const master = masterKeyFromSeed(curve, secretData, privateVersion);
  if (!master) throw new Error('Failed to create master key from BIP32 seed');
  return derivePath(curve, master, BIP86_BASE_PATH);
}

/**
 * The journal mirror's MAC key (docs/journal.md "Mirror"; ours, not CLN's): HKDF(salt ∅,
 * IKM = ALL of secret_data, info "sphinx journal mirror"), as hsmd derives its other
 * secrets. Every device with the seed has it; the broker storing the mirror does not.
 */
export function mirrorKey(secretData: Uint8Array): Uint8Array {
  checkSecret(secretData);
  return hkdfSha256(secretData, undefined, 'sphinx journal mirror');
}
