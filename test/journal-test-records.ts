/**
 * Deterministic journal records by id for the crash tests: a recovered record must equal
 * the one written for its id, byte for byte. Sizes vary (1 byte to ~24 KB of detail) so
 * kills land inside writes of every size.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import type { JournalRecord } from '../log/journal/record.js';

export function journalTestRecord(id: bigint): JournalRecord {
  const size = Number((id * 7919n) % 24_000n) + 1;
  const idBytes = new TextEncoder().encode(String(id));
  return {
    id,
    requestDigest: sha256(idBytes),
    events: [{ kind: 'PolicyWarned', policy: 'policy-crash-test', detail: String(id).padEnd(size, '.') }],
    reply: { kind: 'frame', frame: idBytes },
  };
}
