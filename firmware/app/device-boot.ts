/**
 * What a device opens at boot (docs/remote-protocol.md "Identities"): its storage lock, the
 * seed and the node key derived from it (the MQTT identity), the journal recovered into the
 * write-ahead core with its mirror, the policy file and the owner's key.
 */
import { toHex } from '../../signer/bytes.js';
import { ENCRYPTED_FORM_HINT, ENCRYPTED_HSM_SECRET_LEN, HsmSecretError, HsmSecretErrorCode, hsmSecretNeedsPassphrase, unlockHsmSecret } from '../../signer/keys/hsm-secret.js';
import { mirrorKey, nodePrivateKey } from '../../signer/keys/root-secrets.js';
import { DEFAULT_POLICY } from '../../signer/policy/policy.js';
import { exactFields, rollbackIds } from '../../signer/remote/refusal.js';
import { topic } from '../../signer/remote/topics.js';
import { Signer } from '../../signer/signer.js';
import type { SignerState } from '../../signer/state.js';
import type { AcceptRollback } from '../../log/journal/high-water.js';
import { openJournalFiles } from '../../log/journal/journal.js';
import { SignerCore } from '../../core/signer-core.js';
import { applyPolicyFile, checkOwnerKey } from './control.js';
import type { DeviceOptions } from './device.js';
import { JournalMirror } from './mirror.js';
import { DeviceSetupError, type DeviceConfig, type StorageLock } from './ports.js';

export interface OpenedDevice {
  readonly core: SignerCore;
  readonly nodeKey: Uint8Array;
  /** The node id in hex: the MQTT client id and topic prefix. */
  readonly deviceId: string;
  readonly config: DeviceConfig;
  readonly storageLock: StorageLock;
  readonly mirror: JournalMirror;
  /** The owner's key (owner.pub), checked; undefined when none is provisioned. */
  readonly ownerKey: string | undefined;
}

/**
 * Takes the storage lock, unlocks the seed, recovers the journal and applies the policy file.
 * Throws DeviceSetupError (missing or locked hsm_secret), JournalCorruptError or
 * JournalRollbackError (the journal ends below its high-water mark), the lock released.
 */
export function openDevice(options: DeviceOptions): OpenedDevice {
  const { store, curve } = options;
  const config = store.config();
  const storageLock = store.lock();
  try {
    if (storageLock.note) options.log('unusual', storageLock.note);
    const file = store.hsmSecret();
    const secretData = unlockSeed(file, store.passphrase());
    const nodeKey = nodePrivateKey(curve, secretData);
    const deviceId = toHex(curve.publicKey(nodeKey));
    let opened: SignerCore | undefined; // the mirror's snapshots are the core's, which needs the mirror to open
    const mirror = new JournalMirror({
      key: mirrorKey(secretData),
      dir: store.journalDir(),
      clock: options.clock,
      publish: (payload) => options.transport.publish(topic(deviceId, 'journal'), payload, { qos: 0 }),
      log: options.log,
      snapshotNeeded: () => opened?.snapshotSoon(),
      outboxBytes: options.mirrorOutboxBytes,
    });
    const makeSigner = (state: SignerState) =>
      new Signer({ curve, developer: options.developer ?? false, policy: options.policy, readHsmSecret: () => file, keyCacheLimits: options.keyCacheLimits }, state);
    const { core } = SignerCore.open(openJournalFiles(store.journalDir()), makeSigner, {
      // The mark rises on the device's timer, not with every sync (device.ts MARK_RAISE_MS).
      markAtFlush: true,
      ...options.core,
      acceptRollback: options.core?.acceptRollback ?? acceptedRollback(config),
      mark: store.highWaterMark(deviceId),
      log: (line) => options.log('unusual', line),
      observer: mirror, // told what recovery found (JournalMirror.recovered) before open returns
    });
    opened = core;
    const policyFile = store.policyFile();
    const applied = policyFile && applyPolicyFile(core, policyFile, options.policy ?? DEFAULT_POLICY, options.clock);
    if (applied) options.log('info', applied);
    const owner = store.ownerKey();
    const ownerKey = owner === undefined ? undefined : checkOwnerKey(owner, deviceId);
    if (owner === undefined) options.log('unusual', 'no owner key (owner.pub in the data directory): control commands are refused until one is provisioned (sphinx-ctl keygen)');
    return { core, nodeKey, deviceId, config, storageLock, mirror, ownerKey };
  } catch (e) {
    storageLock.release();
    throw e;
  }
}

/**
 * The rollback the configuration accepts (DeviceConfig.acceptJournalRollback: the two ids a
 * JournalRollbackError names), none if it names none; DeviceSetupError if it is malformed.
 */
export function acceptedRollback(config: DeviceConfig): AcceptRollback {
  const given = config.acceptJournalRollback;
  if (given === undefined) return false;
  const fields = exactFields(given, ['answeredUpTo', 'lastId']);
  const ids = fields instanceof Error ? fields : rollbackIds(fields);
  if (ids instanceof Error) {
    throw new DeviceSetupError(`acceptJournalRollback in the configuration: ${ids.message}; give the two ids the high-water refusal names (docs/journal.md "Rollback"), or remove it`);
  }
  return ids;
}

/** What to do about an hsm_secret the device cannot use, by CLN's error code (docs/hsmd-protocol.md). */
const FORMS_HINT: Readonly<Partial<Record<number, string>>> = {
  [HsmSecretErrorCode.INVALID_FORMAT]: ': copy the node\'s own hsm_secret unchanged (lightningd\'s <lightning-dir>/<network>/hsm_secret: 32 bytes, ' +
    'or a BIP 39 mnemonic file longer than 32 bytes)',
  [HsmSecretErrorCode.INVALID_MNEMONIC]: ': its BIP 39 words do not check out; copy the node\'s hsm_secret unchanged',
};

/** secret_data for the node key; the fix in the error if the passphrase is missing or wrong. */
export function unlockSeed(file: Uint8Array, passphrase: string | undefined): Uint8Array {
  if (file.length === ENCRYPTED_HSM_SECRET_LEN) throw new DeviceSetupError(`hsm_secret cannot be used: ${ENCRYPTED_FORM_HINT}`);
  if (hsmSecretNeedsPassphrase(file) && passphrase === undefined) {
    throw new DeviceSetupError('hsm_secret is a mnemonic with a passphrase: the device needs that passphrase to derive its node key; configure it and restart');
  }
  try {
    return unlockHsmSecret(file, passphrase);
  } catch (e) {
    if (e instanceof HsmSecretError) throw new DeviceSetupError(`hsm_secret cannot be unlocked: ${e.message} (${file.length} bytes)${FORMS_HINT[e.code] ?? ''}`);
    throw e;
  }
}
