import assert from 'node:assert/strict';
import test from 'node:test';
import { BROKEN_AFTER_MS, outageAfterFailure, unreachableFix } from './outage.js';

test('bitcoind unreachable: UNUSUAL at the first failure, BROKEN once, after it has lasted BROKEN_AFTER_MS', () => {
  const t0 = 1_000_000;
  const first = outageAfterFailure(undefined, t0);
  assert.deepEqual(first, { outage: { since: t0, broken: false }, level: 'unusual' });
  const polls = [2_000, 30_000, BROKEN_AFTER_MS - 1].map((dt) => outageAfterFailure(first.outage, t0 + dt));
  assert.deepEqual(polls.map((p) => p.level), [undefined, undefined, undefined], 'a restart of bitcoind is not a bug');
  const late = outageAfterFailure(first.outage, t0 + BROKEN_AFTER_MS);
  assert.deepEqual(late, { outage: { since: t0, broken: true }, level: 'broken' });
  assert.equal(outageAfterFailure(late.outage, t0 + 10 * BROKEN_AFTER_MS).level, undefined, 'said once per outage');
  assert.equal(BROKEN_AFTER_MS, 60_000);
});

test('the fix names the setting the chain source came from', () => {
  assert.match(unreachableFix('SPHINX_BITCOIND_URL'), /SPHINX_BITCOIND_URL points at its RPC port/);
  assert.match(unreachableFix('SPHINX_BITCOIND_URL and SPHINX_BITCOIND_COOKIE'), /SPHINX_BITCOIND_URL points at/);
  const fromLightningd = unreachableFix("lightningd's options (command line, /home/u/.lightning/config)");
  assert.match(fromLightningd, /bitcoin-rpcconnect and bitcoin-rpcport/);
  for (const fix of [fromLightningd, unreachableFix('SPHINX_BITCOIND_URL')]) assert.match(fix, /SPHINX_CHAIN=off/);
});
