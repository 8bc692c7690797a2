import assert from 'node:assert/strict';
import test from 'node:test';
import { MIRROR_REPORT_MS, ReportLimit } from './report-limit.js';

test('a recurring condition is said at first, then once per MIRROR_REPORT_MS with how often it was not', () => {
  const limit = new ReportLimit();
  assert.equal(limit.occurred(1_000), 0);
  assert.equal(limit.occurred(2_000), undefined);
  assert.equal(limit.occurred(1_000 + MIRROR_REPORT_MS - 1), undefined);
  assert.equal(limit.unsaid, 2);
  assert.equal(limit.saidAt, 1_000);
  assert.equal(limit.occurred(1_000 + MIRROR_REPORT_MS), 2);
  assert.equal(limit.unsaid, 0);
  assert.equal(limit.saidAt, 1_000 + MIRROR_REPORT_MS);
});

test('a forced occurrence is said at once, with what went unsaid before it', () => {
  const limit = new ReportLimit();
  limit.occurred(0);
  limit.occurred(10);
  assert.equal(limit.occurred(20, true), 1);
  assert.equal(limit.occurred(30), undefined);
});
