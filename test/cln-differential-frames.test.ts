/**
 * The differential lane (docs/hsmd-protocol.md#the-differential-lane), malformed frames: the
 * frame property's mutations (property-tests/frame-mutations.ts: bits flipped, cut, extended,
 * overwritten, retyped, as another request or a reply type, a field swapped with another
 * recorded request's) of `session-basic-l1`'s requests, each sent whole on a new client of its
 * recorded request's channel after both hsmds replayed the session. Both must do the same,
 * but for the lane's kept differences (CLN crashing among them: its use after free on a bad
 * request from a client, docs/hsmd-protocol.md). The framing itself (split writes, lengths
 * that lie) is compared in cln-differential-errors.test.ts. Without CLN's hsmd this test does
 * not apply and says so.
 */
import test from 'node:test';
import fc from 'fast-check';
import { CLN_HSMD, L1, NO_CLN_HSMD, compareVariants, variantBases } from './cln-pair.js';
import { frameCase, mutate } from '../property-tests/frame-mutations.js';
import { SEED } from '../property-tests/settings.js';

const skip = CLN_HSMD ? false : NO_CLN_HSMD;
const FRAMES = Number(process.env['SPHINX_DIFFERENTIAL_FRAMES'] ?? 300);

test(`${FRAMES} malformed frames made from session-basic-l1's requests, each on its channel's client: both hsmds do the same`, { skip, timeout: 1_200_000 }, async (t) => {
  const bases = variantBases(L1);
  const bodies: Uint8Array[] = bases.map((e) => Buffer.from(e.req, 'hex'));
  const variants = fc.sample(frameCase(1, 1, bases.length), { seed: SEED, numRuns: FRAMES }).map((c) => ({
    req: c.mutations.reduce<Uint8Array>((body, m) => mutate(body, m, bodies), bodies[c.base]!),
    from: bases[c.base]!,
  }));
  await compareVariants(t, L1, variants);
});
