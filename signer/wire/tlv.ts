/**
 * BOLT 1 TLV streams as CLN reads and writes them (`wire/tlvstream.c` fromwire_tlv /
 * towire_tlv): a sequence of (BigSize type, BigSize length, value) records that runs to the
 * end of the message, so a TLV stream is always the last field and may be empty.
 *
 * BOLT 1 rules enforced on decode: types strictly increasing; type and length minimally
 * encoded; length within the bytes left; a known type's value uses exactly its length;
 * an unknown even type fails the stream. Unknown odd records are kept, in order, under
 * `unknown`, so re-encoding gives the same bytes.
 */
import type { Codec, CodecValue } from './codec.js';
import type { WireReader } from './reader.js';
import { WireWriter } from './writer.js';
import { WireError } from './errors.js';

/** One known record: its type number and the codec of its value. */
export interface TlvRecordSpec<T> {
  readonly type: number;
  readonly codec: Codec<T>;
}

/** Known records of a stream, keyed by CLN's record name. */
export type TlvSpec = Record<string, TlvRecordSpec<any>>;

/** An unknown odd record, kept verbatim. */
export interface TlvUnknown {
  type: bigint;
  value: Uint8Array;
}

/** A decoded stream: each known record present or absent, plus any unknown odd ones. */
export type TlvStream<S extends TlvSpec> = {
  [K in keyof S]?: CodecValue<S[K]['codec']>;
} & { unknown?: TlvUnknown[] };

interface KnownRecord {
  name: string;
  type: bigint;
  codec: Codec<unknown>;
}

export function tlvStream<S extends TlvSpec>(spec: S): Codec<TlvStream<S>> {
  const known: KnownRecord[] = Object.keys(spec)
    .map((name) => ({ name, type: BigInt(spec[name]!.type), codec: spec[name]!.codec }))
    .sort((a, b) => (a.type < b.type ? -1 : 1));
  if ('unknown' in spec) throw new Error('tlvStream: "unknown" is reserved');
  const byType = new Map<bigint, KnownRecord>(known.map((k) => [k.type, k]));

  return {
    decode(r: WireReader): TlvStream<S> {
      const out: Record<string, unknown> = {};
      let unknown: TlvUnknown[] | undefined;
      let prev = -1n;
      const field = r.fieldName;
      while (!r.atEnd) {
        const at = r.offset;
        const type = r.bigsize();
        // BOLT 1: types must be strictly increasing (no duplicates).
        if (type <= prev) r.fail(`TLV type ${type} after type ${prev}: not strictly increasing`, at);
        prev = type;
        const rec = byType.get(type);
        // BOLT 1: an unknown even type fails the stream.
        if (rec === undefined && type % 2n === 0n) r.fail(`unknown even TLV type ${type}`, at);
        const len = r.bigsize();
        if (len > BigInt(r.remaining)) {
          r.fail(`TLV type ${type} length ${len} exceeds the ${r.remaining} bytes left`);
        }
        const value = r.sub(Number(len));
        if (rec === undefined) {
          (unknown ??= []).push({ type, value: value.bytes(value.remaining) });
          continue;
        }
        value.fieldName = field + '.' + rec.name;
        out[rec.name] = rec.codec.decode(value);
        // BOLT 1: the length must be exactly what the known encoding needs.
        if (!value.atEnd) value.fail(`${value.remaining} bytes left over in TLV type ${type}`);
      }
      if (unknown !== undefined) out['unknown'] = unknown;
      return out as TlvStream<S>;
    },

    encode(w: WireWriter, v: TlvStream<S>): void {
      if (typeof v !== 'object' || v === null) throw new WireError('TLV stream object expected');
      const rec = v as Record<string, unknown>;
      const unknown = v.unknown ?? [];
      let prev = -1n;
      for (const u of unknown) {
        if (typeof u.type !== 'bigint' || u.type % 2n === 0n || byType.has(u.type) || u.type <= prev) {
          throw new WireError(`unknown TLV records must be odd, not known, increasing: ${String(u.type)}`);
        }
        prev = u.type;
      }
      let j = 0;
      for (const k of known) {
        while (j < unknown.length && unknown[j]!.type < k.type) writeRecord(w, unknown[j++]!);
        const value = rec[k.name];
        if (value === undefined) continue;
        const inner = new WireWriter(64);
        try {
          k.codec.encode(inner, value);
        } catch (e) {
          throw new WireError(`${k.name}: ${e instanceof Error ? e.message : String(e)}`);
        }
        writeRecord(w, { type: k.type, value: inner.finish() });
      }
      while (j < unknown.length) writeRecord(w, unknown[j++]!);
    },
  };
}

function writeRecord(w: WireWriter, r: TlvUnknown): void {
  w.bigsize(r.type);
  w.bigsize(BigInt(r.value.length));
  w.bytes(r.value);
}
