/**
 * A spare device (docs/journal.md "Spare and failover"; `sphinx-signer --spare`): a second
 * device with the same seed, connected but not active. It stays off the device's own MQTT
 * session (client id `<device id>-spare`, no will, subscribed only to the device's retained
 * `status`), so every request goes to the primary alone. When the primary's status turns
 * `offline` (its will after a crash, or a clean stop), the spare takes over only after it
 * has applied every mirrored record of the primary: it fetches the broker's mirror and
 * restores from it (restore.ts: MAC chain checked, and not older than the broker's reply log
 * shows answered), then boots as the device. The broker also refuses a hello whose journal is
 * behind what it answered, so a spare that could not catch up is never used. Requests the
 * primary had not journaled get fresh ids at the spare's hello: no id is decided by both.
 */
import { toHex } from '../../signer/bytes.js';
import { nodePrivateKey } from '../../signer/keys/root-secrets.js';
import { makeCredentials } from '../../signer/remote/auth-token.js';
import { DEVICE_STATUS, topic } from '../../signer/remote/topics.js';
import { unlockSeed } from './device-boot.js';
import { emptyJournal, type RestoreOptions } from './restore.js';
import { refuseIfRetired } from './retired.js';
import type { StorageLock } from './ports.js';

/** Between attempts to reach the broker while standing by. */
const RETRY_MS = 1000;

/**
 * Resolves once the primary (same seed) is offline, with the storage lock still held: the
 * caller restores (restore.ts, given the lock) and boots on it, so no other process can take
 * the directory in between. Throws
 * DeviceRetiredError at once on storage holding the retired marker (retired.ts): a spare
 * starts on an empty directory (docs/journal.md "Retiring a device").
 */
export async function standBy(options: Pick<RestoreOptions, 'transport' | 'store' | 'clock' | 'curve' | 'log'>): Promise<StorageLock> {
  const { transport, store, clock, curve, log } = options;
  refuseIfRetired(store, log);
  const nodeKey = nodePrivateKey(curve, unlockSeed(store.hsmSecret(), store.passphrase()));
  const deviceId = toHex(curve.publicKey(nodeKey));
  const config = store.config();
  const statusTopic = topic(deviceId, 'status');
  // Checked now, not at the takeover: a spare that cannot take over must say so at once.
  const lock = store.lock();
  try {
    emptyJournal(store.journalDir(), '--spare');
    await new Promise<void>((resolve) => {
      let done = false;
      const attempt = (): void => {
        const { username, password } = makeCredentials(curve, nodeKey, config.brokerId, clock.now(), 0n);
        transport.connect(
          { url: config.mqttUrl, clientId: `${deviceId}-spare`, username, password },
          {
            connected: () => {
              log('info', `spare: standing by for device ${deviceId} (requests go to the primary while it is online)`);
              transport.subscribe([statusTopic]).catch((e: Error) => log('unusual', `spare: subscribing to ${statusTopic}: ${e.message}`));
            },
            message: (name, payload) => {
              if (name !== statusTopic || done) return;
              const status = new TextDecoder().decode(payload);
              log('info', `spare: the primary is ${status}`);
              if (status !== DEVICE_STATUS.offline) return;
              done = true;
              resolve();
            },
            disconnected: (reason) => {
              if (done) return;
              log('unusual', `spare: cannot reach the broker at ${config.mqttUrl} (${reason}); retrying in ${RETRY_MS / 1000} s`);
              clock.after(RETRY_MS, attempt);
            },
          },
        );
      };
      attempt();
    });
  } catch (e) {
    lock.release();
    throw e;
  } finally {
    await transport.end().catch(() => undefined);
  }
  log('unusual', `spare: taking over device ${deviceId}: catching up from the broker's mirror first`);
  return lock;
}
