/**
 * The KeyRing: every key hsmd derives from `secret_data`, computed on first use and memoized.
 *
 * Pure-JS secp256k1 costs a millisecond or more per G multiplication, and a session repeats
 * the same derivations (≈60 check_pubkey at start-up, hundreds of per-channel operations), so:
 * - node key, node id, BIP 32 master, m/0/0, bolt12 base, BIP 86 base, derived-secret base
 *   and channel base: computed once per KeyRing;
 * - wallet keys m/0/0/k, BIP 86 keys base/0/k and ChannelKeys per (peer, dbid): kept in
 *   LRU caches (limits in KeyRingOptions.cacheLimits; an evicted entry is simply recomputed).
 * Returned arrays are shared with the caches: callers must not modify them.
 * BIP 32 version bytes never affect derivation, only serialization (the *Xpub methods).
 */
import { toHex } from '../bytes.js';
import type { Curve } from '../crypto/curve.js';
import { Bip32Version, HARDENED, deriveChild, masterKeyFromSeed, serializeExtendedKey, type ExtendedKey } from './bip32.js';
import { ChannelKeys, channelSeed, deriveChannelSecrets, type ChannelSecrets } from './channel-keys.js';
import { HsmSecretTypeCode } from './hsm-secret.js';
import { Lru } from './lru.js';
import {
  bip32MasterKey,
  bip86BaseKey,
  channelBase,
  deriveSecretFrom,
  derivedSecretsBase,
  isMnemonicSecret,
  nodePrivateKey,
} from './root-secrets.js';

/** A private key with its compressed public key. */
export interface KeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export interface KeyRingOptions {
  /**
   * enum hsm_secret_type for the init reply's TLV 1 (HsmSecretTypeCode[parseHsmSecret(file).type]).
   * Default: plain (0) for 32 bytes, mnemonic without passphrase (2) for 64 bytes — pass 3
   * for a passphrase-protected mnemonic, which secret_data alone cannot reveal.
   */
  secretType?: number;
  /** Cache sizes. Defaults: 1024 wallet keys, 1024 BIP 86 keys, 256 channels. */
  cacheLimits?: { walletKeys?: number; bip86Keys?: number; channels?: number };
  /** hsmd_init's --developer overrides (libhsmd.c node_key, hsmd_init, derive_keys). */
  dev?: {
    forcePrivkey?: Uint8Array;
    forceBip32Seed?: Uint8Array;
    forceChannelSecrets?: Omit<ChannelSecrets, 'shaseed'>;
    forceChannelShaseed?: Uint8Array;
  };
}

/** Extended keys are derived with this private version; serialization chooses its own. */
const DERIVATION_VERSION = Bip32Version.testPrivate;

export class KeyRing {
  readonly curve: Curve;
  /** enum hsm_secret_type (see KeyRingOptions.secretType). */
  readonly secretType: number;
  private readonly secretData: Uint8Array;
  private readonly dev: NonNullable<KeyRingOptions['dev']>;
  private node?: KeyPair;
  private master?: ExtendedKey;
  private wallet?: ExtendedKey;
  private bolt12?: KeyPair;
  private bip86?: ExtendedKey;
  private bip86Receive?: ExtendedKey;
  private derivedBase?: Uint8Array;
  private chanBase?: Uint8Array;
  private readonly walletKeys: Lru<number, KeyPair>;
  private readonly bip86Keys: Lru<number, KeyPair>;
  private readonly channels: Lru<string, ChannelKeys>;

  /** `secretData` is unlockHsmSecret's result: 32 bytes (legacy) or 64 (mnemonic seed). */
  constructor(curve: Curve, secretData: Uint8Array, opts: KeyRingOptions = {}) {
    if (secretData.length !== 32 && secretData.length !== 64) throw new RangeError('secret_data must be 32 or 64 bytes');
    this.curve = curve;
    this.secretData = secretData.slice();
    this.secretType = opts.secretType ?? (secretData.length === 64 ? HsmSecretTypeCode.mnemonic : HsmSecretTypeCode.plain);
    this.dev = opts.dev ?? {};
    const limits = opts.cacheLimits ?? {};
    this.walletKeys = new Lru(limits.walletKeys ?? 1024);
    this.bip86Keys = new Lru(limits.bip86Keys ?? 1024);
    this.channels = new Lru(limits.channels ?? 256);
  }

  // ---- node key (libhsmd.c node_key) ----

  private get nodeKeys(): KeyPair {
    if (!this.node) {
      const privateKey = this.dev.forcePrivkey?.slice() ?? nodePrivateKey(this.curve, this.secretData);
      this.node = { privateKey, publicKey: this.curve.publicKey(privateKey) };
    }
    return this.node;
  }

  /** node_key's private key (ECDH, gossip, invoices, messages, BOLT 12). */
  get nodePrivateKey(): Uint8Array {
    return this.nodeKeys.privateKey;
  }

  /** The 33-byte node id. */
  get nodeId(): Uint8Array {
    return this.nodeKeys.publicKey;
  }

  // ---- BIP 32 wallet (hsmd_init, bitcoin_key) ----

  /** The BIP 32 master of the HKDF'd "bip32 seed" (or dev_force_bip32_seed). */
  private get masterKey(): ExtendedKey {
    if (!this.master) {
      const forced = this.dev.forceBip32Seed;
      const m = forced
        ? masterKeyFromSeed(this.curve, forced, DERIVATION_VERSION)
        : bip32MasterKey(this.curve, this.secretData, DERIVATION_VERSION);
      if (!m) throw new Error("Can't derive bip32 master key");
      this.master = m;
    }
    return this.master;
  }

  /** Wallet base m/0/0 (secretstuff.bip32). */
  get walletBase(): ExtendedKey {
    return (this.wallet ??= deriveChild(this.curve, deriveChild(this.curve, this.masterKey, 0), 0));
  }

  /**
   * The init reply's 78-byte xpub of m/0/0 (towire_ext_key). CLN serializes with the public
   * twin of bip32_key_version's private version, which is the public version lightningd sends.
   */
  walletBaseXpub(publicVersion: number): Uint8Array {
    return serializeExtendedKey({ ...this.walletBase, privateKey: undefined, version: publicVersion });
  }

  /** bitcoin_key: m/0/0/index, index < 2^31. */
  walletKey(index: number): KeyPair {
    checkUnhardened(index);
    return this.walletKeys.getOrCreate(index, () => keyPairOf(deriveChild(this.curve, this.walletBase, index)));
  }

  walletPublicKey = (index: number): Uint8Array => this.walletKey(index).publicKey;
  walletPrivateKey = (index: number): Uint8Array => this.walletKey(index).privateKey;

  // ---- bolt12 base (hsmd_init: m/9735') ----

  /** secretstuff.bolt12: the key of m/9735'. */
  get bolt12Base(): KeyPair {
    return (this.bolt12 ??= keyPairOf(deriveChild(this.curve, this.masterKey, HARDENED + 9735)));
  }

  get bolt12PrivateKey(): Uint8Array {
    return this.bolt12Base.privateKey;
  }

  /** The init reply's bolt12 pubkey. */
  get bolt12PublicKey(): Uint8Array {
    return this.bolt12Base.publicKey;
  }

  // ---- BIP 86 (mnemonic secrets only) ----

  /** use_bip86_derivation: a 64-byte (mnemonic) secret. */
  get hasBip86(): boolean {
    return isMnemonicSecret(this.secretData);
  }

  /** derive_bip86_base_key: m/86'/0'/0' of the raw BIP 39 seed; undefined for legacy secrets. */
  get bip86Base(): ExtendedKey | undefined {
    if (!this.hasBip86) return undefined;
    return (this.bip86 ??= bip86BaseKey(this.curve, this.secretData, DERIVATION_VERSION));
  }

  /** The init reply's bip86_base TLV (78-byte xpub); throws for legacy secrets. */
  bip86BaseXpub(publicVersion: number): Uint8Array {
    return serializeExtendedKey({ ...this.requireBip86(), privateKey: undefined, version: publicVersion });
  }

  /** bip86_key: base/0/index, index < 2^31. Throws for a legacy secret, as hsmd does. */
  bip86Key(index: number): KeyPair {
    checkUnhardened(index);
    const receive = (this.bip86Receive ??= deriveChild(this.curve, this.requireBip86(), 0));
    return this.bip86Keys.getOrCreate(index, () => keyPairOf(deriveChild(this.curve, receive, index)));
  }

  bip86PublicKey = (index: number): Uint8Array => this.bip86Key(index).publicKey;
  bip86PrivateKey = (index: number): Uint8Array => this.bip86Key(index).privateKey;

  private requireBip86(): ExtendedKey {
    const base = this.bip86Base;
    if (!base) throw new Error('BIP86 derivation requires full 64-byte BIP32 seed (not available in legacy format)');
    return base;
  }

  // ---- derived secrets and channels ----

  /** handle_derive_secret / makesecret / sign_bolt12_2's base: HKDF(derived_secret, info). */
  deriveSecret(info: Uint8Array): Uint8Array {
    this.derivedBase ??= derivedSecretsBase(this.secretData);
    return deriveSecretFrom(this.derivedBase, info);
  }

  /** get_channel_seed of (peer, dbid). */
  channelSeed(peerId: Uint8Array, dbid: bigint): Uint8Array {
    this.chanBase ??= channelBase(this.secretData);
    return channelSeed(this.chanBase, peerId, dbid);
  }

  /** The channel's keys (derive_keys + basepoints + shachain), cached per (peer, dbid). */
  channel(peerId: Uint8Array, dbid: bigint): ChannelKeys {
    return this.channels.getOrCreate(toHex(peerId) + '/' + dbid.toString(), () => {
      let secrets = deriveChannelSecrets(this.channelSeed(peerId, dbid));
      const { forceChannelSecrets, forceChannelShaseed } = this.dev;
      if (forceChannelSecrets) secrets = { ...secrets, ...forceChannelSecrets };
      if (forceChannelShaseed) secrets = { ...secrets, shaseed: forceChannelShaseed };
      return new ChannelKeys(this.curve, secrets);
    });
  }
}

/** A KeyRing for unlocked `secret_data` (see KeyRingOptions). */
export const openKeyRing = (curve: Curve, secretData: Uint8Array, opts: KeyRingOptions = {}): KeyRing =>
  new KeyRing(curve, secretData, opts);

function keyPairOf(k: ExtendedKey): KeyPair {
  return { privateKey: k.privateKey!, publicKey: k.publicKey };
}

/** bitcoin_key / bip86_key: "Index %u too great" for hardened indices. */
function checkUnhardened(index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= HARDENED) throw new RangeError(`Index ${index} too great`);
}
