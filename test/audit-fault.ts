/**
 * Loaded with `node --import` ahead of bin/sphinx-audit by test/audit-verify.test.ts: a bug
 * injected from outside the product (every replayed request throws a TypeError, as a
 * programming error would), so the real bin's handling of an internal error (exit 4) is
 * seen without any test-only switch in sphinx-audit itself. AUDIT_FAULT_TEXT is the error's
 * message. Never import it into a test process (it would patch that one).
 */
import { Signer } from '../signer/signer.js';

Signer.prototype.handle = function handle(): never {
  throw new TypeError(process.env['AUDIT_FAULT_TEXT'] ?? 'fault injected by test/audit-fault.ts');
};
