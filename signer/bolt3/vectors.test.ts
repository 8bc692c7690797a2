/**
 * BOLT 3 Appendices C and F (and the withdrawn legacy / option_anchor_outputs sets): every
 * commitment transaction and every HTLC transaction rebuilt, signed with plain RFC 6979 and
 * compared byte for byte. Inputs and expected values all come from the vector files.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { appendixCChannel as channel, type Channel } from '../../test/bolt3-appendix-c.js';
import { readJsonFixture } from '../../test/fixtures.js';
import { fromHex, toHex } from '../bytes.js';
import { nobleCurve } from '../crypto/noble.js';
import { buildCommitment, fundingWitness } from './commitment.js';
import { compactToDer, derToCompact, witnessSignature } from './der.js';
import type { CommitmentFormat } from './fees.js';
import { buildHtlcTxs, htlcTxWitness, remoteHtlcSighashType } from './htlc-tx.js';
import { p2wpkh } from './scripts.js';
import { SIGHASH_ALL, witnessV0Sighash } from './sighash.js';
import { parseTx, serializeTx, type Tx } from './tx.js';

const h = (s: string): Uint8Array => fromHex(s);
const sign = (hash: Uint8Array, key: Uint8Array): Uint8Array => nobleCurve.sign(hash, key); // plain RFC 6979
const der = (compact: Uint8Array): string => toHex(compactToDer(compact));

const current = readJsonFixture('vectors/bolt03-commitment-txs.json');
const historical = readJsonFixture('vectors/bolt03-commitment-txs-historical.json');

/**
 * Which HTLCs a case commits to. BOLT 3 Appendix C: "HTLCs are not used for the first ...
 * test, and HTLCs 5 and 6 are only used in the 'same amount and preimage' test"; that test's
 * set is read from its own output descriptions.
 */
function htlcIdsFor(name: string, firstCase: boolean, sameAmountCase: any): number[] {
  if (firstCase) return [];
  if (name.includes('same amount and preimage'))
    return sameAmountCase.output_descriptions.filter((o: any) => o.kind === 'htlc').map((o: any) => o.htlc);
  return [0, 1, 2, 3, 4];
}

/** Signs the commitment with both funding keys; returns the sigs and the signed tx. */
function signCommitment(ch: Channel, tx: Tx, script: Uint8Array) {
  const sighash = witnessV0Sighash(tx, 0, script, ch.base.fundingAmountSat, SIGHASH_ALL);
  const local = sign(sighash, ch.localFundingPriv);
  const remote = sign(sighash, ch.remoteFundingPriv);
  const witness = fundingWitness(
    ch.base.localFundingPubkey, witnessSignature(local, SIGHASH_ALL),
    ch.base.remoteFundingPubkey, witnessSignature(remote, SIGHASH_ALL),
  );
  const signed: Tx = { ...tx, inputs: [{ ...tx.inputs[0]!, witness }] };
  return { sighash, local, remote, signed };
}

interface HtlcExpect {
  remoteSig: string;
  localSig?: string;
  tx: string;
  htlc?: number;
  outputIndex?: number;
}

/** Builds, signs and checks every HTLC tx of a commitment against the expected list (output order). */
function checkHtlcTxs(ch: Channel, format: CommitmentFormat, feerate: number, commitment: ReturnType<typeof buildCommitment>, expected: HtlcExpect[]) {
  const htlcTxs = buildHtlcTxs(commitment, {
    format, feeratePerKw: feerate, toSelfDelay: ch.base.toSelfDelay,
    revocationPubkey: ch.base.keys.revocationPubkey, localDelayedPubkey: ch.base.keys.localDelayedPubkey,
  });
  assert.equal(htlcTxs.length, expected.length);
  const remoteType = remoteHtlcSighashType(format);
  htlcTxs.forEach((ht, k) => {
    const e = expected[k]!;
    if (e.outputIndex !== undefined) assert.equal(ht.outputIndex, e.outputIndex);
    if (e.htlc !== undefined) assert.equal(ht.htlcIndex, e.htlc);
    const remoteHash = witnessV0Sighash(ht.tx, 0, ht.witnessScript, ht.amountSat, remoteType);
    const localHash = witnessV0Sighash(ht.tx, 0, ht.witnessScript, ht.amountSat, SIGHASH_ALL);
    const remote = sign(remoteHash, ch.remoteHtlcPriv);
    const local = sign(localHash, ch.localHtlcPriv);
    assert.ok(nobleCurve.verify(derToCompact(h(e.remoteSig)), remoteHash, ch.base.keys.remoteHtlcPubkey));
    assert.equal(der(remote), e.remoteSig);
    if (e.localSig !== undefined) assert.equal(der(local), e.localSig);
    const witness = htlcTxWitness(
      witnessSignature(remote, remoteType), witnessSignature(local, SIGHASH_ALL),
      ht.htlc.offered ? undefined : ch.preimages[ht.htlcIndex], ht.witnessScript,
    );
    const signed = serializeTx({ ...ht.tx, inputs: [{ ...ht.tx.inputs[0]!, witness }] });
    assert.equal(toHex(signed), e.tx);
  });
  return htlcTxs.length;
}

/** Appendix C layout: named fields, local signatures, output descriptions and fees. */
function runAppendixC(label: string, set: any, format: CommitmentFormat, legacyKeyNames: boolean) {
  const ch = channel(set.common_parameters, legacyKeyNames);
  const cases: any[] = set.test_cases;
  const sameAmount = cases.find((c) => c.name.includes('same amount and preimage'));
  let htlcTxCount = 0;
  describe(label, () => {
    cases.forEach((c, idx) => {
      test(c.name, () => {
        const ids = htlcIdsFor(c.name, idx === 0, sameAmount);
        const commitment = buildCommitment({
          ...ch.base, format, feeratePerKw: c.local_feerate_per_kw, dustLimitSat: ch.dustLimitSat,
          toLocalMsat: BigInt(c.to_local_msat), toRemoteMsat: BigInt(c.to_remote_msat),
          htlcs: ids.map((i) => ch.htlcs[i]!),
        });
        // The builder numbers HTLCs by their position in `htlcs`; map back to vector ids.
        for (const o of commitment.outputs) if (o.kind === 'htlc') o.htlcIndex = ids[o.htlcIndex]!;

        const { sighash, local, remote, signed } = signCommitment(ch, commitment.tx, commitment.fundingWitnessScript);
        assert.ok(nobleCurve.verify(derToCompact(h(c.remote_signature)), sighash, ch.base.remoteFundingPubkey));
        assert.equal(der(remote), c.remote_signature);
        assert.equal(der(local), c.local_signature);
        assert.equal(toHex(serializeTx(signed)), c.commit_tx);
        assert.equal(toHex(serializeTx(parseTx(h(c.commit_tx)))), c.commit_tx);

        for (const d of c.output_descriptions) {
          const at = commitment.outputs.findIndex((o) =>
            d.kind === 'htlc' ? o.kind === 'htlc' && o.htlcIndex === d.htlc : o.kind === d.kind);
          assert.ok(at >= 0, `output ${d.kind} ${d.htlc ?? ''}`);
          assert.equal(commitment.tx.outputs[at]!.amountSat, BigInt(d.amount_sat));
          if (d.wscript !== undefined) assert.equal(toHex(commitment.outputs[at]!.witnessScript!), d.wscript);
          if (d.p2wpkh_pubkey !== undefined) assert.deepEqual(commitment.tx.outputs[at]!.scriptPubKey, p2wpkh(h(d.p2wpkh_pubkey)));
          if (d.kind === 'htlc') assert.equal(d.direction === 'offered', ids.includes(d.htlc) && ch.htlcs[d.htlc]!.offered);
        }
        // The 'same amount and preimage' case describes only its HTLC outputs.
        if (c.output_descriptions.some((d: any) => d.kind !== 'htlc'))
          assert.equal(commitment.tx.outputs.length, c.output_descriptions.length);
        if (c.base_commitment_fee_sat !== undefined) assert.equal(commitment.baseFeeSat, BigInt(c.base_commitment_fee_sat));
        if (c.actual_commitment_fee_sat !== undefined) {
          const paid = commitment.tx.outputs.reduce((s, o) => s + o.amountSat, 0n);
          assert.equal(ch.base.fundingAmountSat - paid, BigInt(c.actual_commitment_fee_sat));
        }
        assert.equal(commitment.outputs.filter((o) => o.kind === 'htlc').length, c.num_htlcs);

        htlcTxCount += checkHtlcTxs(ch, format, c.local_feerate_per_kw, commitment, c.htlc_txs.map((x: any) => ({
          remoteSig: x.remote_htlc_signature, localSig: x.local_htlc_signature, tx: x.tx,
          htlc: x.htlc, outputIndex: x.output_index,
        })));
        // HTLC-success spends a received HTLC, HTLC-timeout an offered one.
        for (const x of c.htlc_txs) assert.equal(x.type === 'htlc-timeout', ch.htlcs[x.htlc]!.offered);
      });
    });
    test('covers every case and HTLC tx', () => {
      assert.equal(htlcTxCount, cases.reduce((s, c) => s + c.htlc_txs.length, 0));
    });
  });
}

/** Appendix F layout: the spec's JSON (balances, full tx hexes, remote signatures only). */
function runAppendixF(label: string, set: any, cSet: any, format: CommitmentFormat) {
  const ch = channel(cSet.common_parameters, false);
  const sameAmount = cSet.test_cases.find((c: any) => c.name.includes('same amount and preimage'));
  describe(label, () => {
    for (const c of set.test_cases as any[]) {
      test(c.Name, () => {
        const ids = c.UseTestHtlcs ? htlcIdsFor(c.Name, false, sameAmount) : [];
        const feerate = c.FeePerKw;
        const commitment = buildCommitment({
          ...ch.base, format, feeratePerKw: feerate,
          // The withdrawn option_anchor_outputs JSON has no DustLimitSatoshis: Appendix C's 546.
          dustLimitSat: c.DustLimitSatoshis !== undefined ? BigInt(c.DustLimitSatoshis) : ch.dustLimitSat,
          toLocalMsat: BigInt(c.LocalBalance), toRemoteMsat: BigInt(c.RemoteBalance),
          htlcs: ids.map((i) => ch.htlcs[i]!),
        });
        for (const o of commitment.outputs) if (o.kind === 'htlc') o.htlcIndex = ids[o.htlcIndex]!;
        const { sighash, remote, signed } = signCommitment(ch, commitment.tx, commitment.fundingWitnessScript);
        assert.ok(nobleCurve.verify(derToCompact(h(c.RemoteSigHex)), sighash, ch.base.remoteFundingPubkey));
        assert.equal(der(remote), c.RemoteSigHex);
        assert.equal(toHex(serializeTx(signed)), c.ExpectedCommitmentTxHex);
        assert.equal(commitment.outputs.filter((o) => o.kind === 'htlc').length, c.num_htlcs);
        checkHtlcTxs(ch, format, feerate, commitment, c.HtlcDescs.map((x: any) => ({ remoteSig: x.RemoteSigHex, tx: x.ResolutionTxHex })));
      });
    }
  });
}

runAppendixC('BOLT 3 Appendix C (static_remotekey)', current.appendix_c_static_remotekey, 'no_anchors', false);
runAppendixF('BOLT 3 Appendix F (option_anchors, zero-fee HTLC txs)', current.appendix_f_anchors, current.appendix_c_static_remotekey, 'anchors_zero_fee_htlc_tx');
runAppendixC('withdrawn Appendix C (legacy, no static_remotekey)', historical.appendix_c_legacy_no_static_remotekey, 'no_anchors', true);
runAppendixF('withdrawn Appendix F (option_anchor_outputs)', historical.appendix_f_option_anchor_outputs, current.appendix_c_static_remotekey, 'anchor_outputs');

test('vector counts', () => {
  assert.equal(current.appendix_c_static_remotekey.test_cases.length, current.counts.appendix_c_test_cases);
  assert.equal(current.appendix_f_anchors.test_cases.length, current.counts.appendix_f_test_cases);
  const fHtlcs = current.appendix_f_anchors.test_cases.reduce((s: number, c: any) => s + c.HtlcDescs.length, 0);
  assert.equal(fHtlcs, current.counts.appendix_f_htlc_txs);
  const aoHtlcs = historical.appendix_f_option_anchor_outputs.test_cases.reduce((s: number, c: any) => s + c.HtlcDescs.length, 0);
  assert.equal(aoHtlcs, historical.counts.anchor_outputs_htlc_txs);
});
