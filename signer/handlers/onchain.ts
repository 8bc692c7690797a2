/**
 * On-chain signing requests (docs/hsmd-protocol.md#messages): wallet PSBTs (sign_withdrawal 7,
 * sign_anchorspend 147, sign_htlc_tx_mingle 149), the channel's funding-key spends
 * (sign_mutual_close_tx 21, sign_splice_tx 29), and onchaind's sweeps (onchain-sweeps.ts).
 * The PSBT replies are libwally's serialization of the signed PSBT (psbt/psbt.ts), so they
 * equal CLN's byte for byte.
 */
import { badRequest, replyWith, type Decision } from '../decision.js';
import { SIGHASH_ALL } from '../bolt3/sighash.js';
import { equal } from '../bytes.js';
import { fundingScript, p2wsh } from '../bolt3/scripts.js';
import { enforce, type PolicyViolation } from '../policy/policy.js';
import { mutualCloseRules } from '../policy/close-rules.js';
import { feeRange, sighashAll, walletDestinations } from '../policy/onchain-rules.js';
import { serializePsbt, type Psbt } from '../psbt/psbt.js';
import { signPsbtWithKey } from '../psbt/sign.js';
import type { ChannelRef } from '../events.js';
import { channelKey, type SignerState } from '../state.js';
import { encodeMessage } from '../wire/messages.js';
import type { BitcoinTx, HsmUtxo, WallyPsbt } from '../wire/tx-fields.js';
import type { DecideContext, HandlerTable } from './context.js';
import { allSpent, readBitcoinTx, readPsbt, signInputReply, witnessUpperBound, type ParsedBitcoinTx } from './onchain-tx.js';
import { sweepHandlers } from './onchain-sweeps.js';
import { signOurInputs } from './wallet.js';

export const onchainHandlers: HandlerTable = {
  ...sweepHandlers,

  // libhsmd.c handle_sign_withdrawal_tx, plus policy-onchain-destination (CLN checks no output).
  hsmd_sign_withdrawal: (ctx, state, _e, { inputs, psbt }) =>
    walletPsbt(ctx, state, inputs, psbt, (signed) => encodeMessage('hsmd_sign_withdrawal_reply', { psbt: signed })),

  // handle_sign_anchorspend: our wallet inputs, then wally_psbt_sign with the funding key
  // (it signs the anchor input, whose derivation lightningd filled in).
  hsmd_sign_anchorspend: (ctx, state, _e, { peerid, channel_dbid, inputs, psbt }) => {
    const funding = ctx.keys.channel(peerid, channel_dbid).fundingPrivateKey;
    return walletPsbt(ctx, state, inputs, psbt, (signed) => encodeMessage('hsmd_sign_anchorspend_reply', { psbt: signed }), {
      more: (p) => signPsbtWithKey(ctx.curve, p, funding),
    });
  },

  // handle_sign_htlc_tx_mingle: the HTLC input is already signed SINGLE|ANYONECANPAY;
  // only the wallet inputs that pay its fee are signed here. Its output (same index as the
  // HTLC input, not one of our utxos) is fixed by that signature.
  hsmd_sign_htlc_tx_mingle: (ctx, state, _e, { inputs, psbt }) =>
    walletPsbt(ctx, state, inputs, psbt, (signed) => encodeMessage('hsmd_sign_htlc_tx_mingle_reply', { psbt: signed }), {
      exempt: (p) => (k) => k < p.tx.inputs.length && !inputs.some((u) => spends(p, k, u)),
    }),

  hsmd_sign_mutual_close_tx: (ctx, state, env, { tx, remote_funding_key }) => mutualClose(ctx, state, env.client, tx, remote_funding_key),

  // handle_sign_splice_tx: the funding input `input_index`, SIGHASH_ALL.
  // The splice's outputs: policy-onchain-destination, its own new funding output allowed.
  hsmd_sign_splice_tx: (ctx, state, env, { tx, remote_funding_key, input_index }) => {
    const parsed = readBitcoinTx(tx, ctx.curve);
    if (typeof parsed === 'string') return badRequest(parsed);
    const ch = ctx.keys.channel(env.client.peer, env.client.dbid);
    const wscript = fundingScript(ch.fundingPublicKey, remote_funding_key);
    return enforce(ctx.policy, walletDestinations(ctx, state, parsed.psbt, { ownFunding: p2wsh(wscript) }), () => {
      const reply = signInputReply(ctx.curve, parsed, input_index, wscript, ch.fundingPrivateKey, SIGHASH_ALL);
      return typeof reply === 'string' ? badRequest(reply) : replyWith(reply);
    });
  },
};

const spends = (psbt: Psbt, k: number, utxo: HsmUtxo): boolean =>
  equal(psbt.tx.inputs[k]!.prevTxid, utxo.outpoint.txid) && psbt.tx.inputs[k]!.prevVout === utxo.outpoint.n;

/**
 * A wallet PSBT request: parse, policy-onchain-destination on its outputs and
 * policy-onchain-sighash-all on the inputs we sign, sign our inputs
 * (and `more`), reply with the signed PSBT. The policy runs before any signing, on the PSBT
 * as lightningd sent it (signing adds no outputs).
 */
function walletPsbt(
  ctx: DecideContext,
  state: SignerState,
  inputs: readonly HsmUtxo[],
  wire: WallyPsbt,
  reply: (psbt: Uint8Array | undefined) => Uint8Array,
  options: { readonly more?: (psbt: Psbt) => string | undefined; readonly exempt?: (psbt: Psbt) => (index: number) => boolean } = {},
): Decision {
  // A NULL psbt (length 0) naming no utxo: sign_our_inputs loops over the utxos first, so CLN
  // signs nothing and answers the NULL psbt back (with a utxo it dereferences NULL); with
  // `more` (anchorspend) wally_psbt_sign then refuses it (docs/hsmd-protocol.md).
  if (wire === undefined && inputs.length === 0 && !options.more) return replyWith(reply(undefined));
  const psbt = readPsbt(wire, ctx.curve);
  if (typeof psbt === 'string') return badRequest(psbt);
  const violations = [
    ...walletDestinations(ctx, state, psbt, { exempt: options.exempt?.(psbt) }),
    ...sighashAll(psbt, (k) => inputs.some((u) => spends(psbt, k, u))),
  ];
  return enforce(ctx.policy, violations, () => {
    const error = signOurInputs(ctx.keys, ctx.curve, inputs, psbt) ?? options.more?.(psbt);
    return error ? badRequest(error) : replyWith(reply(serializePsbt(psbt)));
  });
}

/**
 * handle_sign_mutual_close_tx: input 0 spends the 2-of-2 funding output, SIGHASH_ALL.
 * CLN has a FIXME to check outputs; we do (closeViolations).
 */
function mutualClose(
  ctx: DecideContext,
  state: SignerState,
  client: ChannelRef,
  tx: BitcoinTx,
  remoteFundingKey: Uint8Array,
): Decision {
  const parsed = readBitcoinTx(tx, ctx.curve);
  if (typeof parsed === 'string') return badRequest(parsed);
  if (parsed.tx.inputs.length === 0) return badRequest('bad input 0 of 0');
  const ch = ctx.keys.channel(client.peer, client.dbid);
  const wscript = fundingScript(ch.fundingPublicKey, remoteFundingKey);
  const violations = closeViolations(ctx, state, client, parsed, wscript);
  if (typeof violations === 'string') return badRequest(violations);
  return enforce(ctx.policy, violations, () => {
    const reply = signInputReply(ctx.curve, parsed, 0, wscript, ch.fundingPrivateKey, SIGHASH_ALL);
    return typeof reply === 'string' ? badRequest(reply) : replyWith(reply);
  });
}

/**
 * What the close rules say of a transaction whose input 0 spends the channel's funding output
 * (`wscript`): where its outputs pay, what they pay us (policy/close-rules.ts), its fee
 * (policy-onchain-fee-range). A string: an input's amount is missing from the PSBT.
 * sign_mutual_close_tx checks these; so does sign_commitment_tx for a close (commitment.ts).
 */
export function closeViolations(
  ctx: DecideContext,
  state: SignerState,
  client: ChannelRef,
  parsed: ParsedBitcoinTx,
  wscript: Uint8Array,
): PolicyViolation[] | string {
  const spent = allSpent(parsed.psbt);
  if (typeof spent === 'string') return spent;
  const channel = state.channels.get(channelKey(client));
  const witness = 2 + witnessUpperBound([0, 73, 73, wscript.length]) + (parsed.tx.inputs.length - 1) * witnessUpperBound([73, 33]);
  return [
    ...mutualCloseRules(ctx, parsed.psbt, channel, spent.reduce((a, s) => a + s.amountSat, 0n)),
    ...feeRange(ctx.policy, parsed.psbt, spent, witness),
  ];
}
