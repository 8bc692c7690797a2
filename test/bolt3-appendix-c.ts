/**
 * BOLT 3 Appendix C's common parameters (test/fixtures/vectors/bolt03-commitment-txs*.json)
 * as commitment-builder inputs, with the keys that sign for both sides. Shared by the
 * vector tests and the commitment bench.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { fromHex } from '../signer/bytes.js';
import {
  commitmentNumberObscurer,
  type CommitmentHtlc,
  type CommitmentKeys,
  type CommitmentParams,
} from '../signer/bolt3/commitment.js';
import { reverseTxid } from '../signer/bolt3/tx.js';

const h = (s: string): Uint8Array => fromHex(s);
/** BOLT 3 private keys carry a trailing 01 byte (vectors README). */
const priv = (s: string): Uint8Array => fromHex(s).subarray(0, 32);

/** An Appendix C common-parameter block turned into builder inputs. */
export interface Channel {
  base: Omit<CommitmentParams, 'format' | 'feeratePerKw' | 'toLocalMsat' | 'toRemoteMsat' | 'htlcs' | 'dustLimitSat'>;
  dustLimitSat: bigint;
  htlcs: CommitmentHtlc[];
  preimages: Uint8Array[];
  localFundingPriv: Uint8Array;
  remoteFundingPriv: Uint8Array;
  localHtlcPriv: Uint8Array;
  remoteHtlcPriv: Uint8Array;
}

export function appendixCChannel(common: any, legacyKeyNames: boolean): Channel {
  const v = common.values;
  const internal = common.internal_values_from_html_comment;
  const keys: CommitmentKeys = {
    revocationPubkey: h(v.local_revocation_pubkey),
    localDelayedPubkey: h(v.local_delayedpubkey),
    // Legacy set: "localpubkey"/"remotepubkey" are the HTLC keys, and remotepubkey also pays
    // to_remote; static_remotekey: to_remote pays the remote payment basepoint.
    localHtlcPubkey: h(legacyKeyNames ? v.localpubkey : v.local_htlcpubkey),
    remoteHtlcPubkey: h(legacyKeyNames ? v.remotepubkey : v.remote_htlcpubkey),
    remotePaymentPubkey: h(legacyKeyNames ? v.remotepubkey : v.remote_payment_basepoint),
  };
  return {
    base: {
      funding: { txid: reverseTxid(h(v.funding_tx_id)), vout: v.funding_output_index },
      fundingAmountSat: BigInt(v.funding_amount_satoshi),
      localFundingPubkey: h(v.local_funding_pubkey),
      remoteFundingPubkey: h(v.remote_funding_pubkey),
      commitmentNumber: BigInt(v.commitment_number),
      // "local is the opener/funder": local payment basepoint first.
      commitmentNumberObscurer: commitmentNumberObscurer(h(v.local_payment_basepoint), h(v.remote_payment_basepoint)),
      toSelfDelay: v.local_delay,
      localIsOpener: true,
      keys,
    },
    dustLimitSat: BigInt(v.local_dust_limit_satoshi),
    htlcs: common.htlcs.map((x: any) => ({
      offered: x.direction === 'local->remote',
      amountMsat: BigInt(x.amount_msat),
      paymentHash: nobleSha256(h(x.payment_preimage)),
      cltvExpiry: x.expiry,
    })),
    preimages: common.htlcs.map((x: any) => h(x.payment_preimage)),
    localFundingPriv: priv(v.local_funding_privkey),
    remoteFundingPriv: priv(internal.remote_funding_privkey.value),
    localHtlcPriv: priv(v.local_privkey),
    remoteHtlcPriv: priv(internal.remote_privkey.value),
  };
}

