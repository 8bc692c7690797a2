/**
 * Property (d): sign_commitment_tx for a holder commitment the node already revoked is
 * refused with policy-commitment-revoked-holder, whenever it comes: between crashes, as a
 * delivery that itself crashes and is redelivered, and after a reboot.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { replyText, run } from './harness.js';
import { RECORDED, revokedProbe, REVOKED_THROUGH, Scenario } from './node-model.js';
import { revokedHolderNeverSigned } from './properties.js';
import { assertProperty } from './settings.js';

test('property: the signer never signs a revoked holder commitment across crashes', () => {
  assertProperty(revokedHolderNeverSigned(), 6);
});

// Found by the long run (PROPERTY_SEED=1026190081): hsmd_forget_channel used to drop the
// channel's state with its revocations, so sign_commitment_tx for commitment 15 of the
// forgotten channel was signed afterwards. The forgotten channel now keeps its commitments.
test('a revoked holder commitment of a forgotten channel is refused', () => {
  const t = run(new Scenario(1000, 1000, RECORDED.map((request, i) => ({ kind: 'deliver', id: BigInt(i + 1), request, crashes: [] }))));
  const probe = revokedProbe(REVOKED_THROUGH[RECORDED.length]!);
  const h = t.core.handle({ id: BigInt(RECORDED.length + 1), client: probe.client, at: 0, message: probe.message });
  assert.match(replyText(h.reply), /policy-commitment-revoked-holder:/);
});
