/**
 * policy-onchain-destination (docs/policies.md) on every wallet request it covers, with the
 * device's default policy, driven from real CLN v25.12.1 sessions replayed through a Signer:
 * - each recorded withdrawal sent as sign_withdrawal (7), sign_htlc_tx_mingle (149) and
 *   sign_anchorspend (147): the one funding the channel the signer set up is signed (CLN's
 *   recorded PSBT); the one paying the other node's wallet is refused by name, and signed as
 *   recorded once that script is allowlisted;
 * - the funding withdrawal with its locktime changed (bitcoinjs-lib): no longer the outpoint
 *   setup_channel named, yet still paying that channel's funding script, which the rule
 *   accepts wherever it is paid;
 * - sign_splice_tx (29) over the recorded mutual close (one output to the peer's wallet):
 *   refused by name, and equal to the recorded close signature with the peer's script
 *   allowlisted.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { Psbt } from 'bitcoinjs-lib';
import { fixturePath } from '../../test/fixtures.js';
import { SESSION_ALLOWLIST } from '../../test/session-records.js';
import { clientOf, loadTranscript, type Exchange } from '../../test/transcript.js';
import { fromHex, toHex } from '../bytes.js';
import { parseTx } from '../bolt3/tx.js';
import { nobleCurve as curve } from '../crypto/noble.js';
import type { Decision } from '../decision.js';
import { HSM_PERM_SIGN_SPLICE_TX, MASTER_PERMISSIONS } from '../permissions.js';
import { Signer } from '../signer.js';
import { decodeAs, encodeMessage, type MessageName } from '../wire/messages.js';
import { ONCHAIN_DESTINATION } from './onchain-rules.js';
import { DEFAULT_POLICY } from './policy.js';

const MASTER_PEER = new Uint8Array(33);
const typeOf = (hex: string): number => parseInt(hex.slice(0, 4), 16);

type Send = (peer: Uint8Array, dbid: bigint, permissions: bigint, message: Uint8Array) => Decision;

/**
 * The session replayed through a Signer with the device's defaults and `allowlist`;
 * `before` runs ahead of each recorded request, with the state as it was then.
 */
function device(name: string, allowlist: readonly Uint8Array[], before?: (ex: Exchange, send: Send) => void) {
  const { header, exchanges } = loadTranscript(fixturePath(`transcripts/${name}`));
  const signer = new Signer({ curve, developer: header.hsmd_args.includes('--developer'), readHsmSecret: () => fromHex(header.hsm_secret), policy: { ...DEFAULT_POLICY, allowlist } });
  let id = 0n;
  const send: Send = (peer, dbid, permissions, message) => signer.handle({ id: ++id, client: { peer, dbid, permissions }, at: 0, message });
  for (const ex of exchanges) {
    if (typeOf(ex.req) === 9) continue;
    before?.(ex, send);
    const c = clientOf(ex);
    send(c.peer, c.dbid, c.permissions, fromHex(ex.req));
  }
  return { exchanges, send };
}

const psbtOf = (d: Decision, reply: MessageName): string => {
  assert.equal(d.reply.kind, 'frame', JSON.stringify(d.reply));
  return toHex((decodeAs(reply, (d.reply as { frame: Uint8Array }).frame) as { psbt: Uint8Array }).psbt);
};
const refused = (d: Decision): void => {
  assert.equal(d.reply.kind, 'bad-request', JSON.stringify(d.reply));
  assert.match((d.reply as { description: string }).description, new RegExp(`^${ONCHAIN_DESTINATION}: output \\d+ pays \\d+ sat to [0-9a-f]+: not our wallet`));
};

for (const name of ['session-basic-l1.jsonl', 'session-basic-l2.jsonl']) {
  const external = SESSION_ALLOWLIST[name]!.map(fromHex);

  test(`${name}: withdrawal, HTLC fee input and anchor spend: the channel funding signed, another node's wallet refused until allowlisted`, () => {
    const { exchanges } = loadTranscript(fixturePath(`transcripts/${name}`));
    const channel = exchanges.find((ex) => typeOf(ex.req) === 14)!;
    const funding = exchanges.filter((ex) => typeOf(ex.req) === 7 && !ex.rep!.includes(SESSION_ALLOWLIST[name]![0]!));
    /** Each withdrawal as 7, 149 and 147, sent when the session sent it: the replies, by the request's seq. */
    const variants = (allowlist: readonly Uint8Array[]): Map<number, [MessageName, Decision][]> => {
      const got = new Map<number, [MessageName, Decision][]>();
      device(name, allowlist, (ex, send) => {
        if (typeOf(ex.req) !== 7) return;
        const { inputs, psbt } = decodeAs('hsmd_sign_withdrawal', fromHex(ex.req));
        const fields = { peerid: fromHex(channel.peer!), channel_dbid: BigInt(channel.dbid), inputs, psbt };
        const requests: [Uint8Array, MessageName][] = [
          [fromHex(ex.req), 'hsmd_sign_withdrawal_reply'],
          [encodeMessage('hsmd_sign_htlc_tx_mingle', fields), 'hsmd_sign_htlc_tx_mingle_reply'],
          [encodeMessage('hsmd_sign_anchorspend', fields), 'hsmd_sign_anchorspend_reply'],
        ];
        got.set(ex.seq, requests.map(([frame, reply]) => [reply, send(MASTER_PEER, 0n, MASTER_PERMISSIONS, frame)]));
      });
      return got;
    };
    const strict = variants([]);
    const allowlisted = variants(external);
    assert.equal(strict.size - funding.length, 1, 'the session withdraws once to the other node');
    assert.equal(funding.length, name === 'session-basic-l1.jsonl' ? 1 : 0, 'l1 funds the channel (l2 is its peer)');
    for (const ex of exchanges.filter((e) => typeOf(e.req) === 7)) {
      const recorded = toHex(decodeAs('hsmd_sign_withdrawal_reply', fromHex(ex.rep!)).psbt!);
      const isFunding = funding.includes(ex);
      for (const [reply, d] of strict.get(ex.seq)!) {
        if (isFunding) assert.equal(psbtOf(d, reply), recorded, `${reply}: the funding of the channel set up is signed`);
        else refused(d);
      }
      for (const [reply, d] of allowlisted.get(ex.seq)!) assert.equal(psbtOf(d, reply), recorded, `${reply} allowlisted`);
    }
  });

  if (name === 'session-basic-l1.jsonl') {
    test(`${name}: the channel's funding script is accepted at another outpoint than setup_channel named`, () => {
      const { exchanges } = loadTranscript(fixturePath(`transcripts/${name}`));
      const fundingSeq = exchanges.find((ex) => typeOf(ex.req) === 7 && !ex.rep!.includes(SESSION_ALLOWLIST[name]![0]!))!.seq;
      const decisions: Decision[] = [];
      device(name, [], (ex, send) => {
        if (ex.seq !== fundingSeq) return;
        const m = decodeAs('hsmd_sign_withdrawal', fromHex(ex.req));
        const moved = Psbt.fromBuffer(Buffer.from(m.psbt!));
        moved.setLocktime(moved.locktime + 1); // another txid: setup_channel's funding outpoint is not this one
        const request = encodeMessage('hsmd_sign_withdrawal', { ...m, psbt: new Uint8Array(moved.toBuffer()) });
        decisions.push(send(MASTER_PEER, 0n, MASTER_PERMISSIONS, request));
      });
      assert.equal(decisions.length, 1);
      const signed = Psbt.fromHex(psbtOf(decisions[0]!, 'hsmd_sign_withdrawal_reply'));
      assert.ok(signed.data.inputs.every((i) => i.partialSig?.length || i.tapKeySig), 'every input signed');
    });
  }

  test(`${name}: a splice paying the peer's wallet is refused until that script is allowlisted`, () => {
    const { exchanges, send } = device(name, []);
    const close = exchanges.find((ex) => typeOf(ex.req) === 21)!;
    const m = decodeAs('hsmd_sign_mutual_close_tx', fromHex(close.req));
    const splice = encodeMessage('hsmd_sign_splice_tx', { tx: m.tx, remote_funding_key: m.remote_funding_key, input_index: 0 });
    refused(send(fromHex(close.peer!), BigInt(close.dbid), HSM_PERM_SIGN_SPLICE_TX, splice));
    // The close's outputs that the device refused: allowlisted, the splice signs as the close did.
    const outputs = parseTx(m.tx.tx).outputs.map((o) => o.scriptPubKey);
    const peers = device(name, outputs);
    const d = peers.send(fromHex(close.peer!), BigInt(close.dbid), HSM_PERM_SIGN_SPLICE_TX, splice);
    assert.equal(d.reply.kind === 'frame' && toHex(d.reply.frame), close.rep);
  });
}
