/**
 * The state directory holds what must stay the owner's: the journal and the broker log carry
 * derive_secret outputs and every signature. From this call on, everything the process
 * creates is owner-only (umask 077: files 0600, LevelDB's 0644 included, directories 0700),
 * and the directory itself is created 0700, or tightened to it if it is looser.
 */
import { chmodSync, mkdirSync, statSync } from 'node:fs';

export function privateStateDir(dir: string): void {
  process.umask(0o077);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
}
