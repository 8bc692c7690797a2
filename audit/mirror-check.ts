/**
 * `sphinx-audit verify` on the journal mirror (docs/journal.md "Mirror"): the broker's stored
 * entries of a device against that device's journal. Without the hsm_secret the chain is
 * checked as the broker can (counters one apart, each previous MAC equal to the one before);
 * with it every MAC too (log/mirror/verify.ts). Then every journal record must be in the
 * mirror byte for byte. Findings name the entry and the problem: a gap (entries or a
 * journal record missing in the middle), a forged entry (bad MAC, spliced chain, bytes that
 * differ from the journal), a rollback (the mirror ends before the journal does). Request
 * records are compared; sourced records (control, chain) are checked by the chain alone.
 */
import { existsSync } from 'node:fs';
import { MirrorDb, mirrorDir } from '../log/broker-log/mirror-db.js';
import { privateCopy } from './inputs.js';
import { equal, toHex } from '../signer/bytes.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import { unlockHsmSecret } from '../signer/keys/hsm-secret.js';
import { mirrorKey, nodePrivateKey } from '../signer/keys/root-secrets.js';
import { decodeEntry, encodeRecord, isSourced, type JournalRecord } from '../log/journal/record.js';
import { type MirrorEntry, readSnapshotPayload } from '../log/mirror/entry.js';
import { checkMirror, MirrorRefusedError } from '../log/mirror/verify.js';

export interface MirrorFinding {
  readonly problem: 'gap' | 'forged' | 'reordered' | 'rollback' | 'malformed';
  readonly counter?: bigint;
  readonly id?: bigint;
  readonly text: string;
}

export interface MirrorCheck {
  readonly device: string;
  readonly entries: number;
  /** True when the MACs were checked (hsm_secret given). */
  readonly macs: boolean;
  readonly findings: readonly MirrorFinding[];
}

/** The chain without the key: counters and previous MACs. */
function structure(entries: readonly MirrorEntry[]): MirrorFinding[] {
  const findings: MirrorFinding[] = [];
  for (let i = 1; i < entries.length; i++) {
    const [a, b] = [entries[i - 1]!, entries[i]!];
    if (b.counter !== a.counter + 1n) {
      findings.push({ problem: 'gap', counter: a.counter + 1n, text: `entries ${a.counter + 1n}..${b.counter - 1n} missing between entry ${a.counter} and entry ${b.counter}` });
    } else if (!equal(b.prevMac, a.mac)) {
      findings.push({ problem: 'forged', counter: b.counter, text: `entry ${b.counter} does not continue entry ${a.counter}'s MAC (changed or spliced)` });
    }
  }
  return findings;
}

export function checkMirrorAgainstJournal(
  device: string,
  entries: readonly MirrorEntry[],
  journal: readonly JournalRecord[],
  key: Uint8Array | undefined,
): MirrorCheck {
  const findings: MirrorFinding[] = [];
  if (key) {
    try {
      checkMirror(key, entries);
    } catch (e) {
      if (!(e instanceof MirrorRefusedError)) throw e;
      findings.push({ problem: e.problem, counter: e.counter, text: e.message });
    }
  } else {
    findings.push(...structure(entries));
  }
  const mirrored = new Map<bigint, { entry: MirrorEntry; payload: Uint8Array }>();
  let mirrorLastId = 0n;
  let mirrorFirstId: bigint | undefined;
  for (const entry of entries) {
    try {
      if (entry.kind === 'snapshot') {
        const { lastId } = readSnapshotPayload(entry.payload);
        mirrorFirstId ??= lastId + 1n;
        mirrorLastId = lastId > mirrorLastId ? lastId : mirrorLastId;
      } else {
        const record = decodeEntry(entry.payload);
        if (isSourced(record)) continue; // the broker log's cross-check covers request records only
        mirrorFirstId ??= record.id;
        mirrored.set(record.id, { entry, payload: entry.payload });
        if (record.id > mirrorLastId) mirrorLastId = record.id;
      }
    } catch (e) {
      findings.push({ problem: 'malformed', counter: entry.counter, text: `entry ${entry.counter} does not decode: ${(e as Error).message}` });
    }
  }
  for (const record of journal) {
    if (mirrorFirstId !== undefined && record.id < mirrorFirstId) continue; // before the mirror's snapshot
    const m = mirrored.get(record.id);
    if (m === undefined) {
      findings.push(record.id > mirrorLastId
        ? { problem: 'rollback', id: record.id, text: `journal record ${record.id} is not mirrored: the mirror ends at id ${mirrorLastId} (rolled back, or the device stopped before the broker acknowledged it)` }
        : { problem: 'gap', id: record.id, text: `journal record ${record.id} is missing from the mirror` });
    } else if (!equal(m.payload, encodeRecord(record))) {
      findings.push({ problem: 'forged', id: record.id, counter: m.entry.counter, text: `entry ${m.entry.counter} (request id ${record.id}) differs from the journal record` });
    }
  }
  const journalLast = journal.at(-1)?.id ?? 0n;
  if (mirrorLastId > journalLast && journal.length > 0) {
    findings.push({ problem: 'rollback', id: mirrorLastId, text: `the journal is behind its mirror: the mirror reaches id ${mirrorLastId}, beyond this journal's last id ${journalLast} (another journal of this seed, or a journal rolled back)` });
  }
  return { device, entries: entries.length, macs: key !== undefined, findings };
}

/**
 * The mirror in a broker's SPHINX_DATA_DIR checked against `journal`, or undefined when that
 * directory holds no mirror. The device is the one of the hsm_secret, else the only one stored.
 */
export async function auditMirror(dataDir: string, journal: readonly JournalRecord[], hsmSecret: Uint8Array | undefined): Promise<MirrorCheck | undefined> {
  const path = mirrorDir(dataDir);
  if (!existsSync(path)) return undefined;
  let secretData: Uint8Array | undefined;
  try {
    secretData = hsmSecret && unlockHsmSecret(hsmSecret);
  } catch {
    secretData = undefined; // a passphrase-protected secret: the chain structure is still checked
  }
  // A copy: LevelDB rewrites what it opens, and the audit writes nothing it audits.
  const copy = privateCopy(path);
  const store = await MirrorDb.open(copy.path).catch((e: unknown) => {
    copy.remove();
    throw e;
  });
  try {
    const devices = await store.devices();
    const device = secretData ? toHex(nobleCurve.publicKey(nodePrivateKey(nobleCurve, secretData))) : devices.length === 1 ? devices[0] : undefined;
    if (device === undefined) {
      return { device: devices.join(', '), entries: 0, macs: false, findings: devices.length === 0 ? [] : [{ problem: 'malformed', text: `mirrors of ${devices.length} devices: pass --hsm-secret to pick this journal's` }] };
    }
    return checkMirrorAgainstJournal(device, await store.entries(device), journal, secretData && mirrorKey(secretData));
  } finally {
    await store.close();
    copy.remove();
  }
}

export function printMirror(out: (line: string) => void, m: MirrorCheck): void {
  const how = m.macs ? 'every MAC checked' : 'chain structure checked (pass --hsm-secret to check the MACs)';
  if (m.findings.length === 0) {
    out(`mirror: ${m.entries} entries, consistent with the journal (${how})`);
    return;
  }
  out(`mirror of ${m.device}: ${m.entries} entries, ${m.findings.length} finding${m.findings.length === 1 ? '' : 's'} (${how})`);
  for (const f of m.findings) out(`  mirror ${f.problem}: ${f.text}`);
}
