/**
 * An immutable append-only list for projections: `push` is O(1) and shares everything
 * already there, so a fold step stays pure (the view it was given is untouched) without
 * copying a channel's whole history on every record. `toArray` materialises it in order.
 */

export interface Chain<T> {
  readonly last: T;
  readonly before: Chain<T> | undefined;
  readonly length: number;
}

/** A possibly empty chain. */
export type List<T> = Chain<T> | undefined;

export const push = <T>(list: List<T>, item: T): Chain<T> => ({ last: item, before: list, length: (list?.length ?? 0) + 1 });

/** The chain with its last item replaced. */
export const replaceLast = <T>(chain: Chain<T>, item: T): Chain<T> => ({ ...chain, last: item });

/** The items, oldest first (iterative: chains may be millions long). */
export function toArray<T>(list: List<T>): T[] {
  const out = new Array<T>(list?.length ?? 0);
  let i = out.length;
  for (let c = list; c !== undefined; c = c.before) out[--i] = c.last;
  return out;
}

/** A map with one key set to `value` (a copy: the given map is untouched). */
export function withEntry<K, V>(map: ReadonlyMap<K, V>, key: K, value: V): ReadonlyMap<K, V> {
  const next = new Map(map);
  next.set(key, value);
  return next;
}

/** A map without `key` (the same map when the key is absent). */
export function withoutEntry<K, V>(map: ReadonlyMap<K, V>, key: K): ReadonlyMap<K, V> {
  if (!map.has(key)) return map;
  const next = new Map(map);
  next.delete(key);
  return next;
}

/** A count map with `key` incremented. */
export const bump = <K>(counts: ReadonlyMap<K, number>, key: K, by = 1): ReadonlyMap<K, number> =>
  withEntry(counts, key, (counts.get(key) ?? 0) + by);
