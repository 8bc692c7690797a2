/**
 * policy-htlc-tx-locktime (docs/policies.md "HTLC transaction locktimes") against its oracles:
 *
 * - the recorded sign_remote_htlc_tx requests, HTLC-success and HTLC-timeout (7 in each
 *   session-basic transcript, 5 in each node of the chain run), replayed through one Signer with
 *   the device's policy: each gets CLN's reply byte for byte, and each HTLC-timeout's locktime
 *   is the cltv_expiry of an HTLC the peer offered in the sign_remote_commitment_tx just before
 *   it (read here from the recorded request), for the same point; the same request with its
 *   locktime one more or one less (the PSBT's unsigned transaction edited alike) is refused by
 *   name;
 * - BOLT 3 Appendix C: each HTLC transaction against its commitment's HTLCs (the vector's
 *   parameters), as our commitment and as the peer's: passes; a locktime or an amount 1 off is
 *   refused, but where the vector has two HTLCs the transaction cannot tell apart.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import { editedTx } from '../../test/forged-tx.js';
import { readJsonFixture } from '../../test/fixtures.js';
import { recordedSession } from '../../test/recorded-chain.js';
import { sessionPolicy, sessionRequests, sessionSignerOptions } from '../../test/session-records.js';
import { equal, fromHex, toHex } from '../bytes.js';
import { nobleCurve } from '../crypto/noble.js';
import type { Decision } from '../decision.js';
import type { Envelope } from '../envelope.js';
import { encodeReply } from '../event-codec.js';
import type { ChannelRef, SeenHtlc, SignerEvent } from '../events.js';
import { parseTx, type Tx } from '../bolt3/tx.js';
import { Signer, type SignerOptions } from '../signer.js';
import { apply, channelKey, initialState } from '../state.js';
import { decodeAs, encodeMessage, type MessageFields } from '../wire/messages.js';
import { htlcTxLocktime, type HtlcTxCommitment } from './htlc-locktime-rules.js';
import { DEFAULT_POLICY, type PolicyConfig } from './policy.js';
import type { PolicyName } from './catalog.js';

const RULE: PolicyName = 'policy-htlc-tx-locktime';
const SIGN_REMOTE_COMMITMENT = 19;
const SIGN_REMOTE_HTLC = 20;
const typeOf = (m: Uint8Array): number => (m[0]! << 8) | m[1]!;

/** A recorded run: the signer options it was recorded with, its requests, and whether a decision is the recorded reply. */
interface RecordedRun {
  readonly options: (policy: PolicyConfig) => SignerOptions;
  readonly requests: readonly { readonly envelope: Envelope; readonly recorded: (d: Decision) => boolean }[];
  readonly htlcTxs: number;
}

function sessionBasic(name: string): RecordedRun {
  const requests = sessionRequests(name).map(({ exchange, envelope }) => ({
    envelope,
    recorded: (d: Decision) => (d.reply.kind === 'frame' ? toHex(d.reply.frame) === exchange.rep : exchange.rep === null),
  }));
  return { options: (p) => sessionSignerOptions(name, p), requests, htlcTxs: 7 };
}

function chainRun(node: 'l1' | 'l2'): RecordedRun {
  const { exchanges, hsmSecret } = recordedSession(node);
  const requests = exchanges.map((ex) => ({
    envelope: { id: ex.id, client: ex.client, at: Math.floor(ex.at / 1000), message: ex.message },
    recorded: (d: Decision) => equal(encodeReply(d.reply), ex.reply),
  }));
  return { options: (policy) => ({ curve: nobleCurve, developer: false, policy, readHsmSecret: () => hsmSecret }), requests, htlcTxs: 5 };
}

const RUNS: [string, () => RecordedRun, PolicyConfig][] = [
  ['session-basic-l1', () => sessionBasic('session-basic-l1.jsonl'), sessionPolicy('session-basic-l1.jsonl')],
  ['session-basic-l2', () => sessionBasic('session-basic-l2.jsonl'), sessionPolicy('session-basic-l2.jsonl')],
  ['chain run l1', () => chainRun('l1'), sessionPolicy('session-basic-l1.jsonl')],
  ['chain run l2', () => chainRun('l2'), sessionPolicy('session-basic-l2.jsonl')],
];

/** A recorded sign_remote_htlc_tx with its locktime changed, in the transaction and the PSBT's copy. */
const withLocktime = (message: Uint8Array, locktime: number): Uint8Array => {
  const m = decodeAs('hsmd_sign_remote_htlc_tx', message);
  return encodeMessage('hsmd_sign_remote_htlc_tx', { ...m, tx: editedTx(m.tx, (t) => void (t.locktime = locktime)) });
};

const refusal = (d: Decision): string => (d.reply.kind === 'bad-request' ? d.reply.description : `not refused: ${d.reply.kind}`);

for (const [label, load, policy] of RUNS) {
  test(`${label}: every recorded sign_remote_htlc_tx is CLN's reply; its locktime 1 off is refused by ${RULE}`, (t) => {
    const run = load();
    const signer = new Signer(run.options(policy));
    const lastCommitment = new Map<string, MessageFields<'hsmd_sign_remote_commitment_tx'>>();
    const kinds = { success: 0, timeout: 0 };
    let mismatches = 0;
    for (const { envelope, recorded } of run.requests) {
      const type = typeOf(envelope.message);
      const conn = `${toHex(envelope.client.peer)}/${envelope.client.dbid}`;
      if (type === SIGN_REMOTE_HTLC) {
        const m = decodeAs('hsmd_sign_remote_htlc_tx', envelope.message);
        const { locktime } = parseTx(m.tx.tx);
        const amountSat = BigInt(parseTx(m.tx.tx).outputs[0]!.amountSat); // zero-fee anchors: the output carries the whole HTLC
        // The oracle, from the recording alone: the commitment signed just before, for the same point.
        const commitment = lastCommitment.get(conn)!;
        assert.equal(toHex(commitment.remote_per_commit), toHex(m.remote_per_commit_point), 'signed for the commitment just signed');
        const REMOTE = 1; // hsm_htlc side: offered by the peer
        const theirs = commitment.htlcs.filter((h) => (locktime === 0 ? h.side !== REMOTE : h.side === REMOTE && h.cltv_expiry === locktime));
        assert.ok(theirs.some((h) => h.amount / 1000n === amountSat), `an HTLC of that kind, amount${locktime === 0 ? '' : ' and expiry'} in commitment ${commitment.commit_num}`);
        kinds[locktime === 0 ? 'success' : 'timeout']++;
        for (const changed of locktime === 0 ? [1] : [locktime - 1, locktime + 1, 0]) {
          const d = signer.handle({ ...envelope, message: withLocktime(envelope.message, changed) });
          const expected = locktime === 0
            ? `^${RULE}: HTLC-success transaction with locktime 1: BOLT 3 gives it 0$`
            : changed === 0
              ? `^${RULE}: HTLC-timeout transaction with locktime 0: BOLT 3 gives it the HTLC's cltv_expiry$`
              : `^${RULE}: HTLC-timeout transaction with locktime ${changed} spends a ${amountSat} sat HTLC offered by the peer under payment hash160 [0-9a-f]{40}: ` +
                `the peer's latest commitment ${commitment.commit_num} has ${amountSat} sat expiring at ${locktime}$`;
          assert.match(refusal(d), new RegExp(expected), `${label} request ${envelope.id}, locktime ${changed}`);
          assert.deepEqual(d.events, []);
        }
      }
      if (type === SIGN_REMOTE_COMMITMENT) lastCommitment.set(conn, decodeAs('hsmd_sign_remote_commitment_tx', envelope.message));
      if (!recorded(signer.handle(envelope))) mismatches++;
    }
    assert.equal(mismatches, 0, 'the whole run replays byte for byte with the rule on');
    assert.equal(kinds.success + kinds.timeout, run.htlcTxs);
    assert.ok(kinds.success > 0 && kinds.timeout > 0, JSON.stringify(kinds));
    t.diagnostic(`${kinds.success} HTLC-success, ${kinds.timeout} HTLC-timeout`);
  });
}

// session-basic-l1: seq 151 signs the peer's commitment 11 with l2's HTLC (1,000 sat, expiry
// 119), seq 152 its HTLC-timeout, seq 155 the peer's commitment 12.
const L1 = 'session-basic-l1.jsonl';
const DEVICE = sessionPolicy(L1);
const TIMEOUT_SEQ = 152;

/** l1 through one Signer until request `until` (not sent), with `policy`. */
function l1Until(until: number, policy: PolicyConfig = DEVICE): { signer: Signer; envelope: Envelope } {
  const signer = new Signer(sessionSignerOptions(L1, policy));
  for (const { exchange, envelope } of sessionRequests(L1)) {
    if (exchange.seq === until) return { signer, envelope };
    signer.handle(envelope);
  }
  throw new Error(`no request ${until}`);
}

test(`${RULE}: an HTLC transaction for the peer's previous commitment (which policy-htlc-tx-counterparty-point allows) is refused`, () => {
  const { envelope: timeout } = l1Until(TIMEOUT_SEQ);
  const { signer } = l1Until(TIMEOUT_SEQ + 4); // commitment 12 signed (seq 155)
  const d = signer.handle(timeout);
  assert.equal(refusal(d), `${RULE}: HTLC transaction for a commitment of the peer's other than its latest (12), the only one whose HTLCs are kept`);
});

test(`${RULE}: demoted to a warning, a locktime 1 off is signed with a PolicyWarned event`, () => {
  const { signer, envelope } = l1Until(TIMEOUT_SEQ, { ...DEVICE, warnOnly: new Set([RULE]) });
  const d = signer.handle({ ...envelope, message: withLocktime(envelope.message, 120) });
  assert.equal(d.reply.kind, 'frame');
  assert.deepEqual(d.events.map((e) => e.kind === 'PolicyWarned' && e.policy), [RULE]);
});

test(`${RULE}: without the commitment's HTLCs (none recorded: both rules that record them were off) the match is skipped; the locktime's kind is still checked`, () => {
  const unrecorded = { ...DEVICE, off: new Set<PolicyName>([RULE, 'policy-htlc-payment-approved']) };
  const { signer, envelope } = l1Until(TIMEOUT_SEQ, unrecorded);
  assert.equal(signer.state.channels.get(channelKey({ peer: envelope.client.peer, dbid: envelope.client.dbid }))!.htlcs, undefined, 'no HTLCs recorded');
  signer.apply([{ kind: 'PolicyChanged', policy: DEVICE, fileDigest: new Uint8Array() }]);
  assert.equal(signer.handle({ ...envelope, message: withLocktime(envelope.message, 120) }).reply.kind, 'frame');
  assert.match(refusal(signer.handle({ ...envelope, message: withLocktime(envelope.message, 0) })), new RegExp(`^${RULE}: HTLC-timeout transaction with locktime 0: `));
  // Local mode (device-only rule, off): signed as CLN's hsmd signs it.
  const local = l1Until(TIMEOUT_SEQ, { ...DEVICE, off: new Set([...DEVICE.off, RULE, 'policy-htlc-payment-approved', 'policy-payment-velocity']) });
  assert.equal(local.signer.handle({ ...local.envelope, message: withLocktime(local.envelope.message, 0) }).reply.kind, 'frame');
});

test(`${RULE} on, policy-htlc-payment-approved off: the HTLCs are still recorded and matched; with both off a list kept is dropped at the next commitment`, () => {
  const { signer, envelope } = l1Until(TIMEOUT_SEQ, { ...DEVICE, off: new Set<PolicyName>(['policy-htlc-payment-approved']) });
  assert.match(refusal(signer.handle({ ...envelope, message: withLocktime(envelope.message, 120) })), new RegExp(`^${RULE}: HTLC-timeout transaction with locktime 120 `));
  assert.equal(signer.handle(envelope).reply.kind, 'frame');
  // Commitment 12 (seq 155) forged to keep l2's HTLC of commitment 11: recorded while a rule
  // that records is on; with both off, the peer's list of commitment 11 is dropped instead.
  const requests = sessionRequests(L1);
  const htlcs = decodeAs('hsmd_sign_remote_commitment_tx', requests.find((r) => r.exchange.seq === TIMEOUT_SEQ - 1)!.envelope.message).htlcs;
  const next = requests.find((r) => r.exchange.seq === TIMEOUT_SEQ + 3)!.envelope;
  const forged = { ...next, message: encodeMessage('hsmd_sign_remote_commitment_tx', { ...decodeAs('hsmd_sign_remote_commitment_tx', next.message), htlcs }) };
  const recordedBy = (off: PolicyName[]): SignerEvent[] => {
    const s = new Signer(sessionSignerOptions(L1, DEVICE));
    for (const r of requests.filter((x) => x.exchange.seq < TIMEOUT_SEQ + 3)) s.handle(r.envelope);
    s.apply([{ kind: 'PolicyChanged', policy: { ...DEVICE, off: new Set(off) }, fileDigest: new Uint8Array() }]);
    const d = s.handle(forged);
    assert.equal(d.reply.kind, 'frame', JSON.stringify(d.reply));
    return d.events.filter((e) => e.kind === 'CommitmentHtlcsRecorded');
  };
  const counts = (events: SignerEvent[]) => events.map((e) => e.kind === 'CommitmentHtlcsRecorded' && [e.side, e.commitNum, e.htlcs.length]);
  assert.deepEqual(counts(recordedBy(['policy-htlc-payment-approved'])), [['counterparty', 12n, 1]]);
  assert.deepEqual(counts(recordedBy(['policy-htlc-payment-approved', RULE])), [['counterparty', 12n, 0]]);
});

// BOLT 3 Appendix C: our commitment 42 (the vector's commitment_number) and its HTLC transactions.
const bolt3 = readJsonFixture('vectors/bolt03-commitment-txs.json');
const appendixC = bolt3.appendix_c_static_remotekey;
const REF: ChannelRef = { peer: new Uint8Array(33), dbid: 1n };
const VECTOR_POINT = fromHex(`02${'44'.repeat(32)}`);

/** The vector's HTLCs as the signer records them; `flip`: seen from the other side (the peer's commitment). */
const vectorHtlcs = (ids: readonly number[], flip: boolean): SeenHtlc[] =>
  appendixC.common_parameters.htlcs.filter((h: any) => ids.includes(h.htlc)).map((h: any) => ({
    offered: (h.direction === 'local->remote') !== flip,
    amountMsat: BigInt(h.amount_msat),
    paymentHash: sha256(fromHex(h.payment_preimage)),
    cltvExpiry: h.expiry,
  }));

/** A channel whose latest commitment (ours, or the peer's at VECTOR_POINT) is 42 with these HTLCs. */
function channelWith(owner: HtlcTxCommitment['owner'], htlcs: SeenHtlc[]) {
  const digest = new Uint8Array(68);
  const signed: SignerEvent = owner === 'holder'
    ? { kind: 'HolderCommitmentValidated', channel: REF, commitNum: 42n, digest }
    : { kind: 'CounterpartyCommitmentSigned', channel: REF, commitNum: 42n, point: VECTOR_POINT, digest };
  const events: SignerEvent[] = [signed, { kind: 'CommitmentHtlcsRecorded', channel: REF, side: owner, commitNum: 42n, htlcs }];
  return events.reduce(apply, initialState).channels.get(channelKey(REF));
}

test('BOLT 3 Appendix C: each HTLC transaction matches its commitment\'s HTLCs, ours or the peer\'s; 1 off in locktime or amount is refused', (t) => {
  let checked = 0;
  let twins = 0;
  for (const c of appendixC.test_cases.filter((x: any) => x.htlc_txs.length > 0)) {
    const ids = c.output_descriptions.filter((o: any) => o.kind === 'htlc').map((o: any) => o.htlc);
    for (const owner of ['holder', 'counterparty'] as const) {
      const htlcs = vectorHtlcs(ids, owner === 'counterparty');
      const channel = channelWith(owner, htlcs);
      const commitment: HtlcTxCommitment = owner === 'holder' ? { owner, commitNum: 42n } : { owner, point: VECTOR_POINT };
      for (const x of c.htlc_txs) {
        const out = c.output_descriptions.find((o: any) => o.kind === 'htlc' && o.htlc === x.htlc);
        const tx = parseTx(fromHex(x.tx));
        const spend = { tx, inputSat: BigInt(out.amount_sat), witnessScript: fromHex(out.wscript) };
        const at = `${c.name}, ${owner}, ${x.type} of HTLC ${x.htlc}`;
        assert.equal(tx.locktime === 0, x.type === 'htlc-success', at);
        assert.deepEqual(htlcTxLocktime(DEFAULT_POLICY, channel, commitment, spend), [], at);
        const rules = (s: { tx: Tx; inputSat: bigint }) => htlcTxLocktime(DEFAULT_POLICY, channel, commitment, { ...spend, ...s }).map((v) => v.policy);
        const changes = [
          ...(tx.locktime === 0 ? [1] : [tx.locktime - 1, tx.locktime + 1]).map((locktime) => ({ tx: { ...tx, locktime }, inputSat: spend.inputSat })),
          ...[-1n, 1n].map((d) => ({ tx, inputSat: spend.inputSat + d })),
        ];
        for (const s of changes) {
          // HTLCs 5 and 6: one payment hash, 5,000 sat each (5,000,000 and 5,000,001 msat), expiries 506 and 505.
          const twin = s.tx.locktime !== tx.locktime && htlcs.some((h) => h.offered === (owner === 'holder') && h.cltvExpiry === s.tx.locktime && h.amountMsat / 1000n === s.inputSat && toHex(h.paymentHash) === toHex(htlcs.find((y) => y.cltvExpiry === tx.locktime)!.paymentHash));
          assert.deepEqual(rules(s), twin ? [] : [RULE], `${at}: locktime ${s.tx.locktime}, ${s.inputSat} sat`);
          if (twin) assert.deepEqual([...ids].sort(), [1, 5, 6], 'only the vector\'s twin HTLCs');
          if (twin) twins++;
        }
        // Our commitment 41 (not the latest validated): not matched.
        if (owner === 'holder') assert.deepEqual(htlcTxLocktime(DEFAULT_POLICY, channel, { owner, commitNum: 41n }, { ...spend, inputSat: spend.inputSat + 1n }), []);
        checked++;
      }
    }
  }
  t.diagnostic(`${checked} HTLC transactions checked, ${twins} locktimes 1 off that are the twin HTLC's`);
  assert.equal(checked, 2 * bolt3.counts.appendix_c_htlc_txs);
  assert.equal(twins, 4, 'HTLC 5 at 505 + 1 and HTLC 6 at 506 - 1, ours and the peer\'s');
});
