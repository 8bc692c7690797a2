/**
 * The Store port on a data directory (sphinx-signer --data DIR): DIR/hsm_secret (the file
 * lightningd's hsmd would use, any of CLN's forms), the journal, its snapshot slots and the
 * high-water mark's slot files (high-water.ts) in DIR itself, the owner's key (DIR/owner.pub)
 * and policy (DIR/policy.json) if present, the retired marker (DIR/retired, retired.ts), the
 * passphrase and configuration from the command line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FileDir, FilePort } from '../../log/file-port.js';
import { slotMark } from '../../log/journal/high-water.js';
import { DeviceSetupError, type DeviceConfig, type HighWaterMark, type StorageLock, type Store } from '../app/ports.js';
import { DirLockedError, lockDir, staleLockNote } from '../../node/dir-lock.js';
import { OWNER_KEY_FILE, POLICY_FILE } from '../app/control.js';
import { RETIRED_FILE } from '../app/retired.js';
import { NodeDir } from '../../node/node-file.js';

export class NodeStore implements Store {
  readonly #dir: NodeDir;

  constructor(
    readonly dataDir: string,
    /** `copyOf`: --restore or --spare, whose seed must be the node's own (a new one is no use). */
    private readonly settings: DeviceConfig & { readonly passphrase?: string; readonly copyOf?: '--restore' | '--spare' },
  ) {
    this.#dir = new NodeDir(dataDir);
  }

  /** DIR/sphinx.lock (dir-lock.ts): a second sphinx-signer on DIR refuses to start. */
  lock(): StorageLock {
    try {
      const lock = lockDir(this.dataDir, 'sphinx-signer');
      const note = staleLockNote(lock);
      return { release: lock.release, ...(note ? { note } : {}) };
    } catch (e) {
      if (e instanceof DirLockedError) throw new DeviceSetupError(e.message);
      throw e;
    }
  }

  hsmSecret(): Uint8Array {
    const path = join(this.dataDir, 'hsm_secret');
    try {
      return new Uint8Array(readFileSync(path));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw new DeviceSetupError(`cannot read ${path} (${code ?? (e as Error).message}): it must be the node's seed, a file this user can read`);
      throw new DeviceSetupError(
        `no hsm_secret in ${this.dataDir}. Copy your node's seed there (lightningd keeps it as ` +
          `<lightning-dir>/<network>/hsm_secret): cp ~/.lightning/bitcoin/hsm_secret ${path} && chmod 0400 ${path}; ` +
          (this.settings.copyOf
            ? `${this.settings.copyOf} needs that same seed, byte for byte: a new one would not match the node or its mirror`
            : `or, for a new node, create one with Core Lightning's tool: lightning-hsmtool generatehsm ${path}`),
      );
    }
  }

  passphrase(): string | undefined {
    return this.settings.passphrase;
  }

  config(): DeviceConfig {
    return { mqttUrl: this.settings.mqttUrl, brokerId: this.settings.brokerId };
  }

  journalDir(): FileDir {
    return this.#dir;
  }

  highWaterMark(): HighWaterMark {
    return slotMark(this.#dir, join(this.dataDir, 'high-water-{a,b}'));
  }

  retiredMarker(): FilePort | undefined {
    return existsSync(join(this.dataDir, RETIRED_FILE)) ? this.#dir.open(RETIRED_FILE) : undefined;
  }

  ownerKey(): string | undefined {
    const path = join(this.dataDir, OWNER_KEY_FILE);
    return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  }

  policyFile(): Uint8Array | undefined {
    const path = join(this.dataDir, POLICY_FILE);
    return existsSync(path) ? new Uint8Array(readFileSync(path)) : undefined;
  }
}
