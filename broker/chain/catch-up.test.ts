import assert from 'node:assert/strict';
import test from 'node:test';
import type { DeviceChainStatus } from '../../signer/chain/status.js';
import { messageType } from '../../signer/wire/messages.js';
import { readsChain, waitsForDevice } from './catch-up.js';

const frame = (type: number): Uint8Array => new Uint8Array([type >> 8, type & 0xff, 0, 0]);

test('the requests that wait for the device to be caught up are the ones the chain rules read', () => {
  // signer/policy/chain-rules.ts: commitment rules on 19 and 35, the forget rule on 34.
  for (const name of ['hsmd_sign_remote_commitment_tx', 'hsmd_validate_commitment_tx', 'hsmd_forget_channel'] as const) {
    assert.equal(readsChain(frame(messageType(name))), true, name);
  }
  for (const name of ['hsmd_init', 'hsmd_setup_channel', 'hsmd_sign_withdrawal', 'hsmd_get_per_commitment_point', 'hsmd_sign_mutual_close_tx'] as const) {
    assert.equal(readsChain(frame(messageType(name))), false, name);
  }
  assert.equal(readsChain(new Uint8Array([0])), false, 'a frame too short for a type');
});

test('a request waits only for a device behind bitcoind that can be caught up', () => {
  const status = (height: number | null, refused: DeviceChainStatus['refused'] = null): DeviceChainStatus => ({
    network: 'regtest',
    tip: height === null ? null : { height, hash: '00'.repeat(32) },
    recent: [],
    watched: [],
    refused,
  });
  assert.equal(waitsForDevice({ status: status(101), problem: undefined }, 102), true);
  assert.equal(waitsForDevice({ status: status(102), problem: undefined }, 102), false, 'up to date');
  assert.equal(waitsForDevice({ status: status(103), problem: undefined }, 102), false, 'ahead (bitcoind reorged or lags)');
  assert.equal(waitsForDevice(undefined, 102), false, 'never heard from');
  assert.equal(waitsForDevice({ status: status(null), problem: undefined }, 102), false, 'no hsmd_init yet');
  assert.equal(waitsForDevice({ status: status(101, { name: 'chain-header-bad-pow', detail: '' }), problem: undefined }, 102), false, 'refused what it was shown');
  assert.equal(waitsForDevice({ status: status(101), problem: 'a reorg deeper than the device can take' }, 102), false, 'not on bitcoind\'s chain');
});
