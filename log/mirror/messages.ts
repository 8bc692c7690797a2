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
import { bool, CodecError, decodeWith, readVersion, u64 } from '../../signer/record-fields.js';
import { struct, type Codec, type StructSpec, type StructValue } from '../../signer/wire/codec.js';
import { WireWriter } from '../../signer/wire/writer.js';
import { type MirrorEntry, readMirrorEntry, writeMirrorEntry } from './entry.js';

export const MIRROR_MESSAGE_VERSION = 1;
/** Entries per message, and the size a message is closed before (a larger single entry goes alone). */
export const MAX_MESSAGE_ENTRIES = 64;
export const MAX_MESSAGE_BYTES = 256 * 1024;

const entries: Codec<readonly MirrorEntry[]> = {
  encode(w, list) {
    if (list.length > 0xffff) throw new CodecError(`mirror message: ${list.length} entries`);
    w.u16(list.length);
    for (const e of list) writeMirrorEntry(w, e);
  },
  decode: (r) => Array.from({ length: r.u16() }, () => readMirrorEntry(r)),
};

/** A mirror message: the version byte, then `fields` in order. */
function message<S extends StructSpec>(what: string, fields: S, capacity: number) {
  const body = struct(fields);
  return {
    encode(value: StructValue<S>): Uint8Array {
      const w = new WireWriter(capacity);
      w.u8(MIRROR_MESSAGE_VERSION);
      body.encode(w, value);
      return w.finish().slice();
    },
    decode: (bytes: Uint8Array): StructValue<S> =>
      decodeWith(what, bytes, (r) => {
        readVersion(r, what, MIRROR_MESSAGE_VERSION);
        return body.decode(r);
      }),
  };
}

const JOURNAL = message('journal message', { entries }, 1024);
const ACK = message('journal ack', { gap: bool, counter: u64 }, 10);
const FETCH = message('journal fetch', {}, 1);
const DUMP = message('journal dump', { final: bool, repliedUpTo: u64, entries }, 1024);

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

export const encodeJournal = (list: readonly MirrorEntry[]): Uint8Array => JOURNAL.encode({ entries: list });
export const decodeJournal = (bytes: Uint8Array): MirrorEntry[] => [...JOURNAL.decode(bytes).entries];

export interface JournalAck {
  readonly counter: bigint;
  readonly gap: boolean;
}

export const encodeAck = (ack: JournalAck): Uint8Array => ACK.encode(ack);
export const decodeAck = (bytes: Uint8Array): JournalAck => ACK.decode(bytes);

export const encodeFetch = (): Uint8Array => FETCH.encode({});
export const decodeFetch = (bytes: Uint8Array): void => void FETCH.decode(bytes);

export interface JournalDump {
  readonly final: boolean;
  readonly repliedUpTo: bigint;
  readonly entries: readonly MirrorEntry[];
}

export const encodeDump = (dump: JournalDump): Uint8Array => DUMP.encode(dump);
export const decodeDump = (bytes: Uint8Array): JournalDump => DUMP.decode(bytes);
