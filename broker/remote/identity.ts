/**
 * The broker's identity and the devices it lets in (docs/remote-protocol.md "Identities",
 * "Connecting"): the broker id (random 16 bytes hex, created once in
 * `SPHINX_DATA_DIR/broker-id`), and the known device keys: `SPHINX_DEVICE_KEYS`, the node id
 * lightningd's init revealed, and, only when no key is configured, the first device that
 * authenticates, pinned in `SPHINX_DATA_DIR/pinned-devices`; and the tokens already used
 * (`SPHINX_DATA_DIR/used-tokens`), so a token is accepted once even across broker restarts.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { syncDir } from '../../node/node-file.js';

export const BROKER_ID_FILE = 'broker-id';
export const PINNED_DEVICES_FILE = 'pinned-devices';
export const USED_TOKENS_FILE = 'used-tokens';

const DEVICE_KEY = /^0[23][0-9a-f]{64}$/;

/** Writes `text` to `path` (appending, or creating/truncating) and syncs it. */
function writeSynced(path: string, text: string, flags: 'a' | 'w'): void {
  const fd = openSync(path, flags, 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Appends `text` to `path` (creating it) and syncs the file and, if new, its directory. */
function appendSynced(path: string, dir: string, text: string): void {
  const created = !existsSync(path);
  writeSynced(path, text, 'a');
  if (created) syncDir(dir);
}

/** Replaces `path` with `text` atomically (a synced temporary file renamed over it). */
function replaceSynced(path: string, dir: string, text: string): void {
  writeSynced(`${path}.new`, text, 'w');
  renameSync(`${path}.new`, path);
  syncDir(dir);
}

/** The broker id in `dataDir`, created (durably) on first use. */
export function loadOrCreateBrokerId(dataDir: string): { id: string; created: boolean } {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, BROKER_ID_FILE);
  if (existsSync(path)) {
    const id = readFileSync(path, 'utf8').trim();
    if (!/^[0-9a-f]{32}$/.test(id)) throw new Error(`${path}: "${id}" is not a broker id (32 hex digits); move the file aside to create a new one`);
    return { id, created: false };
  }
  const id = randomBytes(16).toString('hex');
  appendSynced(path, dataDir, id + '\n');
  return { id, created: true };
}

/** Parses SPHINX_DEVICE_KEYS: comma-separated compressed public keys in hex. */
export function parseDeviceKeys(value: string | undefined): string[] {
  const keys = (value ?? '').split(',').map((k) => k.trim().toLowerCase()).filter((k) => k.length > 0);
  for (const key of keys) {
    if (!DEVICE_KEY.test(key)) throw new Error(`SPHINX_DEVICE_KEYS: "${key}" is not a compressed public key in hex (66 digits starting 02 or 03)`);
  }
  return keys;
}

export type KeyVerdict = { readonly known: true; readonly pinned: boolean } | { readonly known: false; readonly reason: string };

/** Which device keys may connect; pins the first device when none is configured. */
export class KnownDevices {
  private readonly configured: ReadonlySet<string>;
  private readonly pinned = new Set<string>();
  private initNodeId: string | undefined;
  private readonly pinnedPath: string;

  constructor(private readonly dataDir: string, configured: readonly string[]) {
    this.configured = new Set(configured);
    this.pinnedPath = join(dataDir, PINNED_DEVICES_FILE);
    if (existsSync(this.pinnedPath)) {
      for (const line of readFileSync(this.pinnedPath, 'utf8').split('\n')) {
        const key = line.replace(/#.*/, '').trim();
        if (key && DEVICE_KEY.test(key)) this.pinned.add(key);
      }
    }
  }

  /** The node id lightningd's init reply revealed (hsmd_init_reply_v4 node_id). */
  learnInitNodeId(id: string): void {
    this.initNodeId = id;
  }

  /** Whether `id` may connect; the first device is pinned (durably) when nothing is configured or pinned. */
  admit(id: string): KeyVerdict {
    if (this.configured.has(id) || this.pinned.has(id) || this.initNodeId === id) return { known: true, pinned: false };
    if (this.configured.size === 0 && this.pinned.size === 0) {
      mkdirSync(this.dataDir, { recursive: true });
      appendSynced(this.pinnedPath, this.dataDir, `${id}\n`);
      this.pinned.add(id);
      return { known: true, pinned: true };
    }
    return { known: false, reason: this.unknownReason(id) };
  }

  /**
   * Why `id` is refused, with the likely mistake: its token verified over this broker's id, so
   * the device was pointed here; its key is the node id of its hsm_secret, so it holds another
   * seed than the devices this broker knows (docs/remote-protocol.md "Identities").
   */
  private unknownReason(id: string): string {
    const configured = this.configured.size > 0;
    const known = configured ? `SPHINX_DEVICE_KEYS (${[...this.configured].join(', ')})` : `the device pinned in ${this.pinnedPath} (${[...this.pinned].join(', ')})`;
    const node = this.initNodeId === undefined ? '' : `, and lightningd's node id ${this.initNodeId} (its init)`;
    const ifRight = configured
      ? `if it is this node's device after all, add ${id} to SPHINX_DEVICE_KEYS`
      : `if it is this node's device and the pinned one is not (another seed's device connected first), stop sphinx-hsmd, delete ${this.pinnedPath} (or set SPHINX_DEVICE_KEYS=${id}) and start it again`;
    return `unknown key ${id}: this broker lets in ${known}${node}. A device's key is the node id of its hsm_secret, ` +
      "so this device holds another seed: most likely it was set up with another node's seed (give it this node's hsm_secret); " +
      ifRight;
  }

  get pinnedFile(): string {
    return this.pinnedPath;
  }
}

/**
 * The tokens already accepted, until they expire: a token is accepted once. Kept by what it
 * means, the device key and its issue time (the signed content; one key signs one time
 * once), not by its text, so no other spelling of the same token passes; and on disk, so a
 * restarted broker still refuses it. Only tokens of known keys with good signatures get
 * here, so the file holds at most the logins of the last few minutes.
 */
export class UsedTokens {
  /** "key issuedAt" → when it may be forgotten (unix ms). */
  private readonly used = new Map<string, number>();
  private readonly path: string;

  constructor(private readonly dataDir: string, private readonly keepMs: number) {
    this.path = join(dataDir, USED_TOKENS_FILE);
    if (!existsSync(this.path)) return;
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      const m = /^(0[23][0-9a-f]{64}) (\d+)$/.exec(line.trim());
      if (m) this.used.set(`${m[1]} ${m[2]}`, Number(m[2]) + keepMs);
    }
  }

  /**
   * Records the token `id` signed for `issuedAt` (durably, before the login is accepted);
   * false if it was used before.
   */
  claim(id: string, issuedAt: number, now: number): boolean {
    for (const [key, forgetAt] of this.used) if (forgetAt < now) this.used.delete(key);
    const key = `${id} ${issuedAt}`;
    if (this.used.has(key)) return false;
    this.used.set(key, issuedAt + this.keepMs);
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    replaceSynced(this.path, this.dataDir, [...this.used.keys()].map((k) => `${k}\n`).join(''));
    return true;
  }
}
