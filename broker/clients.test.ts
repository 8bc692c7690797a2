/** The client registry follows hsmd.c new_client (docs/hsmd-protocol.md#client-sockets). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MASTER_PERMISSIONS } from '../signer/permissions.js';
import { ClientRegistry } from './clients.js';

const peer = (b: number): Uint8Array => Uint8Array.of(2, ...new Array<number>(32).fill(b));

test('the master is client 0: 33 zero bytes, dbid 0, MASTER|SIGN_GOSSIP|ECDH (1027)', () => {
  const registry = new ClientRegistry();
  const master = registry.addMaster(() => {});
  assert.equal(master.isMaster, true);
  assert.deepEqual([...master.context.peer], new Array<number>(33).fill(0));
  assert.equal(master.context.dbid, 0n);
  assert.equal(master.context.permissions, MASTER_PERMISSIONS);
  assert.equal(MASTER_PERMISSIONS, 1027n);
  assert.throws(() => registry.addMaster(() => {}));
});

test('a client with a live nonzero dbid closes the old connection', () => {
  const registry = new ClientRegistry();
  registry.addMaster(() => {});
  const closed: string[] = [];
  const first = registry.add({ peer: peer(1), dbid: 7n, permissions: 0x18n }, () => closed.push('first'));
  const second = registry.add({ peer: peer(1), dbid: 7n, permissions: 0x1bfn }, () => closed.push('second'));
  assert.deepEqual(closed, ['first']);
  registry.remove(first); // the old connection's end must not evict the new one
  const third = registry.add({ peer: peer(1), dbid: 7n, permissions: 0x1bfn }, () => closed.push('third'));
  assert.deepEqual(closed, ['first', 'second']);
  assert.equal(second.isMaster || third.isMaster, false);
});

test('dbid 0 clients: three in all with the master (dbid_zero_clients[3]), never freed', () => {
  const registry = new ClientRegistry();
  registry.addMaster(() => {});
  const connectd = registry.add({ peer: peer(3), dbid: 0n, permissions: 0x1n }, () => {});
  const gossipd = registry.add({ peer: peer(3), dbid: 0n, permissions: 0x3n }, () => {});
  assert.equal(connectd.overflow || gossipd.overflow, false);
  registry.remove(gossipd);
  const fourth = registry.add({ peer: peer(3), dbid: 0n, permissions: 0x1n }, () => {});
  assert.equal(fourth.overflow, true);
});
