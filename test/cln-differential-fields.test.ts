/**
 * The differential lane (docs/hsmd-protocol.md#the-differential-lane), every request of a
 * recording with a byte of it changed: after both hsmds replayed it (`session-basic-l1`, and
 * `hsmd-basic-mnemonic` for a mnemonic secret's node and wallet requests), each request
 * after init is sent again, changed, on a new client of its own peer and channel with every
 * permission. Both must answer alike, but for what the lane keeps on purpose: a rule of
 * docs/policies.md our signer enforces, CLN crashing, libwally refusing to sign, our check that a
 * `bitcoin_tx`'s PSBT describes its transaction, and a `wirestring` that is not UTF-8 (field
 * encodings). Without CLN's hsmd this test does not apply and says so.
 */
import test from 'node:test';
import fc from 'fast-check';
import { CLN_HSMD, L1, MNEMONIC, NO_CLN_HSMD, compareVariants, variantBases } from './cln-pair.js';
import { SEED } from '../property-tests/settings.js';

const skip = CLN_HSMD ? false : NO_CLN_HSMD;
const MUTATIONS_PER_REQUEST = 2;

/** A byte of the body (not the type) flipped in one bit, or set to any value. */
const changedByte = (length: number) =>
  fc.record({ at: fc.integer({ min: 2, max: length - 1 }), flip: fc.boolean(), bit: fc.integer({ min: 0, max: 7 }), value: fc.integer({ min: 0, max: 255 }) });

for (const transcript of [L1, MNEMONIC]) {
  test(`every request of ${transcript === L1 ? 'session-basic-l1' : 'hsmd-basic-mnemonic'} with a byte changed, on its own channel's client: both answer alike`, { skip, timeout: 600_000 }, async (t) => {
    const variants = variantBases(transcript).flatMap((from, k) => {
      const original = Buffer.from(from.req, 'hex');
      return fc.sample(changedByte(original.length), { seed: SEED + k, numRuns: MUTATIONS_PER_REQUEST }).map((c) => {
        const req = Buffer.from(original);
        req[c.at] = c.flip ? req[c.at]! ^ (1 << c.bit) : c.value;
        return { req, from };
      });
    });
    await compareVariants(t, transcript, variants);
  });
}
