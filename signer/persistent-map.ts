/**
 * A persistent (immutable, structurally shared) map from strings, as a hash array mapped trie:
 * `set` and `delete` return a new map that shares every untouched node with the old one, so
 * replacing one channel costs O(log32 n) whatever the number of channels, where copying a
 * `Map` cost O(n) per event (docs/journal.md "Rebuild"). Iteration order is the trie's, not
 * insertion order: callers that need an order sort (the snapshot codec sorts its keys).
 * Pure and allocation-light: it runs on the device under XS too.
 */

const BITS = 5;
const WIDTH = 1 << BITS; // 32 children per node
const MASK = WIDTH - 1;
const MAX_SHIFT = 30; // 32-bit hashes: levels at shifts 0, 5, ..., 30

/**
 * FNV-1a over the UTF-16 code units: cheap, and collisions are handled anyway. Exported for
 * tests. Its 32 bits as a signed integer: the trie reads them with `>>>`, and V8 keeps a signed
 * 32-bit number unboxed, where an unsigned one over 2^31 made the code compiled on smaller hashes
 * deoptimize (docs/performance.md "The local hsmd's warm start").
 */
export function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h | 0;
}

const popcount = (x: number): number => {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
};

interface Leaf<V> {
  readonly hash: number;
  readonly key: string;
  readonly value: V;
}
/** Entries whose 32-bit hashes are equal (below the last level). */
interface Collision<V> {
  readonly hash: number;
  readonly leaves: readonly Leaf<V>[];
}
/** A node: bit i of `bitmap` set means a child for hash fragment i, at index popcount(below i). */
interface Branch<V> {
  readonly bitmap: number;
  readonly children: readonly Child<V>[];
}
type Child<V> = Leaf<V> | Collision<V> | Branch<V>;

const byKey = <V>(a: Leaf<V>, b: Leaf<V>): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
const isBranch = <V>(c: Child<V>): c is Branch<V> => 'bitmap' in c;
const isCollision = <V>(c: Child<V>): c is Collision<V> => 'leaves' in c;

const EMPTY_BRANCH: Branch<never> = Object.freeze({ bitmap: 0, children: Object.freeze([]) as readonly never[] });

function lookup<V>(node: Child<V>, hash: number, key: string, shift: number): Leaf<V> | undefined {
  for (;;) {
    if (isBranch(node)) {
      const bit = 1 << ((hash >>> shift) & MASK);
      if ((node.bitmap & bit) === 0) return undefined;
      node = node.children[popcount(node.bitmap & (bit - 1))]!;
      shift += BITS;
    } else if (isCollision(node)) {
      return node.hash === hash ? node.leaves.find((l) => l.key === key) : undefined;
    } else {
      return node.key === key ? node : undefined;
    }
  }
}

/** Two different entries at one position: a branch (or a collision node) holding both. */
function merge<V>(a: Leaf<V> | Collision<V>, b: Leaf<V>, shift: number): Child<V> {
  if (a.hash === b.hash) return { hash: a.hash, leaves: [...(isCollision(a) ? a.leaves : [a]), b].sort(byKey) };
  if (shift > MAX_SHIFT) throw new Error('persistent map: distinct hashes share every fragment'); // unreachable for 32-bit hashes
  const fa = (a.hash >>> shift) & MASK;
  const fb = (b.hash >>> shift) & MASK;
  if (fa === fb) return { bitmap: 1 << fa, children: [merge(a, b, shift + BITS)] };
  return { bitmap: (1 << fa) | (1 << fb), children: fa < fb ? [a, b] : [b, a] };
}

/** What an update walks down with: the key, its hash, the new value from the old, and whether the key was new. */
interface Update<V> {
  readonly hash: number;
  readonly key: string;
  readonly next: (current: V | undefined) => V;
  grew: boolean;
}

const leafOf = <V>(u: Update<V>, current: V | undefined): Leaf<V> => ({ hash: u.hash, key: u.key, value: u.next(current) });

/** `node` with the key of `u` set to its new value: one walk down, whether or not the key is there. */
function insert<V>(node: Child<V>, u: Update<V>, shift: number): Child<V> {
  if (isBranch(node)) {
    const bit = 1 << ((u.hash >>> shift) & MASK);
    const index = popcount(node.bitmap & (bit - 1));
    const children = node.children.slice();
    if ((node.bitmap & bit) === 0) {
      u.grew = true;
      children.splice(index, 0, leafOf(u, undefined));
      return { bitmap: node.bitmap | bit, children };
    }
    children[index] = insert(node.children[index]!, u, shift + BITS);
    return { bitmap: node.bitmap, children };
  }
  if (isCollision(node)) {
    if (node.hash !== u.hash) {
      u.grew = true;
      return merge(node, leafOf(u, undefined), shift);
    }
    const at = node.leaves.findIndex((l) => l.key === u.key);
    const leaves = node.leaves.slice();
    if (at < 0) {
      u.grew = true;
      leaves.push(leafOf(u, undefined));
    } else {
      leaves[at] = leafOf(u, leaves[at]!.value);
    }
    return { hash: node.hash, leaves: leaves.sort(byKey) };
  }
  if (node.key === u.key) return leafOf(u, node.value);
  u.grew = true;
  return merge(node, leafOf(u, undefined), shift);
}

/** `node` without `key` (undefined if nothing is left); the same node if the key is absent. */
function remove<V>(node: Child<V>, hash: number, key: string, shift: number): Child<V> | undefined {
  if (isBranch(node)) {
    const bit = 1 << ((hash >>> shift) & MASK);
    if ((node.bitmap & bit) === 0) return node;
    const index = popcount(node.bitmap & (bit - 1));
    const child = node.children[index]!;
    const next = remove(child, hash, key, shift + BITS);
    if (next === child) return node;
    const children = node.children.slice();
    if (next === undefined) {
      children.splice(index, 1);
      const bitmap = node.bitmap & ~bit;
      if (bitmap === 0) return undefined;
      // A branch left with one entry below the root collapses into it, so equal maps look alike.
      if (shift > 0 && children.length === 1 && !isBranch(children[0]!)) return children[0];
      return { bitmap, children };
    }
    if (shift > 0 && children.length === 1 && !isBranch(next)) return next;
    children[index] = next;
    return { bitmap: node.bitmap, children };
  }
  if (isCollision(node)) {
    if (node.hash !== hash) return node;
    const leaves = node.leaves.filter((l) => l.key !== key);
    if (leaves.length === node.leaves.length) return node;
    return leaves.length === 1 ? leaves[0] : { hash, leaves };
  }
  return node.key === key ? undefined : node;
}

function* walk<V>(node: Child<V>): Generator<Leaf<V>> {
  if (isBranch(node)) for (const child of node.children) yield* walk(child);
  else if (isCollision(node)) yield* node.leaves;
  else yield node;
}

export class PersistentMap<V> implements ReadonlyMap<string, V> {
  static readonly #empty = new PersistentMap<never>(EMPTY_BRANCH, 0);

  /**
   * The trie. Public on purpose: its shape depends only on the entries (collisions kept in key
   * order, single-entry branches collapsed), so structural equality (assert.deepEqual of two
   * states) compares contents, as it did for a Map.
   */
  readonly trie: Branch<V>;
  readonly size: number;

  private constructor(trie: Branch<V>, size: number) {
    this.trie = trie;
    this.size = size;
  }

  static empty<V>(): PersistentMap<V> {
    return PersistentMap.#empty as PersistentMap<V>;
  }

  static from<V>(entries: Iterable<readonly [string, V]>): PersistentMap<V> {
    let map = PersistentMap.empty<V>();
    for (const [key, value] of entries) map = map.set(key, value);
    return map;
  }

  get(key: string): V | undefined {
    return lookup(this.trie, hashOf(key), key, 0)?.value;
  }

  has(key: string): boolean {
    return lookup(this.trie, hashOf(key), key, 0) !== undefined;
  }

  /** A map with `key` set to `value`; this one is unchanged. */
  set(key: string, value: V): PersistentMap<V> {
    return this.update(key, () => value);
  }

  /** A map with `key` set to `next` of its value (undefined if absent), found in one walk. */
  update(key: string, next: (current: V | undefined) => V): PersistentMap<V> {
    const u: Update<V> = { hash: hashOf(key), key, next, grew: false };
    const root = insert(this.trie, u, 0) as Branch<V>;
    return new PersistentMap(root, this.size + (u.grew ? 1 : 0));
  }

  /** A map without `key` (this one if it was absent). */
  delete(key: string): PersistentMap<V> {
    const root = remove(this.trie, hashOf(key), key, 0) as Branch<V> | undefined;
    if (root === this.trie) return this;
    return root === undefined ? PersistentMap.empty() : new PersistentMap(root, this.size - 1);
  }

  *entries(): MapIterator<[string, V]> {
    for (const leaf of walk(this.trie)) yield [leaf.key, leaf.value];
  }

  *keys(): MapIterator<string> {
    for (const leaf of walk(this.trie)) yield leaf.key;
  }

  *values(): MapIterator<V> {
    for (const leaf of walk(this.trie)) yield leaf.value;
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  forEach(callback: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    for (const leaf of walk(this.trie)) callback.call(thisArg, leaf.value, leaf.key, this);
  }
}
