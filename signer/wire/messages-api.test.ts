/**
 * The message API around the table: trailing bytes (accepted and dropped, as CLN's generated
 * fromwire_* does), unknown types, decodeAs, peekType, errors that name message and field,
 * and the static types other modules code against.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex } from '../bytes.js';
import { WireError } from './errors.js';
import {
  decodeAs, decodeMessage, encodeMessage, peekType, type HsmdMessage, type MessageFields,
} from './messages.js';

// hsmd-basic-legacy.jsonl seq 2: derive_secret("bolt12-invoice-base") and its reply.
const DERIVE_REQ = '001b0013626f6c7431322d696e766f6963652d62617365';
// docs/hsmd-protocol.md#init: the regtest init lightningd sends, no passphrase (55 bytes).
const INIT_REQ = '000b043587cf0435839406226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f' +
  '0000000000' + '00000005' + '00000006';

test('trailing bytes after the last field are accepted and dropped (CLN: return cursor != NULL)', () => {
  const canonical = decodeMessage(fromHex(DERIVE_REQ));
  const padded = decodeMessage(fromHex(DERIVE_REQ + 'ff00ff'));
  assert.deepEqual(padded, canonical);
  assert.equal(toHex(encodeMessage('hsmd_derive_secret', decodeAs('hsmd_derive_secret', fromHex(DERIVE_REQ + '00')))), DERIVE_REQ);
  // An empty message with bytes after its type, e.g. client_hsmfd_reply.
  assert.deepEqual(decodeMessage(fromHex('006d' + '01')), { name: 'hsmd_client_hsmfd_reply' });
});

test('a trailing TLV stream runs to the end: extra bytes are TLV records, kept or rejected', () => {
  const init = decodeAs('hsmd_init', fromHex(INIT_REQ));
  assert.deepEqual(init.tlvs, {});
  // An unknown odd record is kept and re-encoded.
  const withOdd = decodeAs('hsmd_init', fromHex(INIT_REQ + '0300'));
  assert.deepEqual(withOdd.tlvs, { unknown: [{ type: 3n, value: new Uint8Array(0) }] });
  assert.equal(toHex(encodeMessage('hsmd_init', withOdd)), INIT_REQ + '0300');
  // Unknown even, truncated or bad passphrase records fail the message.
  assert.throws(() => decodeMessage(fromHex(INIT_REQ + '0200')), /hsmd_init: field tlvs: unknown even TLV type 2/);
  assert.throws(() => decodeMessage(fromHex(INIT_REQ + '01')), WireError);
  // The passphrase must fill its record exactly, NUL included (fromwire_tlv: tlvlen != 0).
  assert.throws(() => decodeMessage(fromHex(INIT_REQ + '0103610000')),
    /hsmd_init: field tlvs.hsm_passphrase: 1 bytes left over in TLV type 1/);
  // The NUL is searched for inside the record only, not in the bytes after it.
  assert.throws(() => decodeMessage(fromHex(INIT_REQ + '0102616200')), /tlvs.hsm_passphrase: wirestring has no NUL/);
});

test('a passphrase TLV decodes to a string', () => {
  const frame = fromHex(INIT_REQ + '0105' + '7061737300');
  assert.equal(decodeAs('hsmd_init', frame).tlvs.hsm_passphrase, 'pass');
});

test('unknown types, short frames and other malformed frames throw WireError', () => {
  assert.throws(() => decodeMessage(fromHex('000f')), /unknown hsmd message type 15/);
  assert.throws(() => decodeMessage(fromHex('fff0' + '03')), /unknown hsmd message type 65520/);
  assert.throws(() => decodeMessage(new Uint8Array(0)), WireError);
  assert.throws(() => decodeMessage(fromHex('00')), WireError);
  assert.throws(() => peekType(fromHex('01')), WireError);
  assert.equal(peekType(fromHex('03e8')), 1000);
  // check_pubkey_reply with a bool of 2.
  assert.throws(() => decodeMessage(fromHex('0080' + '02')), /hsmd_check_pubkey_reply: field ok: bool must be 0 or 1/);
});

test('decode errors name the message, the field, the size and the offset', () => {
  assert.throws(() => decodeMessage(fromHex('0017' + '0078' + 'aabbcc')), (e: unknown) => {
    assert.ok(e instanceof WireError);
    assert.equal(e.message, 'hsmd_sign_message: field msg needs 120 bytes at offset 4, only 3 left');
    return true;
  });
});

test('decodeAs checks the type', () => {
  assert.deepEqual(decodeAs('hsmd_derive_secret', fromHex(DERIVE_REQ)).info, new TextEncoder().encode('bolt12-invoice-base'));
  assert.throws(() => decodeAs('hsmd_ecdh_req', fromHex(DERIVE_REQ)), /expected hsmd_ecdh_req \(type 1\), got type 27 \(hsmd_derive_secret\)/);
  assert.throws(() => decodeAs('hsmd_ecdh_req', fromHex('0fff')), /unknown type/);
});

test('encode errors name the message and field and are WireErrors', () => {
  assert.throws(() => encodeMessage('hsmd_ecdh_req', { point: new Uint8Array(32) }),
    /hsmd_ecdh_req: field point: expected 33 bytes, got 32/);
  assert.throws(() => encodeMessage('hsmd_new_channel', { id: new Uint8Array(33) } as MessageFields<'hsmd_new_channel'>),
    /hsmd_new_channel: field dbid: u64 out of range/);
  assert.throws(() => encodeMessage('hsmd_sign_withdrawal', { inputs: [{} as never], psbt: undefined }),
    (e: unknown) => e instanceof WireError && /field inputs: \[0\]: outpoint: object expected/.test(e.message));
  assert.throws(() => encodeMessage('no_such' as 'hsmd_ecdh_req', { point: new Uint8Array(33) }), WireError);
});

test('static types: the union narrows on name, fields carry CLN names and value types', () => {
  const m: HsmdMessage = decodeMessage(fromHex(INIT_REQ + '0105' + '7061737300'));
  assert.equal(m.name, 'hsmd_init');
  if (m.name === 'hsmd_init') {
    const passphrase: string | undefined = m.tlvs.hsm_passphrase;
    const maxVersion: number = m.hsm_wire_max_version;
    const key: Uint8Array | undefined = m.hsm_encryption_key;
    assert.equal(passphrase, 'pass');
    assert.equal(maxVersion, 6);
    assert.equal(key, undefined);
  }
  const withdrawal: MessageFields<'hsmd_sign_withdrawal'> = { inputs: [], psbt: undefined };
  assert.equal(toHex(encodeMessage('hsmd_sign_withdrawal', withdrawal)), '0007' + '0000' + '00000000');
});
