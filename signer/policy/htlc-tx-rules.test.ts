/**
 * policy-htlc-tx-fee-range (docs/policies.md "HTLC transaction fees") against its two oracles:
 *
 * - BOLT 3's test vectors (Appendix C without anchors, the withdrawn option_anchor_outputs
 *   Appendix F, Appendix F with zero-fee HTLC transactions): every HTLC transaction there,
 *   with the amount of the commitment output it spends, passes at the case's own feerate, and
 *   1 sat more or less of fee is refused;
 * - the recorded sign_remote_htlc_tx requests (session-basic-l1/l2, an option_anchors
 *   channel: each output carries the whole HTLC) get CLN's reply byte for byte, and refused
 *   with an output 1 sat lower. The same channel set up without anchors takes BOLT 3's fee
 *   at the commitment's recorded feerate, feerate × weight / 1000 rounded down.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { editedTx } from '../../test/forged-tx.js';
import { readJsonFixture } from '../../test/fixtures.js';
import { modified, Session, typeOf } from '../../test/commitment-session.js';
import { fromHex, toHex } from '../bytes.js';
import type { Decision } from '../decision.js';
import { parseTx } from '../bolt3/tx.js';
import { decodeAs } from '../wire/messages.js';
import { htlcTxFeeRange } from './htlc-tx-rules.js';
import { DEFAULT_POLICY, type PolicyConfig } from './policy.js';

const RULE = 'policy-htlc-tx-fee-range';
const current = readJsonFixture('vectors/bolt03-commitment-txs.json');
const historical = readJsonFixture('vectors/bolt03-commitment-txs-historical.json');

/** BOLT 9 channel_type bytes: bit 12 option_static_remotekey, 20 option_anchor_outputs, 22 option_anchors_zero_fee_htlc_tx. */
const CHANNEL_TYPES = { legacy: '', staticRemotekey: '1000', anchorOutputs: '101000', zeroFeeAnchors: '401000' } as const;

interface VectorHtlcTx {
  readonly commitTx: string;
  readonly htlcTx: string;
  readonly feerate: number;
  /** Appendix C says which it is; Appendix F does not. */
  readonly type?: 'htlc-success' | 'htlc-timeout';
}

const appendixC = (set: any): VectorHtlcTx[] =>
  set.test_cases.flatMap((c: any) => c.htlc_txs.map((x: any) => ({ commitTx: c.commit_tx, htlcTx: x.tx, feerate: c.local_feerate_per_kw, type: x.type })));
const appendixF = (set: any): VectorHtlcTx[] =>
  set.test_cases.flatMap((c: any) => c.HtlcDescs.map((x: any) => ({ commitTx: c.ExpectedCommitmentTxHex, htlcTx: x.ResolutionTxHex, feerate: c.FeePerKw })));

const SETS = [
  { label: 'Appendix C (static_remotekey)', channelType: CHANNEL_TYPES.staticRemotekey, anchors: false, txs: appendixC(current.appendix_c_static_remotekey) },
  { label: 'withdrawn Appendix C (no static_remotekey)', channelType: CHANNEL_TYPES.legacy, anchors: false, txs: appendixC(historical.appendix_c_legacy_no_static_remotekey) },
  { label: 'withdrawn Appendix F (option_anchor_outputs)', channelType: CHANNEL_TYPES.anchorOutputs, anchors: true, txs: appendixF(historical.appendix_f_option_anchor_outputs) },
  { label: 'Appendix F (option_anchors, zero-fee HTLC txs)', channelType: CHANNEL_TYPES.zeroFeeAnchors, anchors: true, txs: appendixF(current.appendix_f_anchors) },
];

const atFeerate = (feerate: number): PolicyConfig => ({ ...DEFAULT_POLICY, minFeeratePerKw: feerate, maxFeeratePerKw: feerate });

for (const set of SETS) {
  test(`BOLT 3 ${set.label}: each HTLC tx passes at its case's feerate; 1 sat more or less of fee is refused`, () => {
    assert.ok(set.txs.length > 0);
    const setup = { channelType: fromHex(set.channelType) };
    for (const v of set.txs) {
      const tx = parseTx(fromHex(v.htlcTx));
      // The HTLC output it spends, on the vector's commitment.
      const inputSat = parseTx(fromHex(v.commitTx)).outputs[tx.inputs[0]!.prevVout]!.amountSat;
      // BOLT 3: locktime 0 for HTLC-success, cltv_expiry for HTLC-timeout (the rule picks the weight by it).
      if (v.type !== undefined) assert.equal(tx.locktime === 0, v.type === 'htlc-success');
      const h = { tx, input: 0, inputSat, anchors: set.anchors };
      const at = `${v.htlcTx.slice(0, 16)}… at ${v.feerate} sat/kw`;
      assert.deepEqual(htlcTxFeeRange(atFeerate(v.feerate), setup, h), [], at);
      for (const delta of [1n, -1n]) {
        const changed = { ...h, tx: { ...tx, outputs: [{ ...tx.outputs[0]!, amountSat: tx.outputs[0]!.amountSat + delta }] } };
        assert.deepEqual(htlcTxFeeRange(atFeerate(v.feerate), setup, changed).map((x) => x.policy), [RULE], `${at}, output ${delta > 0n ? '+' : ''}${delta} sat`);
      }
      // The default bounds (253–150,000 sat/kw): BOLT 3's fee at a feerate outside them is refused, except with zero-fee HTLC txs.
      const inDefault = v.feerate >= DEFAULT_POLICY.minFeeratePerKw && v.feerate <= DEFAULT_POLICY.maxFeeratePerKw;
      const zeroFee = set.channelType === CHANNEL_TYPES.zeroFeeAnchors;
      assert.equal(htlcTxFeeRange(DEFAULT_POLICY, setup, h).length, inDefault || zeroFee ? 0 : 1, `${at}, default policy`);
    }
  });
}

test('BOLT 3 vectors: the sets hold both kinds of HTLC transaction, and non-anchor ones at feerate 0 and within the defaults', () => {
  const c = SETS[0]!.txs;
  assert.ok(c.some((v) => v.type === 'htlc-success') && c.some((v) => v.type === 'htlc-timeout'));
  assert.ok(c.some((v) => v.feerate === 0) && c.some((v) => v.feerate >= DEFAULT_POLICY.minFeeratePerKw));
});

test('without setup_channel (no channel_type) or without the input amount the rule is skipped', () => {
  const v = SETS[0]!.txs[0]!;
  const tx = parseTx(fromHex(v.htlcTx));
  assert.deepEqual(htlcTxFeeRange(DEFAULT_POLICY, undefined, { tx, input: 0, inputSat: 1n, anchors: false }), []);
  assert.deepEqual(htlcTxFeeRange(DEFAULT_POLICY, { channelType: new Uint8Array(0) }, { tx, input: 0, inputSat: undefined, anchors: false }), []);
});

// The recorded sessions: sign_remote_htlc_tx (20) on an option_anchors channel.
const L1 = 'session-basic-l1.jsonl';

function refusedBy(d: Decision): string {
  assert.equal(d.reply.kind, 'bad-request', JSON.stringify(d.reply));
  return (d.reply as { description: string }).description;
}

/** A recorded sign_remote_htlc_tx with its output's amount changed by `delta` (and, optionally, its sighash flag). */
const withOutputChanged = (s: Session, seq: number, delta: bigint, anchors?: boolean): Uint8Array =>
  modified(s.at(seq), 'hsmd_sign_remote_htlc_tx', (m) => ({
    ...m,
    tx: editedTx(m.tx, (t) => void (t.outputs[0]!.amountSat += delta)),
    option_anchor_outputs: anchors ?? m.option_anchor_outputs,
  }));

for (const name of [L1, 'session-basic-l2.jsonl']) {
  test(`${name}: every recorded sign_remote_htlc_tx passes (CLN's reply); its output 1 sat lower is refused by ${RULE}`, (t) => {
    const s = new Session(name);
    const requests = s.exchanges.filter((ex) => typeOf(ex.req) === 20);
    assert.ok(requests.length > 0);
    const kinds = new Set<string>();
    for (const ex of requests) {
      assert.deepEqual(s.replayUntil(ex.seq).mismatches, []);
      const recorded = decodeAs('hsmd_sign_remote_htlc_tx', fromHex(ex.req));
      kinds.add(parseTx(recorded.tx.tx).locktime === 0 ? 'success' : 'timeout');
      assert.match(refusedBy(s.send(ex, withOutputChanged(s, ex.seq, -1n))), new RegExp(`^${RULE}: .* takes 1 sat of fee .*pays no fee$`), `seq ${ex.seq}`);
      const d = s.send(ex);
      assert.equal(d.reply.kind === 'frame' && toHex(d.reply.frame), ex.rep, `seq ${ex.seq}`);
    }
    assert.deepEqual([...kinds].sort(), ['success', 'timeout']);
    t.diagnostic(`${requests.length} recorded HTLC transactions`);
  });
}

/**
 * l1 replayed up to `seq` with its setup_channel's channel_type replaced (the replies before
 * do not depend on it: CLN's hsmd does not read it), leaving out the earlier HTLC txs (zero-fee
 * ones, which this rule refuses on a channel of another type).
 */
function l1WithChannelType(channelType: string, seq: number, policy: PolicyConfig = DEFAULT_POLICY): Session {
  const s = new Session(L1, policy);
  const setup = s.exchanges.find((ex) => typeOf(ex.req) === 31)!;
  assert.deepEqual(s.replayUntil(setup.seq).mismatches, []);
  assert.equal(toHex(decodeAs('hsmd_setup_channel', fromHex(setup.req)).channel_type), CHANNEL_TYPES.zeroFeeAnchors, 'recorded: static_remotekey and zero-fee anchors');
  assert.equal(s.send(setup, modified(setup, 'hsmd_setup_channel', (m) => ({ ...m, channel_type: fromHex(channelType) }))).reply.kind, 'frame');
  assert.deepEqual(s.replayUntil(seq, (ex) => ex.seq !== setup.seq && typeOf(ex.req) !== 20).mismatches, []);
  return s;
}

/** The feerate of the recorded sign_remote_commitment_tx before `seq` (the commitment whose HTLC the request spends). */
function feerateBefore(s: Session, seq: number): number {
  const commitment = s.exchanges.filter((ex) => typeOf(ex.req) === 19 && ex.seq < seq).at(-1)!;
  return decodeAs('hsmd_sign_remote_commitment_tx', fromHex(commitment.req)).feerate;
}

test(`${L1}: the same channel without anchors: BOLT 3's fee at the commitment's feerate is signed, none is refused`, () => {
  const success = 92; // locktime 0
  const timeout = 152; // locktime cltv_expiry
  for (const [seq, weight] of [[success, 703], [timeout, 663]] as const) {
    const s = l1WithChannelType(CHANNEL_TYPES.staticRemotekey, seq);
    assert.equal(parseTx(decodeAs('hsmd_sign_remote_htlc_tx', fromHex(s.at(seq).req)).tx.tx).locktime === 0, seq === success);
    const feerate = feerateBefore(s, seq);
    // BOLT 3: fee = feerate_per_kw × weight / 1000, rounded down; without anchors our signature is SIGHASH_ALL.
    const fee = (BigInt(feerate) * BigInt(weight)) / 1000n;
    assert.equal(s.send(s.at(seq), withOutputChanged(s, seq, -fee, false)).reply.kind, 'frame', `seq ${seq} at ${feerate} sat/kw, fee ${fee}`);
    // The recorded zero fee is below BOLT 3's fee at the minimum feerate (253 sat/kw).
    assert.match(refusedBy(s.send(s.at(seq), withOutputChanged(s, seq, 0n, false))), new RegExp(`^${RULE}: .* takes 0 sat of fee .* at 253–150000 sat/kw \\(weight ${weight}\\)$`));
    // One sat more than BOLT 3's fee at the maximum feerate is refused.
    const atMax = l1WithChannelType(CHANNEL_TYPES.staticRemotekey, seq, { ...DEFAULT_POLICY, maxFeeratePerKw: feerate });
    assert.match(refusedBy(atMax.send(atMax.at(seq), withOutputChanged(atMax, seq, -fee - 1n, false))), new RegExp(`^${RULE}: `));
    assert.equal(atMax.send(atMax.at(seq), withOutputChanged(atMax, seq, -fee, false)).reply.kind, 'frame');
  }
});

test(`${L1}: a signer without setup_channel signs the HTLC tx whatever its fee (skipped, as CLN's hsmd)`, () => {
  const s = new Session(L1);
  assert.deepEqual(s.replayUntil(92, (ex) => typeOf(ex.req) !== 31).mismatches, []);
  assert.equal(s.send(s.at(92), withOutputChanged(s, 92, -1000n)).reply.kind, 'frame');
});

test(`${L1}: demoted to a warning, the refused HTLC tx is signed with a PolicyWarned event`, () => {
  const s = new Session(L1, { ...DEFAULT_POLICY, warnOnly: new Set([RULE] as const) });
  assert.deepEqual(s.replayUntil(92).mismatches, []);
  const d = s.send(s.at(92), withOutputChanged(s, 92, -1n));
  assert.equal(d.reply.kind, 'frame');
  assert.deepEqual(d.events.map((e) => e.kind === 'PolicyWarned' && e.policy), [RULE]);
});
