/**
 * A new node: with no hsm_secret in its working directory, sphinx-hsmd creates one at
 * init as CLN v25.12's hsmd does (hsmd.c maybe_create_new_hsm): 32 zero bytes then a
 * 12-word English BIP 39 mnemonic, mode 0400, and answers init with secret type 2.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { fromHex, toHex } from '../signer/bytes.js';
import { isValidMnemonic } from '../signer/keys/bip39.js';
import { decodeAs } from '../signer/wire/messages.js';
import { fixturePath } from './fixtures.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { loadTranscript } from './transcript.js';

const INIT = fromHex(loadTranscript(fixturePath('transcripts/hsmd-basic-legacy.jsonl')).exchanges[0]!.req);

test('missing hsm_secret: created as a 12-word mnemonic at init, and used as such', async (t) => {
  const ld = await SimLightningd.start({ env: { SPHINX_SIGNER: 'local', SPHINX_CLN_VERSION: 'v25.12.1' } });
  t.after(() => ld.cleanup());
  const reply = decodeAs('hsmd_init_reply_v4', ld.master.request(INIT));

  const path = join(ld.dir, 'hsm_secret');
  const file = readFileSync(path);
  assert.equal(statSync(path).mode & 0o777, 0o400);
  assert.equal(toHex(file.subarray(0, 32)), '00'.repeat(32)); // no passphrase: zero check
  const words = file.subarray(32).toString('utf8');
  assert.equal(words.split(' ').length, 12);
  assert.ok(isValidMnemonic(words), `not a valid BIP 39 mnemonic: ${words}`);
  assert.equal(reply.tlvs.hsm_secret_type, 2);
  assert.ok(reply.tlvs.bip86_base);
  await ld.waitForStatus((m) => m.kind === 'log' && /created new hsm_secret/.test(m.entry));
  await ld.stop();

  // lightningd restarting on the same directory: the same node, no new secret.
  const again = await SimLightningd.start({
    hsmSecret: new Uint8Array(file),
    env: { SPHINX_SIGNER: 'local', SPHINX_CLN_VERSION: 'v25.12.1' },
  });
  t.after(() => again.cleanup());
  assert.equal(toHex(decodeAs('hsmd_init_reply_v4', again.master.request(INIT)).node_id), toHex(reply.node_id));
});

test('an encrypted (73-byte) hsm_secret: init_reply_failure saying how to convert it, then hsmd exits', async (t) => {
  const ld = await SimLightningd.start({
    hsmSecret: new Uint8Array(73).fill(0x5a),
    env: { SPHINX_SIGNER: 'local', SPHINX_CLN_VERSION: 'v25.12.1' },
  });
  t.after(() => ld.cleanup());
  const failure = decodeAs('hsmd_init_reply_failure', ld.master.request(INIT));
  assert.match(failure.error_message, /lightning-hsmtool decrypt/);
  const fail = await ld.waitForStatus((m) => m.kind === 'fail');
  assert.match(fail.kind === 'fail' ? fail.desc : '', /Failed to load hsm_secret/);
  assert.notEqual((await ld.exited()).code, 0);
});

test('an unreadable hsm_secret: init_reply_failure naming it, then hsmd exits (lightningd is not left waiting)', async (t) => {
  const ld = await SimLightningd.start({ env: { SPHINX_SIGNER: 'local', SPHINX_CLN_VERSION: 'v25.12.1' } });
  t.after(() => ld.cleanup());
  mkdirSync(join(ld.dir, 'hsm_secret')); // a directory: reading it fails (EISDIR), even as root
  const failure = decodeAs('hsmd_init_reply_failure', ld.master.request(INIT));
  assert.match(failure.error_message, /Could not read .*hsm_secret: .*EISDIR/);
  assert.notEqual((await ld.exited()).code, 0);
});
