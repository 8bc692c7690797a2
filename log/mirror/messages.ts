/**
 * The mirror's MQTT payloads (docs/remote-protocol.md "Journal mirror"). Pure.
 * - `journal` (device → broker): u8 version (1) ‖ u16 n ‖ n × entry (entry.ts)
 * - `journal-ack` (broker → device): u8 version ‖ u8 status (0 stored, 1 gap) ‖ u64 counter:
 *   every entry up to `counter` is durably stored; with `gap`, the entries after it that were
 *   sent did not continue the stored chain and must be sent again from counter + 1
 * - `journal-fetch` (device → broker): u8 version
 * - `journal-dump` (broker → device): u8 version ‖ u8 final (0/1) ‖ u64 request id the broker's
 *   reply log shows answered last ‖ u16 n ‖ n × entry
 */
import { CodecError, decodeWith } from '../../signer/record-fields.js';
import { WireWriter } from '../../signer/wire/writer.js';
import { type MirrorEntry, readMirrorEntry, writeMirrorEntry } from './entry.js';

export const MIRROR_MESSAGE_VERSION = 1;
/** Entries per message, and the size a message is closed before (a larger single entry goes alone). */
export const MAX_MESSAGE_ENTRIES = 64;
export const MAX_MESSAGE_BYTES = 256 * 1024;

function version(r: { u8(): number }, what: string): void {
  const v = r.u8();
  if (v !== MIRROR_MESSAGE_VERSION) throw new CodecError(`${what}: unknown version ${v}`);
}

function writeEntries(w: WireWriter, entries: readonly MirrorEntry[]): void {
  if (entries.length > 0xffff) throw new CodecError(`mirror message: ${entries.length} entries`);
  w.u16(entries.length);
  for (const e of entries) writeMirrorEntry(w, e);
}

const readEntries = (r: Parameters<typeof readMirrorEntry>[0]): MirrorEntry[] => Array.from({ length: r.u16() }, () => readMirrorEntry(r));

/** Splits entries into message-sized groups, in order. */
export function chunkEntries(entries: readonly MirrorEntry[]): MirrorEntry[][] {
  const chunks: MirrorEntry[][] = [];
  let current: MirrorEntry[] = [];
  let bytes = 0;
  for (const e of entries) {
    const size = e.payload.length + 90;
    if (current.length > 0 && (current.length === MAX_MESSAGE_ENTRIES || bytes + size > MAX_MESSAGE_BYTES)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(e);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export function encodeJournal(entries: readonly MirrorEntry[]): Uint8Array {
  const w = new WireWriter(1024);
  w.u8(MIRROR_MESSAGE_VERSION);
  writeEntries(w, entries);
  return w.finish().slice();
}

export const decodeJournal = (bytes: Uint8Array): MirrorEntry[] =>
  decodeWith('journal message', bytes, (r) => {
    version(r, 'journal message');
    return readEntries(r);
  });

export interface JournalAck {
  readonly counter: bigint;
  readonly gap: boolean;
}

export function encodeAck(ack: JournalAck): Uint8Array {
  const w = new WireWriter(10);
  w.u8(MIRROR_MESSAGE_VERSION);
  w.u8(ack.gap ? 1 : 0);
  w.u64(ack.counter);
  return w.finish().slice();
}

export const decodeAck = (bytes: Uint8Array): JournalAck =>
  decodeWith('journal ack', bytes, (r) => {
    version(r, 'journal ack');
    const status = r.u8();
    if (status > 1) throw new CodecError(`journal ack: unknown status ${status}`);
    return { gap: status === 1, counter: r.u64() };
  });

export const encodeFetch = (): Uint8Array => Uint8Array.of(MIRROR_MESSAGE_VERSION);

export const decodeFetch = (bytes: Uint8Array): void =>
  decodeWith('journal fetch', bytes, (r) => version(r, 'journal fetch'));

export interface JournalDump {
  readonly final: boolean;
  readonly repliedUpTo: bigint;
  readonly entries: readonly MirrorEntry[];
}

export function encodeDump(dump: JournalDump): Uint8Array {
  const w = new WireWriter(1024);
  w.u8(MIRROR_MESSAGE_VERSION);
  w.u8(dump.final ? 1 : 0);
  w.u64(dump.repliedUpTo);
  writeEntries(w, dump.entries);
  return w.finish().slice();
}

export const decodeDump = (bytes: Uint8Array): JournalDump =>
  decodeWith('journal dump', bytes, (r) => {
    version(r, 'journal dump');
    const final = r.u8();
    if (final > 1) throw new CodecError(`journal dump: final flag ${final}`);
    return { final: final === 1, repliedUpTo: r.u64(), entries: readEntries(r) };
  });
