/**
 * policy-onchain-sighash-all (docs/policies.md) on session-basic-l1's withdrawal that funds
 * its channel, which the device signs as recorded: the same PSBT asking for another sighash
 * type on the input we sign is refused by name on the device for each type that leaves
 * outputs or inputs free (NONE, SINGLE, and each with ANYONECANPAY), and signed with that type
 * in local mode, as CLN's hsmd signs it; asking for ALL changes nothing.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { fixturePath } from '../../test/fixtures.js';
import { sessionPolicy } from '../../test/session-records.js';
import { clientOf, loadTranscript } from '../../test/transcript.js';
import { fromHex } from '../bytes.js';
import { nobleCurve as curve } from '../crypto/noble.js';
import type { Decision } from '../decision.js';
import { MASTER_PERMISSIONS } from '../permissions.js';
import { addRecord, parsePsbt, PSBT_IN_PARTIAL_SIG, PSBT_IN_SIGHASH_TYPE, PSBT_IN_TAP_KEY_SIG, record, recordsOf, serializePsbt } from '../psbt/psbt.js';
import { Signer } from '../signer.js';
import { decodeAs, encodeMessage } from '../wire/messages.js';
import { ONCHAIN_SIGHASH_ALL } from './onchain-rules.js';
import { LOCAL_POLICY, type PolicyConfig } from './policy.js';

const SESSION = 'session-basic-l1.jsonl';
const typeOf = (hex: string): number => parseInt(hex.slice(0, 4), 16);

/** The session up to its first withdrawal (the channel's funding), and that request. */
function atFunding(policy: PolicyConfig): { send: (frame: Uint8Array) => Decision; withdrawal: Uint8Array } {
  const { header, exchanges } = loadTranscript(fixturePath(`transcripts/${SESSION}`));
  const signer = new Signer({ curve, developer: header.hsmd_args.includes('--developer'), readHsmSecret: () => fromHex(header.hsm_secret), policy });
  let id = 0n;
  const at = exchanges.findIndex((ex) => typeOf(ex.req) === 7);
  for (const ex of exchanges.slice(0, at)) {
    if (typeOf(ex.req) !== 9) signer.handle({ id: ++id, client: clientOf(ex), at: 0, message: fromHex(ex.req) });
  }
  const send = (frame: Uint8Array) => signer.handle({ id: ++id, client: { peer: new Uint8Array(33), dbid: 0n, permissions: MASTER_PERMISSIONS }, at: 0, message: frame });
  return { send, withdrawal: fromHex(exchanges[at]!.req) };
}

/** The withdrawal with every input asking for `sighash` (PSBT_IN_SIGHASH_TYPE, 4 bytes little-endian). */
function asking(withdrawal: Uint8Array, sighash: number): Uint8Array {
  const m = decodeAs('hsmd_sign_withdrawal', withdrawal);
  const psbt = parsePsbt(m.psbt!, curve);
  for (const input of psbt.inputs) addRecord(input, record(PSBT_IN_SIGHASH_TYPE, new Uint8Array(0), Uint8Array.of(sighash, 0, 0, 0)));
  return encodeMessage('hsmd_sign_withdrawal', { ...m, psbt: serializePsbt(psbt) });
}

/** The sighash byte of every signature the signed PSBT carries. */
function signedTypes(d: Decision): number[] {
  assert.equal(d.reply.kind, 'frame', JSON.stringify(d.reply));
  const psbt = parsePsbt(decodeAs('hsmd_sign_withdrawal_reply', (d.reply as { frame: Uint8Array }).frame).psbt!, curve);
  return psbt.inputs.flatMap((input) => [
    ...recordsOf(input, PSBT_IN_PARTIAL_SIG).map((r) => r.value[r.value.length - 1]!),
    ...recordsOf(input, PSBT_IN_TAP_KEY_SIG).map((r) => (r.value.length === 65 ? r.value[64]! : 0)),
  ]);
}

const LOOSE = [0x02, 0x03, 0x81, 0x82, 0x83];

test('the device refuses to sign our wallet inputs with any sighash type but ALL, by name; local mode signs them as CLN does', () => {
  for (const sighash of LOOSE) {
    const device = atFunding(sessionPolicy(SESSION));
    const d = device.send(asking(device.withdrawal, sighash));
    assert.equal(d.reply.kind, 'bad-request', `type ${sighash}`);
    assert.match((d.reply as { description: string }).description, new RegExp(`^${ONCHAIN_SIGHASH_ALL}: input 0 asks for sighash type 0x${sighash.toString(16).padStart(2, '0')}:`));
    assert.deepEqual(d.events, []);

    const local = atFunding(LOCAL_POLICY);
    const types = signedTypes(local.send(asking(local.withdrawal, sighash)));
    assert.ok(types.length > 0 && types.every((t) => t === sighash), `local signs with type ${sighash}: ${types}`);
  }
  const device = atFunding(sessionPolicy(SESSION));
  const types = signedTypes(device.send(asking(device.withdrawal, 0x01)));
  assert.ok(types.length > 0 && types.every((t) => t === 0x01), 'ALL asked for explicitly is signed');
});
