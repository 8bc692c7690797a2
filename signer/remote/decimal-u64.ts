/**
 * The protocol's JSON carries 64-bit ids as decimal strings ("12"): a JSON number loses
 * precision above 2^53 (docs/remote-protocol.md). One parser for every such field: the hello's
 * last id, a refusal's ids, the operator's accepted rollbacks, a control command's nonce.
 */

export const U64_MAX = 0xffffffffffffffffn;

/**
 * Field `name`'s `text` as a u64, or an Error naming the field and the value: digits only, no
 * leading zero (one spelling per id), at most 2^64-1.
 */
export function parseDecimalU64(name: string, text: unknown): bigint | Error {
  if (typeof text !== 'string' || !/^(0|[1-9]\d{0,19})$/.test(text)) return new Error(`${name} ${JSON.stringify(text)} is not a decimal string`);
  const value = BigInt(text);
  return value > U64_MAX ? new Error(`${name} ${text} is above 2^64-1`) : value;
}
