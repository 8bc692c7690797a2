/**
 * CLN's `wirestring`: the string's bytes followed by a NUL (`wire/towire.c`
 * towire_wirestring writes strlen+1 bytes).
 *
 * `wire/fromwire.c` fromwire_wirestring scans for the NUL and fails on any byte below 0x20
 * before it, or if there is no NUL. It accepts any byte >= 0x20, UTF-8 or not; a JS string
 * cannot hold arbitrary bytes and round-trip them, so we decode strict UTF-8 and reject
 * invalid UTF-8 with a WireError. Valid UTF-8 round-trips byte for byte (a leading BOM is
 * kept, overlong forms and surrogates are invalid).
 */
import type { Codec } from './codec.js';
import { WireError } from './errors.js';

export const wirestring: Codec<string> = {
  encode(w, v) {
    if (typeof v !== 'string') throw new WireError('string expected');
    w.bytes(utf8Encode(v));
    w.u8(0);
  },
  decode(r) {
    const start = r.offset;
    const avail = r.peek(r.remaining);
    let nul = -1;
    for (let i = 0; i < avail.length; i++) {
      const b = avail[i]!;
      if (b === 0) {
        nul = i;
        break;
      }
      // fromwire_wirestring: "Don't allow control chars except spaces".
      if (b < 0x20) r.fail(`wirestring has control byte 0x${hex2(b)}`, start + i);
    }
    if (nul < 0) return r.fail('wirestring has no NUL terminator', start);
    const s = utf8Decode(avail.subarray(0, nul));
    if (s === undefined) return r.fail('wirestring is not valid UTF-8', start);
    r.bytes(nul + 1);
    return s;
  },
};

const hex2 = (b: number): string => (b < 16 ? '0' : '') + b.toString(16);

/** UTF-8 of a string that fromwire_wirestring would accept back; WireError otherwise. */
function utf8Encode(s: string): Uint8Array {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20) throw new WireError(`wirestring cannot hold control character 0x${hex2(c)}`);
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) {
        throw new WireError('wirestring has a lone surrogate');
      }
      i++;
    }
  }
  return new TextEncoder().encode(s);
}

/** Strict UTF-8 decoding (RFC 3629); undefined if the bytes are not valid UTF-8. */
function utf8Decode(b: Uint8Array): string | undefined {
  const units: number[] = [];
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let cp: number;
    let need: number;
    let min: number;
    if (c < 0x80) {
      units.push(c);
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      cp = c & 0x1f; need = 1; min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      cp = c & 0x0f; need = 2; min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      cp = c & 0x07; need = 3; min = 0x10000;
    } else {
      return undefined;
    }
    if (i + need >= b.length) return undefined;
    for (let k = 1; k <= need; k++) {
      const cc = b[i + k]!;
      if ((cc & 0xc0) !== 0x80) return undefined;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    } else {
      units.push(cp);
    }
    i += need + 1;
  }
  let out = '';
  for (let k = 0; k < units.length; k += 4096) {
    out += String.fromCharCode.apply(null, units.slice(k, k + 4096));
  }
  return out;
}
