/**
 * The device's control and policy file on the real core (in-memory journal): a signed
 * command is accepted once (its nonce then replayed or stale), its change journaled as a
 * `control` record before the answer, which is signed by the node key and names the command;
 * wrong key, forged, malformed, another device, no owner and invalid arguments refused, each
 * changing nothing; the policy file applied once per content, reapplied when it changes,
 * an invalid one refused with the fix; an owner key equal to the node key refused.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import * as bitcoin from 'bitcoinjs-lib';
import { toHex, utf8 } from '../../signer/bytes.js';
import { commandBody } from '../../signer/control/commands.js';
import { bodyObject, openMessage, signedDigest, signMessage } from '../../signer/control/wire.js';
import { nobleCurve } from '../../signer/crypto/noble.js';
import { DEFAULT_POLICY } from '../../signer/policy/policy.js';
import { Signer } from '../../signer/signer.js';
import { SignerCore } from '../../core/signer-core.js';
import { openJournalFiles } from '../../log/journal/journal.js';
import { MemoryDir } from '../../log/memory-file.js';
import { SESSION_ALLOWLIST, sessionSignerOptions } from '../../test/session-records.js';
import { applyPolicyFile, checkOwnerKey, DeviceControl } from './control.js';
import { DeviceSetupError, type Clock, type TimerHandle } from './ports.js';

const curve = nobleCurve;
const NODE_KEY = new Uint8Array(32).fill(5);
const OWNER = new Uint8Array(32).fill(6);
const DEVICE = toHex(curve.publicKey(NODE_KEY));
const clock: Clock = { now: () => 1_800_000_000_000, after: () => ({}) as TimerHandle, cancel: () => {} };

function rig(owner: 'owner' | 'none' = 'owner') {
  const ownerKey = owner === 'owner' ? toHex(curve.publicKey(OWNER)) : undefined;
  const dir = new MemoryDir();
  const open = () => SignerCore.open(openJournalFiles(dir), (s) => new Signer(sessionSignerOptions('session-basic-l1.jsonl'), s)).core;
  const core = open();
  const logs: string[] = [];
  const control = new DeviceControl({ core, curve, nodeKey: NODE_KEY, deviceId: DEVICE, ownerKey, clock, policy: () => core.signer.policy, log: (_l, line) => logs.push(line) });
  const send = (payload: Uint8Array) => {
    const answer = openMessage(curve, control.handle(payload), 'response', DEVICE);
    return bodyObject(answer.body) as { ok: boolean; refusal?: string; error?: string; result?: Record<string, unknown>; request: string };
  };
  const command = (nonce: bigint, command: Parameters<typeof commandBody>[0]['command'], args: Record<string, unknown> = {}, key = OWNER, device = DEVICE) =>
    signMessage(curve, key, 'command', commandBody({ device, nonce, command, args }));
  return { core, open, send, command, logs };
}

test('a command is accepted once, journaled before the signed answer naming it; a repeat is replayed, an older nonce stale', () => {
  const r = rig();
  const cmd = r.command(10n, 'limits-set', { velocityLimitSat: 1234 });
  const answer = r.send(cmd);
  assert.equal(answer.ok, true, answer.error);
  assert.equal(answer.request, toHex(signedDigest('command', JSON.parse(new TextDecoder().decode(cmd)).body)));
  assert.equal(r.core.state.policy?.velocityLimitSat, 1234n);
  assert.equal(r.core.lastSeq('control'), 1n);
  assert.equal(r.open().state.policy?.velocityLimitSat, 1234n, 'journaled: a reopened core has it');
  assert.deepEqual([r.send(cmd).refusal, r.send(r.command(9n, 'status')).refusal], ['replayed', 'stale']);
  assert.equal(r.core.lastSeq('control'), 1n, 'refusals journal nothing');
});

test('wrong key, forged, malformed, another device, invalid arguments and no owner are refused, changing nothing', () => {
  const r = rig();
  const refusal = (payload: Uint8Array) => r.send(payload).refusal;
  assert.equal(refusal(r.command(1n, 'status', {}, new Uint8Array(32).fill(7))), 'wrong-key');
  const forged = JSON.parse(new TextDecoder().decode(r.command(1n, 'status')));
  forged.body = forged.body.replace('"1"', '"2"');
  assert.equal(refusal(utf8(JSON.stringify(forged))), 'forged');
  assert.equal(refusal(utf8('{"v":1}')), 'malformed');
  assert.equal(refusal(utf8('not json')), 'malformed');
  assert.equal(refusal(r.command(1n, 'status', {}, OWNER, '03' + '11'.repeat(32))), 'other-device');
  assert.equal(refusal(r.command(1n, 'allowlist-add', { entries: ['bc1qnotanaddress'] })), 'invalid');
  assert.equal(refusal(r.command(1n, 'allowlist-remove', { entries: ['0014' + '11'.repeat(20)] })), 'invalid');
  assert.equal(refusal(r.command(1n, 'policy-set', { settings: { maxHtlcs: -1 } })), 'invalid');
  assert.equal(r.core.lastSeq('control'), 0n);
  assert.equal(r.core.state.controlNonce, 0n);
  assert.equal(rig('none').send(r.command(1n, 'status')).refusal, 'no-owner');
  assert.ok(r.logs.every((l) => /refused \((wrong-key|forged|malformed|other-device|invalid)\)/.test(l)), r.logs.join('\n'));
});

test('allowlist add/remove in the network format, approve by invoice or hash, status', () => {
  const r = rig();
  const add = r.send(r.command(1n, 'allowlist-add', { entries: ['1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2', '0014' + '11'.repeat(20)] }));
  const p2pkh = toHex(bitcoin.address.toOutputScript('1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2', bitcoin.networks.bitcoin));
  // After the session's own allowlisted destination (its signer options).
  assert.deepEqual((add.result!.policy as { allowlist: string[] }).allowlist, [...SESSION_ALLOWLIST['session-basic-l1.jsonl']!, p2pkh, '0014' + '11'.repeat(20)]);
  const removed = r.send(r.command(2n, 'allowlist-remove', { entries: ['0014' + '11'.repeat(20)] }));
  assert.deepEqual((removed.result!.policy as { allowlist: string[] }).allowlist, [...SESSION_ALLOWLIST['session-basic-l1.jsonl']!, p2pkh]);
  assert.equal(r.send(r.command(3n, 'approve', { paymentHash: 'ab'.repeat(32) })).ok, true);
  const status = r.send(r.command(4n, 'status')).result!;
  assert.deepEqual(status.approvals, ['ab'.repeat(32)]);
  assert.equal(status.controlNonce, '3');
  assert.equal(status.policySource, 'device');
});

test('the policy file: applied once per content, again when it changes; an invalid one refused with the fix', () => {
  const r = rig();
  const file = utf8(JSON.stringify({ maxChannelValueSat: 1000, allowlist: ['0014' + '22'.repeat(20)] }));
  assert.match(applyPolicyFile(r.core, file, DEFAULT_POLICY, clock)!, /policy.json applied \(sha256 [0-9a-f]{64}\)/);
  assert.equal(r.core.state.policy?.maxChannelValueSat, 1000n);
  assert.equal(r.core.state.policy?.maxHtlcs, DEFAULT_POLICY.maxHtlcs, 'keys left out take the defaults');
  assert.equal(applyPolicyFile(r.open(), file, DEFAULT_POLICY, clock), undefined, 'unchanged: not applied again');
  // A control change after the file stays until the file changes.
  assert.equal(r.send(r.command(1n, 'policy-set', { settings: { maxHtlcs: 5 } })).ok, true);
  const core = r.open();
  assert.equal(applyPolicyFile(core, file, DEFAULT_POLICY, clock), undefined);
  assert.equal(core.state.policy?.maxHtlcs, 5);
  applyPolicyFile(core, utf8('{"maxHtlcs": 7}'), DEFAULT_POLICY, clock);
  assert.deepEqual([core.state.policy?.maxHtlcs, core.state.policy?.maxChannelValueSat], [7, DEFAULT_POLICY.maxChannelValueSat]);
  assert.throws(() => applyPolicyFile(core, utf8('{"maxHtlc": 7}'), DEFAULT_POLICY, clock), (e: Error) => e instanceof DeviceSetupError && /unknown policy setting "maxHtlc"/.test(e.message));
  assert.throws(() => applyPolicyFile(core, utf8('{'), DEFAULT_POLICY, clock), DeviceSetupError);
  assert.throws(() => checkOwnerKey(DEVICE, DEVICE), /holds the node's own key/);
  assert.throws(() => checkOwnerKey('xyz', DEVICE), /compressed public key/);
});
