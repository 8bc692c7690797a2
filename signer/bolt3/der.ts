/**
 * ECDSA signatures between the 64-byte compact form (r ‖ s, what the Curve and the hsmd
 * wire carry) and strict DER (BIP 66), the form inside witnesses, plus the witness item
 * `DER ‖ sighash-type byte` (CLN bitcoin/signature.c signature_to_der).
 */

/** DER INTEGER body of a 32-byte big-endian unsigned value: minimal, 0x00-padded if high bit set. */
function derInteger(v: Uint8Array): Uint8Array {
  let start = 0;
  while (start < v.length - 1 && v[start] === 0) start++;
  const pad = v[start]! >= 0x80 ? 1 : 0;
  const out = new Uint8Array(2 + pad + v.length - start);
  out[0] = 0x02;
  out[1] = pad + v.length - start;
  out.set(v.subarray(start), 2 + pad);
  return out;
}

/** Strict DER encoding of a compact r ‖ s signature. */
export function compactToDer(compact: Uint8Array): Uint8Array {
  if (compact.length !== 64) throw new RangeError('compact signature must be 64 bytes');
  const r = derInteger(compact.subarray(0, 32));
  const s = derInteger(compact.subarray(32, 64));
  const out = new Uint8Array(2 + r.length + s.length);
  out[0] = 0x30;
  out[1] = r.length + s.length;
  out.set(r, 2);
  out.set(s, 2 + r.length);
  return out;
}

/** Reads one strict-DER INTEGER (positive, minimal, ≤ 32 value bytes) at `pos`. */
function readInteger(der: Uint8Array, pos: number): { value: Uint8Array; next: number } {
  if (der[pos] !== 0x02) throw new RangeError('DER: expected INTEGER');
  const len = der[pos + 1];
  if (len === undefined || len === 0 || pos + 2 + len > der.length) throw new RangeError('DER: bad INTEGER length');
  const body = der.subarray(pos + 2, pos + 2 + len);
  if (body[0]! & 0x80) throw new RangeError('DER: negative INTEGER');
  if (len > 1 && body[0] === 0 && !(body[1]! & 0x80)) throw new RangeError('DER: INTEGER not minimal');
  const trimmed = body[0] === 0 && len > 1 ? body.subarray(1) : body;
  if (trimmed.length > 32) throw new RangeError('DER: INTEGER too large');
  const value = new Uint8Array(32);
  value.set(trimmed, 32 - trimmed.length);
  return { value, next: pos + 2 + len };
}

/** Compact r ‖ s of a strict-DER signature (no sighash byte). */
export function derToCompact(der: Uint8Array): Uint8Array {
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2) throw new RangeError('DER: bad SEQUENCE');
  const r = readInteger(der, 2);
  const s = readInteger(der, r.next);
  if (s.next !== der.length) throw new RangeError('DER: trailing bytes');
  const out = new Uint8Array(64);
  out.set(r.value, 0);
  out.set(s.value, 32);
  return out;
}

/** Witness signature item: DER(compact) ‖ sighash type byte. */
export function witnessSignature(compact: Uint8Array, sighashType: number): Uint8Array {
  const der = compactToDer(compact);
  const out = new Uint8Array(der.length + 1);
  out.set(der);
  out[der.length] = sighashType;
  return out;
}
