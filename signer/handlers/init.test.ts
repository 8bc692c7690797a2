/**
 * hsmd_init and hsmd_dev_preinit through the Signer: version negotiation, capabilities,
 * secret types, the init failure reply, and the v5 get_per_commitment_point behaviour.
 * Expected values come from CLN's recordings, CLN's tests (cln-hsmd-facts.json) and
 * libhsmd.c's rules as docs/hsmd-protocol.md#init states them.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { readJsonFixture, fixturePath } from '../../test/fixtures.js';
import { loadTranscript } from '../../test/transcript.js';
import { concat, fromHex, toHex, utf8 } from '../bytes.js';
import { nobleCurve } from '../crypto/noble.js';
import type { Decision } from '../decision.js';
import type { ClientContext } from '../envelope.js';
import { mnemonicToSeed } from '../keys/bip39.js';
import { HsmSecretErrorCode } from '../keys/hsm-secret.js';
import { sha256 } from '../crypto/signatures.js';
import { MASTER_PERMISSIONS } from '../permissions.js';
import { Signer } from '../signer.js';
import { decodeAs, encodeMessage, type MessageFields } from '../wire/messages.js';

const legacy = loadTranscript(fixturePath('transcripts/hsmd-basic-legacy.jsonl'));
/** The init lightningd v25.12.1 sent on regtest (docs/hsmd-protocol.md#init, recorded). */
const RECORDED_INIT = decodeAs('hsmd_init', fromHex(legacy.exchanges[0]!.req));
const MASTER = { peer: new Uint8Array(33), dbid: 0n, permissions: MASTER_PERMISSIONS };

function signerFor(file: Uint8Array, developer = false): Signer {
  return new Signer({ curve: nobleCurve, developer, readHsmSecret: () => file });
}

let nextId = 0n;
const send = (signer: Signer, message: Uint8Array, client: ClientContext = MASTER): Decision =>
  signer.handle({ id: ++nextId, client, at: 0, message });

const init = (overrides: Partial<MessageFields<'hsmd_init'>> = {}): Uint8Array =>
  encodeMessage('hsmd_init', { ...RECORDED_INIT, ...overrides });

function initReply(d: Decision): MessageFields<'hsmd_init_reply_v4'> {
  assert.equal(d.reply.kind, 'frame', JSON.stringify(d.reply));
  return decodeAs('hsmd_init_reply_v4', (d.reply as { frame: Uint8Array }).frame);
}

test('init: the mutual version is min(lightningd max, 6); versions outside 4..6 are refused', () => {
  const file = fromHex(legacy.header.hsm_secret);
  assert.equal(initReply(send(signerFor(file), init())).hsm_version, 6);
  assert.equal(initReply(send(signerFor(file), init({ hsm_wire_max_version: 5 }))).hsm_version, 5);
  assert.equal(initReply(send(signerFor(file), init({ hsm_wire_min_version: 1, hsm_wire_max_version: 9 }))).hsm_version, 6);
  const refused = send(signerFor(file), init({ hsm_wire_min_version: 7, hsm_wire_max_version: 8 }));
  assert.deepEqual(refused.reply, { kind: 'bad-request', description: 'Version 7-8 not valid: we need 4-6' });
});

test('init: capabilities as recorded; dev no_preapprove_check drops 51 and 52', () => {
  const file = fromHex(legacy.header.hsm_secret);
  const recorded = decodeAs('hsmd_init_reply_v4', fromHex(legacy.exchanges[0]!.rep!));
  assert.deepEqual(initReply(send(signerFor(file), init())).hsm_capabilities, recorded.hsm_capabilities);

  const dev = signerFor(file, true);
  const preinit = encodeMessage('hsmd_dev_preinit', { tlvs: { no_preapprove_check: true } });
  assert.deepEqual(send(dev, preinit).reply, { kind: 'none' });
  const caps = initReply(send(dev, init())).hsm_capabilities;
  assert.deepEqual(caps, recorded.hsm_capabilities.filter((c) => c !== 51 && c !== 52));
});

test('dev_preinit without --developer is fatal, as hsmd asserts', () => {
  const preinit = encodeMessage('hsmd_dev_preinit', { tlvs: {} });
  assert.equal(send(signerFor(fromHex(legacy.header.hsm_secret)), preinit).reply.kind, 'fatal');
});

test('a request before init is fatal: "hsmd was not initialized correctly"', () => {
  const d = send(signerFor(fromHex(legacy.header.hsm_secret)), fromHex(legacy.exchanges[1]!.req));
  assert.equal(d.reply.kind, 'fatal');
  assert.match((d.reply as { description: string }).description, /not initialized correctly, expected message type 11, got 27/);
});

test('mnemonic with passphrase (hsmtool generatehsm fact): node id, secret type 3, bip86 base', () => {
  const facts = readJsonFixture('vectors/cln-hsmd-facts.json');
  const fact = facts.hsmtool_generatehsm_node_ids.find((f: { passphrase: string }) => f.passphrase !== '');
  const file = passphraseFile(fact.mnemonic, fact.passphrase);
  const reply = initReply(send(signerFor(file), init({ tlvs: { hsm_passphrase: fact.passphrase } })));
  assert.equal(toHex(reply.node_id), fact.node_id);
  assert.equal(reply.tlvs.hsm_secret_type, 3);
  assert.ok(reply.tlvs.bip86_base);
});

test('init failure 115: wrong passphrase (clean exit), missing passphrase, encrypted file', () => {
  const facts = readJsonFixture('vectors/cln-hsmd-facts.json');
  const fact = facts.hsmtool_generatehsm_node_ids.find((f: { passphrase: string }) => f.passphrase !== '');
  const file = passphraseFile(fact.mnemonic, fact.passphrase);

  const wrong = send(signerFor(file), init({ tlvs: { hsm_passphrase: 'not it' } })).reply;
  assert.equal(wrong.kind, 'fatal');
  assert.equal((wrong as { failure: unknown }).failure, null); // load_hsm: exit(0)
  const failure = decodeAs('hsmd_init_reply_failure', (wrong as { frame: Uint8Array }).frame);
  assert.equal(failure.error_code, HsmSecretErrorCode.WRONG_PASSPHRASE);
  assert.match(failure.error_message, /^Failed to load hsm_secret: /);

  const missing = send(signerFor(file), init()).reply as { failure: unknown; frame: Uint8Array };
  assert.equal(missing.failure, 'internal');
  assert.equal(decodeAs('hsmd_init_reply_failure', missing.frame).error_code, HsmSecretErrorCode.PASSPHRASE_REQUIRED);

  const encrypted = send(signerFor(new Uint8Array(73).fill(7)), init()).reply as { frame: Uint8Array };
  assert.match(decodeAs('hsmd_init_reply_failure', encrypted.frame).error_message, /lightning-hsmtool decrypt/);
});

test('get_per_commitment_point at version 5 also reveals secret n-2 (the one revoke_commitment_tx reveals)', () => {
  const session = loadTranscript(fixturePath('transcripts/session-basic-l1.jsonl'));
  // A recorded revoke_commitment_tx (40) reply reveals old_commitment_secret for its commit_num.
  const revoke = session.exchanges.find((e) => e.req.startsWith('0028') && e.rep)!;
  const n = decodeAs('hsmd_revoke_commitment_tx', fromHex(revoke.req)).commit_num;
  const revealed = decodeAs('hsmd_revoke_commitment_tx_reply', fromHex(revoke.rep!)).old_commitment_secret;

  const signer = signerFor(fromHex(session.header.hsm_secret));
  initReply(send(signer, init({ hsm_wire_max_version: 5 })));
  const client = { peer: fromHex(revoke.peer!), dbid: BigInt(revoke.dbid), permissions: BigInt(revoke.perms) };
  const d = send(signer, encodeMessage('hsmd_get_per_commitment_point', { n: n + 2n }), client);
  assert.equal(d.reply.kind, 'frame');
  const reply = decodeAs('hsmd_get_per_commitment_point_reply', (d.reply as { frame: Uint8Array }).frame);
  assert.equal(toHex(reply.old_commitment_secret!), toHex(revealed));

  // Version 6 never reveals it.
  const v6 = signerFor(fromHex(session.header.hsm_secret));
  initReply(send(v6, init()));
  const d6 = send(v6, encodeMessage('hsmd_get_per_commitment_point', { n: n + 2n }), client);
  assert.equal(decodeAs('hsmd_get_per_commitment_point_reply', (d6.reply as { frame: Uint8Array }).frame).old_commitment_secret, undefined);
});

/**
 * The hsm_secret hsmtool generatehsm writes (docs/hsmd-protocol.md#hsm_secret-formats): SHA256 of the BIP 39 seed of
 * words + passphrase (hsm_secret.c derive_seed_hash), then the words.
 */
const passphraseFile = (mnemonic: string, passphrase: string): Uint8Array =>
  concat(sha256(mnemonicToSeed(mnemonic, passphrase)), utf8(mnemonic));

test('a frame too short to have a type is a bad request (type -1, as fromwire_peektype), never an exception', () => {
  const d = send(signerFor(fromHex(legacy.header.hsm_secret)), Uint8Array.of(1));
  assert.deepEqual(d.reply, { kind: 'bad-request', description: 'does not have capability to run -1' });
});
