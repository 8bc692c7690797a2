/**
 * Every `pubkey` field is parsed as a point before a handler runs, as CLN's fromwire_pubkey
 * does (docs/hsmd-protocol.md "Field encodings"): a request with 33 bytes that are no point in
 * any such field is a bad request, whatever the handler would have done with the bytes (most
 * only put them into scripts), and decides nothing. Checked on every request of a recorded
 * session that has such fields, one field at a time; the untouched request then still gets
 * CLN's recorded reply.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { equal, fromHex, toHex } from '../bytes.js';
import { Signer } from '../signer.js';
import { decodeMessage } from '../wire/messages.js';
import { sessionRequests, sessionSignerOptions } from '../../test/session-records.js';

const SESSION = 'session-basic-l1.jsonl';

/** The first x (from 1) for which 02‖x is no secp256k1 point, by @noble/curves itself. */
function offCurveX(): Uint8Array {
  for (let x = 1n; ; x++) {
    const bytes = fromHex(x.toString(16).padStart(64, '0'));
    try {
      secp256k1.Point.fromHex('02' + toHex(bytes));
    } catch {
      return bytes;
    }
  }
}

test('a pubkey field that is no point makes a bad request that decides nothing; the same request untouched gets CLN\'s reply', () => {
  const x = offCurveX();
  const signer = new Signer(sessionSignerOptions(SESSION));
  const refused = new Map<string, number>();
  for (const { exchange, envelope } of sessionRequests(SESSION)) {
    const pointsAt: number[] = [];
    const { name } = decodeMessage(envelope.message, pointsAt);
    for (const at of pointsAt) {
      const message = envelope.message.slice();
      message.set(x, at + 1);
      const decision = signer.handle({ ...envelope, message });
      assert.deepEqual(decision.reply, { kind: 'bad-request', description: 'could not parse request' }, `${name} seq ${exchange.seq}, the point at byte ${at}`);
      assert.deepEqual(decision.events, [], `${name} seq ${exchange.seq}`);
      refused.set(name, (refused.get(name) ?? 0) + 1);
    }
    const { reply } = signer.handle(envelope);
    if (exchange.rep !== null) assert.ok(reply.kind === 'frame' && equal(reply.frame, fromHex(exchange.rep)), `${name} seq ${exchange.seq}: CLN's reply`);
  }
  // The session's pubkey fields: the wallet scan's check_pubkey, ECDH, the channel's setup and its signing requests.
  assert.deepEqual([...refused.keys()].sort(), [
    'hsmd_check_pubkey', 'hsmd_ecdh_req', 'hsmd_setup_channel', 'hsmd_sign_commitment_tx',
    'hsmd_sign_mutual_close_tx', 'hsmd_sign_remote_commitment_tx', 'hsmd_sign_remote_htlc_tx',
  ]);
});
