/**
 * The views and the signer state as JSON (the status page's `/api/views`, sphinx-audit's
 * outputs): bigints as decimal strings, bytes as hex, Maps as objects keyed by their
 * (stringified) keys, the state's persistent maps (signer/persistent-map.ts) as objects in key
 * order, not as their trie, the projections' chains (projections/chain.ts) as arrays, oldest first.
 */
import { type Chain, toArray } from '../projections/chain.js';
import { toHex } from '../signer/bytes.js';
import { PersistentMap } from '../signer/persistent-map.js';

const isChain = (v: object): v is Chain<unknown> =>
  'last' in v && 'before' in v && 'length' in v && Object.keys(v).length === 3;

/** A JSON-ready copy of `value`. */
export function toJsonValue(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value === undefined) return null; // kept as a field: "none yet" (e.g. no gaps, no first request)
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toJsonValue(v)]));
  // Its iteration order is the trie's (hash order): sorted, the output is stable and readable.
  if (value instanceof PersistentMap) return Object.fromEntries([...value.keys()].sort().map((k) => [k, toJsonValue(value.get(k))]));
  if (value instanceof Set) return [...value].map(toJsonValue);
  if (isChain(value)) return toArray(value).map(toJsonValue);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v)]));
}
