/**
 * Several connections at once, requests interleaved across them and pipelined on one:
 * each connection's replies come back in its own request order (hsmd.c req_reply), and
 * are the real hsmd's bytes. Expected replies come from the recorded legacy session
 * (secret 0x01×32); this test needs the local signer to answer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixturePath } from './fixtures.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { type Exchange, loadTranscript } from './transcript.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** The node id of hsm_secret 0x01×32 (docs/hsmd-protocol.md#hsm_secret-formats). */
const OUR_ID = Buffer.from('026f61d7ee82f937f9697f4f3e44bfaaa25849cc4f526b3a57326130eba6346002', 'hex');

test('interleaved clients get their own replies, in order (needs the local signer)', async (t) => {
  const { header, exchanges } = loadTranscript(fixturePath('transcripts/hsmd-basic-legacy.jsonl'));
  const bySeq = new Map(exchanges.map((e) => [e.seq, e]));
  const ex = (seq: number): Exchange => bySeq.get(seq)!;
  const ld = await SimLightningd.start({
    hsmSecret: Buffer.from(header.hsm_secret, 'hex'),
    env: { SPHINX_CLN_VERSION: 'v25.12.1', SPHINX_SIGNER: 'local' },
    timeoutMs: 5000,
  });
  t.after(() => ld.cleanup());
  try {
    await interleave(ld, ex);
  } catch (err) {
    await ld.exited(2000).catch(() => undefined); // let the status socket drain
    throw new Error(`${(err as Error).message}\nhsmd status:\n${ld.describeStatus()}`, { cause: err });
  }
});

async function interleave(ld: SimLightningd, ex: (seq: number) => Exchange): Promise<void> {
  assert.equal(hex(ld.master.request(ex(1).req)), ex(1).rep, 'hsmd_init');
  assert.ok(ex(1).rep!.includes(hex(OUR_ID)), 'our node id is in the recorded init reply');
  // The recorded channel client (dbid 1, COMMITMENT_POINT|SIGN_REMOTE_TX|ECDH) and a
  // connectd-like one (our id, dbid 0, ECDH): ECDH uses the node key on any connection.
  const channel = ld.hsmfd(Buffer.from(ex(12).peer!, 'hex'), BigInt(ex(12).dbid), BigInt(ex(12).perms));
  const connectd = ld.hsmfd(OUR_ID, 0n, 1n);

  channel.send(ex(12).req);
  channel.send(ex(13).req); // pipelined: the reply to 12 is still unread
  connectd.send(ex(5).req);
  ld.master.send(ex(18).req);
  channel.send(ex(14).req);
  connectd.send(ex(17).req);
  channel.send(ex(15).req);

  assert.equal(hex(ld.master.receive()), ex(18).rep, 'master derive_secret');
  assert.equal(hex(connectd.receive()), ex(5).rep, 'connectd ecdh 1');
  for (const seq of [12, 13, 14, 15]) assert.equal(hex(channel.receive()), ex(seq).rep, `channel seq ${seq}`);
  assert.equal(hex(connectd.receive()), ex(17).rep, 'connectd ecdh 2');
  assert.equal(hex(channel.request(ex(16).req)), ex(16).rep, 'check_future_secret');
  assert.deepEqual(await ld.stop(), { code: 2, signal: null });
}
