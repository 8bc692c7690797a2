/**
 * Property (d): sign_commitment_tx for a holder commitment the node already revoked is
 * refused with policy-commitment-revoked-holder, whenever it comes: between crashes, as a
 * delivery that itself crashes and is redelivered, and after a reboot.
 */
import test from 'node:test';
import { revokedHolderNeverSigned } from './properties.js';
import { assertProperty } from './settings.js';

test('property: the signer never signs a revoked holder commitment across crashes', () => {
  assertProperty(revokedHolderNeverSigned(), 6);
});
