/**
 * CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, initial value and final XOR
 * 0xFFFFFFFF (RFC 3720 §12.1, the iSCSI CRC; check value 0xE3069283 for "123456789").
 * Table-driven, eight bytes at a time ("slicing-by-8": eight 256-entry tables, 8 KiB): a journal
 * rebuild checks every frame, and the CRC was a quarter of its scan and decode
 * (docs/performance-history-rebuild.md). The tables are built when the module loads, from arithmetic
 * alone (no globals): on the device the firmware's modules are preloaded, so they are built at
 * link time and kept in flash, not RAM (docs/device-memory.md, "Preloaded modules").
 */
const TABLES: Uint32Array = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  // Table k: the CRC of a byte followed by k zero bytes.
  for (let n = 0; n < 256; n++) for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n]! >>> 8) ^ t[t[(k - 1) * 256 + n]! & 0xff]!;
  return t;
})();

/**
 * Continues a CRC over bytes[start, end): crc32c(b) === crc32cUpdate(crc32cUpdate(0, a), rest).
 * A range rather than a subarray, so a scan checks every frame without allocating.
 */
export function crc32cUpdate(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  const t = TABLES;
  let c = ~crc >>> 0;
  let i = start;
  const whole = start + ((end - start) & ~7);
  for (; i < whole; i += 8) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    c = t[1792 + (c & 0xff)]! ^ t[1536 + ((c >>> 8) & 0xff)]! ^ t[1280 + ((c >>> 16) & 0xff)]! ^ t[1024 + (c >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^ t[512 + bytes[i + 5]!]! ^ t[256 + bytes[i + 6]!]! ^ t[bytes[i + 7]!]!;
  }
  for (; i < end; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

export const crc32c = (bytes: Uint8Array): number => crc32cUpdate(0, bytes);
