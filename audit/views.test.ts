/**
 * parseChannel, the `sphinx-audit channel` argument: a peer node id and a dbid that is a u64
 * (the channel's id in CLN's database), read by the shared decimal u64 parser.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { toHex } from '../signer/bytes.js';
import { parseChannel } from './views.js';

test('a channel argument: the peer in 66 hex digits, the dbid a u64 in decimal; anything else says which part is wrong', () => {
  const peer = `03${'CD'.repeat(32)}`;
  const ok = parseChannel(`${peer}/18446744073709551615`);
  assert.ok(!(ok instanceof Error), String(ok));
  assert.equal(toHex(ok.peer), peer.toLowerCase());
  assert.equal(ok.dbid, 2n ** 64n - 1n);
  for (const [arg, why] of [
    [`${peer}/18446744073709551616`, /^dbid 18446744073709551616 is above 2\^64-1$/],
    [`${peer}/99999999999999999999999`, /^dbid "99999999999999999999999" is not a decimal string$/],
    [`${peer}/01`, /^dbid "01" is not a decimal string$/],
    [`${peer}/-1`, /^dbid "-1" is not a decimal string$/],
    [`${peer}/`, /^dbid "" is not a decimal string$/],
    [`${peer.slice(2)}/1`, /^not <peer>\/<dbid>/],
    ['xyz', /^not <peer>\/<dbid>/],
  ] as const) {
    const result = parseChannel(arg);
    assert.ok(result instanceof Error, arg);
    assert.match(result.message, why, arg);
  }
});
