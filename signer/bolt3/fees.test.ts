/**
 * BOLT 3 Appendix A weights and the Fee Calculation example, from bolt03-commitment-txs.json.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readJsonFixture } from '../../test/fixtures.js';
import {
  commitmentFeeSat,
  commitmentWeight,
  htlcSuccessFeeSat,
  htlcSuccessWeight,
  htlcTimeoutFeeSat,
  htlcTimeoutWeight,
  isHtlcTrimmed,
} from './fees.js';

const vectors = readJsonFixture('vectors/bolt03-commitment-txs.json');

test('Appendix A expected weights', () => {
  const w = vectors.appendix_a_expected_weights.values;
  for (const [format, v] of [['no_anchors', w.commitment_weight_no_anchors], ['anchors_zero_fee_htlc_tx', w.commitment_weight_anchors]] as const) {
    assert.equal(commitmentWeight(format, 0), v.base);
    assert.equal(commitmentWeight(format, 3) - commitmentWeight(format, 2), v.per_untrimmed_htlc);
  }
  assert.equal(htlcTimeoutWeight('no_anchors'), w.htlc_timeout_weight.no_anchors);
  assert.equal(htlcTimeoutWeight('anchors_zero_fee_htlc_tx'), w.htlc_timeout_weight.anchors);
  assert.equal(htlcSuccessWeight('no_anchors'), w.htlc_success_weight.no_anchors);
  assert.equal(htlcSuccessWeight('anchors_zero_fee_htlc_tx'), w.htlc_success_weight.anchors);
});

test('Fee Calculation example (feerate 5000, dust 546)', () => {
  const ex = vectors.fee_calculation.example;
  const dust = BigInt(ex.dust_limit_satoshis);
  const feerate: number = ex.feerate_per_kw;
  assert.equal(htlcTimeoutFeeSat('no_anchors', feerate), BigInt(ex.htlc_timeout_fee_sat));
  assert.equal(htlcSuccessFeeSat('no_anchors', feerate), BigInt(ex.htlc_success_fee_sat));

  // Offered 5000 sat kept, 1000 trimmed; received 7000 kept, 800 trimmed (the example's text).
  const htlcs = [
    ...ex.offered_htlcs_msat.map((m: number) => ({ offered: true, msat: BigInt(m) })),
    ...ex.received_htlcs_msat.map((m: number) => ({ offered: false, msat: BigInt(m) })),
  ];
  const trimmed = htlcs.map((x) => isHtlcTrimmed('no_anchors', x.offered, x.msat, feerate, dust));
  assert.deepEqual(trimmed, [false, true, false, true]);
  assert.equal(ex.trimmed.length, trimmed.filter(Boolean).length);

  // "weight starts at 724", then 896 and 1068 as each untrimmed HTLC is added.
  assert.deepEqual([0, 1, 2].map((n) => commitmentWeight('no_anchors', n)), ex.weight_progression);
  const base = commitmentFeeSat('no_anchors', feerate, 2);
  assert.equal(base, BigInt(ex.base_commitment_fee_sat));
  // The actual fee adds the trimmed HTLCs' amounts.
  const trimmedSat = htlcs.filter((_, i) => trimmed[i]).reduce((s, x) => s + x.msat / 1000n, 0n);
  assert.equal(base + trimmedSat, BigInt(ex.actual_fee_sat));

  // With option_anchors the HTLC transactions carry no fee (BOLT 3 Fee Calculation).
  assert.equal(htlcTimeoutFeeSat('anchors_zero_fee_htlc_tx', feerate), 0n);
  assert.equal(htlcSuccessFeeSat('anchors_zero_fee_htlc_tx', feerate), 0n);
});
