/**
 * `policy-htlc-tx-holder-output` (docs/policies.md "HTLC transactions of our commitment"):
 * an HTLC-success or HTLC-timeout transaction of our commitment n (sign_local_htlc_tx,
 * sign_any_local_htlc_tx) pays the second-stage output BOLT 3 gives it, the `to_local`
 * script (bolt3/scripts.ts toLocalScript) as P2WSH, with
 * - the revocation key of the peer's revocation basepoint and our per-commitment point n
 *   (the point whose key signs the HTLC input, libhsmd.c do_sign_local_htlc_tx);
 * - the to_self_delay the peer chose (setup_channel's remote_to_self_delay: each side's
 *   outputs are delayed by what the other side asked for, BOLT 2 open_channel);
 * - our delayed payment key for point n.
 * With SIGHASH_ALL every output is signed and must pay it; with option_anchors our signature
 * is SIGHASH_SINGLE|ANYONECANPAY and covers only the output at the input's index (outputs
 * lightningd adds later for fees are not ours to sign here). Skipped without setup_channel
 * (the peer's basepoint and delay are unknown, docs/policies.md "When the signer has no history").
 */
import { equal, toHex } from '../bytes.js';
import type { Curve } from '../crypto/curve.js';
import { p2wsh, toLocalScript } from '../bolt3/scripts.js';
import type { Tx } from '../bolt3/tx.js';
import { derivePublicKey, deriveRevocationPublicKey } from '../keys/bolt3-keys.js';
import type { ChannelState } from '../state.js';
import { check, type PolicyViolation } from './policy.js';

export const HTLC_TX_HOLDER_OUTPUT = 'policy-htlc-tx-holder-output';

export interface HolderHtlcTx {
  readonly tx: Tx;
  /** The input we sign (the HTLC output of our commitment it spends). */
  readonly input: number;
  /** option_anchors: our signature is SIGHASH_SINGLE|ANYONECANPAY. */
  readonly anchors: boolean;
  /** Our per-commitment point n and delayed payment basepoint. */
  readonly perCommitmentPoint: Uint8Array;
  readonly delayedPaymentBasepoint: Uint8Array;
}

/** The BOLT 3 scriptPubKey of an HTLC transaction's output on our commitment, or undefined if a key cannot be derived. */
export function holderHtlcOutputScript(curve: Curve, setup: NonNullable<ChannelState['setup']>, h: HolderHtlcTx): Uint8Array | undefined {
  try {
    const revocation = deriveRevocationPublicKey(curve, setup.remoteBasepoints.revocation, h.perCommitmentPoint);
    const delayed = derivePublicKey(curve, h.delayedPaymentBasepoint, h.perCommitmentPoint);
    return p2wsh(toLocalScript(revocation, setup.remoteToSelfDelay, delayed));
  } catch (e) {
    if (e instanceof Error) return undefined;
    throw e;
  }
}

/** policy-htlc-tx-holder-output (see the module comment). */
export function holderHtlcOutput(curve: Curve, channel: ChannelState | undefined, h: HolderHtlcTx): PolicyViolation[] {
  const setup = channel?.setup;
  if (setup === undefined) return [];
  const expected = holderHtlcOutputScript(curve, setup, h);
  const signed = h.anchors ? [h.input] : h.tx.outputs.map((_, k) => k);
  const wrong = signed.filter((k) => {
    const output = h.tx.outputs[k];
    return output === undefined || expected === undefined || !equal(output.scriptPubKey, expected);
  });
  return check(signed.length > 0 && wrong.length === 0, HTLC_TX_HOLDER_OUTPUT, () => {
    const paid = wrong.map((k) => `output ${k} pays ${h.tx.outputs[k] ? toHex(h.tx.outputs[k]!.scriptPubKey) : 'nothing (no such output)'}`);
    const want = expected ? toHex(expected) : 'a script whose keys cannot be derived';
    return `${paid.join(', ') || 'no output'}: an HTLC transaction of our commitment pays ${want} ` +
      `(to_local script of our point, the peer's revocation basepoint, to_self_delay ${setup.remoteToSelfDelay})`;
  });
}
