/**
 * A bounded memo: a Map in least-recently-used order. The KeyRing uses it so derived keys
 * are computed once per session while a long-running signer's memory stays capped.
 */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('LRU limit must be a positive integer');
  }

  get size(): number {
    return this.map.size;
  }

  /** The cached value for `key`, or `make()` stored under it (evicting the oldest entry). */
  getOrCreate(key: K, make: () => V): V {
    const hit = this.map.get(key);
    if (hit !== undefined) {
      this.map.delete(key); // re-insert: most recently used goes last
      this.map.set(key, hit);
      return hit;
    }
    const value = make();
    if (this.map.size >= this.limit) this.map.delete(this.map.keys().next().value as K);
    this.map.set(key, value);
    return value;
  }
}
