/**
 * PersistentMap against the model it replaces (a native Map copied on every change): the same
 * entries after any sequence of sets, updates and deletes, old versions untouched, and one shape per
 * content so structural equality of states keeps meaning equal contents.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import { hashOf, PersistentMap } from './persistent-map.js';
import { assertProperty } from '../property-tests/settings.js';

/** Two distinct keys with the same 32-bit hash, found by search (birthday bound ~2^16). */
function collidingPair(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const key = `k${i}`;
    const other = seen.get(hashOf(key));
    if (other !== undefined) return [other, key];
    seen.set(hashOf(key), key);
  }
}
const [c1, c2] = collidingPair();

test('hashOf is 32-bit FNV-1a (the FNV authors\' vectors), given as a signed 32-bit integer', () => {
  // FNV-1a 32 of "", "a" and "foobar": 0x811c9dc5, 0xe40c292c, 0xbf9cf968 (all over 2^31).
  for (const [text, fnv] of [['', 0x811c9dc5], ['a', 0xe40c292c], ['foobar', 0xbf9cf968]] as const) {
    assert.equal(hashOf(text) >>> 0, fnv, text);
    assert.equal(hashOf(text), fnv | 0, text);
  }
});

// Small key space (plus a full-hash collision) so sets hit existing keys and deletes hit present ones.
const key = fc.oneof(fc.constantFrom(c1, c2), fc.integer({ min: 0, max: 60 }).map((i) => `ch${i}`));
const op = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key, value: fc.integer() }),
  fc.record({ kind: fc.constant('update' as const), key, value: fc.integer() }),
  fc.record({ kind: fc.constant('delete' as const), key }),
);

const sorted = <V>(m: ReadonlyMap<string, V>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

test('the same entries as a Map after any sets, updates and deletes; earlier versions unchanged', () => {
  assertProperty(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      let map = PersistentMap.empty<number>();
      const model = new Map<string, number>();
      const versions: [PersistentMap<number>, [string, number][]][] = [];
      for (const o of ops) {
        if (o.kind === 'set') {
          map = map.set(o.key, o.value);
          model.set(o.key, o.value);
        } else if (o.kind === 'update') {
          // The updater sees the current value (undefined when absent), as Map.get would give it.
          map = map.update(o.key, (current) => (current ?? 1000) + o.value);
          model.set(o.key, (model.get(o.key) ?? 1000) + o.value);
        } else {
          map = map.delete(o.key);
          model.delete(o.key);
        }
        versions.push([map, sorted(model)]);
        assert.equal(map.size, model.size);
        assert.equal(map.get(o.key), model.get(o.key));
        assert.equal(map.has(o.key), model.has(o.key));
      }
      for (const [version, entries] of versions) assert.deepEqual(sorted(version), entries);
      assert.deepEqual(sorted(new Map(map)), sorted(model));
      assert.deepEqual([...map.keys()].sort(), [...model.keys()].sort());
    }),
    200,
  );
});

test('one shape per content: built in any order, equal maps are deepEqual', () => {
  assertProperty(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      let map = PersistentMap.empty<number>();
      for (const o of ops) map = o.kind === 'set' ? map.set(o.key, o.value) : map.delete(o.key);
      const rebuilt = PersistentMap.from(sorted(map).reverse());
      assert.deepEqual(rebuilt, map);
    }),
    200,
  );
});

test('keys with one 32-bit hash are both kept, found and removed', () => {
  assert.equal(hashOf(c1), hashOf(c2));
  const both = PersistentMap.empty<string>().set(c1, 'a').set(c2, 'b');
  assert.deepEqual([both.get(c1), both.get(c2), both.size], ['a', 'b', 2]);
  const one = both.delete(c1);
  assert.deepEqual([one.get(c1), one.get(c2), one.size], [undefined, 'b', 1]);
  assert.deepEqual(one, PersistentMap.empty<string>().set(c2, 'b'));
  assert.equal(both.delete('absent'), both);
});
