/**
 * The permission gate against CLN v25.12.1's hsmd_check_client_capabilities: spot checks of
 * its cases, every reply type and unknown type refused, and the table covering every request
 * of the wire table (the compiler enforces it; this shows the runtime table agrees).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { MESSAGES, type MessageName, messageType } from './wire/messages.js';
import {
  HSM_PERM_COMMITMENT_POINT, HSM_PERM_ECDH, HSM_PERM_LOCK_OUTPOINT, HSM_PERM_MASTER, HSM_PERM_SIGN_ONCHAIN_TX, HSM_PERM_SIGN_REMOTE_TX,
  MASTER_PERMISSIONS, mayRequest, REQUIRED_PERMISSION,
} from './permissions.js';

const ALL = (1n << 11n) - 1n;
const isReply = (name: string): boolean => /_reply($|_)|_resp$|^hsmstatus_/.test(name);

test('every request of the wire table has a permission; no reply or status message does', () => {
  for (const name of Object.keys(MESSAGES) as MessageName[]) {
    assert.equal(name in REQUIRED_PERMISSION, !isReply(name), name);
    assert.equal(mayRequest(ALL, messageType(name)), !isReply(name), `${name} with every permission`);
  }
  for (const type of [-1, 0, 15, 17, 57, 98, 100, 1000, 65535]) assert.equal(mayRequest(ALL, type), false, `type ${type}`);
});

test('the gate follows hsmd_check_client_capabilities', () => {
  const cases: [MessageName, bigint][] = [
    ['hsmd_ecdh_req', HSM_PERM_ECDH],
    ['hsmd_sign_penalty_to_us', HSM_PERM_SIGN_ONCHAIN_TX],
    ['hsmd_get_per_commitment_point', HSM_PERM_COMMITMENT_POINT],
    ['hsmd_revoke_commitment_tx', HSM_PERM_SIGN_REMOTE_TX],
    ['hsmd_lock_outpoint', HSM_PERM_LOCK_OUTPOINT],
    ['hsmd_sign_withdrawal', HSM_PERM_MASTER],
    ['hsmd_client_hsmfd', HSM_PERM_MASTER],
  ];
  for (const [name, needs] of cases) {
    assert.equal(mayRequest(needs, messageType(name)), true, `${name} with its permission`);
    assert.equal(mayRequest(ALL & ~needs, messageType(name)), false, `${name} without it`);
  }
  assert.equal(mayRequest(MASTER_PERMISSIONS, messageType('hsmd_sign_remote_commitment_tx')), false, 'the master may not sign remote commitments');
});
