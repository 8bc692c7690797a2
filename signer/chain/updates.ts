/**
 * What the broker shows the device about the chain (docs/chain.md, docs/remote-protocol.md
 * "Chain"): new headers, and transactions of watched outpoints with their merkle proofs.
 * One MQTT `chain` message carries a list of updates the device checks as a whole.
 *
 * Layout (big-endian, as the envelope codec):
 *   message     = u8 version (1) ‖ u16 count ‖ update*
 *   update      = u8 kind ‖ fields
 *   headers     (kind 1) = u32 height of the first ‖ u16 n ‖ n × 80-byte header
 *   transaction (kind 2) = u32 block height ‖ u32 length ‖ proof (gettxoutproof bytes)
 *                          ‖ u32 length ‖ raw transaction
 */
import { CodecError, decodeWith, readVarBytes, readVersion, writeVarBytes } from '../record-fields.js';
import { WireWriter } from '../wire/writer.js';
import { HEADER_BYTES } from './header.js';

export const CHAIN_UPDATE_VERSION = 1;
/** Headers per update: a day of blocks, well under an MQTT message a device takes. */
export const MAX_HEADERS_PER_UPDATE = 2016;

export type ChainUpdate =
  | { readonly kind: 'headers'; readonly firstHeight: number; readonly headers: readonly Uint8Array[] }
  | { readonly kind: 'transaction'; readonly height: number; readonly proof: Uint8Array; readonly tx: Uint8Array };

const KIND_TAGS = { headers: 1, transaction: 2 } as const;

export function encodeChainUpdates(updates: readonly ChainUpdate[]): Uint8Array {
  const w = new WireWriter(256);
  w.u8(CHAIN_UPDATE_VERSION);
  w.u16(updates.length);
  for (const u of updates) {
    w.u8(KIND_TAGS[u.kind]);
    if (u.kind === 'headers') {
      w.u32(u.firstHeight);
      w.u16(u.headers.length);
      for (const h of u.headers) {
        if (h.length !== HEADER_BYTES) throw new CodecError(`chain update: a header of ${h.length} bytes`);
        w.bytes(h);
      }
    } else {
      w.u32(u.height);
      writeVarBytes(w, u.proof);
      writeVarBytes(w, u.tx);
    }
  }
  return w.finish().slice();
}

export const decodeChainUpdates = (bytes: Uint8Array): ChainUpdate[] =>
  decodeWith('chain update', bytes, (r) => {
    readVersion(r, 'chain update', CHAIN_UPDATE_VERSION);
    const count = r.u16();
    const updates: ChainUpdate[] = [];
    for (let i = 0; i < count; i++) {
      const at = r.offset;
      const tag = r.u8();
      if (tag === KIND_TAGS.headers) {
        const firstHeight = r.u32();
        const n = r.u16();
        if (n > MAX_HEADERS_PER_UPDATE) throw new CodecError(`chain update: ${n} headers in one update (at most ${MAX_HEADERS_PER_UPDATE})`);
        const headers: Uint8Array[] = [];
        for (let k = 0; k < n; k++) headers.push(r.bytes(HEADER_BYTES));
        updates.push({ kind: 'headers', firstHeight, headers });
      } else if (tag === KIND_TAGS.transaction) {
        updates.push({ kind: 'transaction', height: r.u32(), proof: readVarBytes(r), tx: readVarBytes(r) });
      } else {
        throw new CodecError(`chain update: unknown kind ${tag} at offset ${at}`);
      }
    }
    return updates;
  });
