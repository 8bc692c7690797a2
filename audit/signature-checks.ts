/**
 * `verify` without the hsm_secret: every signature in every reply checked against public
 * keys the log itself establishes, in log order:
 * - the node id (and bolt12 base key) from hsmd_init_reply_v4;
 * - each channel's basepoints and funding key from hsmd_get_channel_basepoints_reply;
 * - each channel's per-commitment points from get_per_commitment_point, validate_commitment_tx
 *   and revoke_commitment_tx replies: a revealed old secret must be the secret of a point
 *   this signer published for the same channel.
 * What needs a private key to recompute (ECDH, derived secrets, wallet and sweep signatures
 * whose keys derive from secrets or from keys the log never states) is counted as "needs
 * the secret", per type, with the reason.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, equal, toHex, utf8 } from '../signer/bytes.js';
import type { Curve } from '../signer/crypto/curve.js';
import { sha256d, taggedHash } from '../signer/crypto/signatures.js';
import { fundingScript } from '../signer/bolt3/scripts.js';
import { witnessV0Sighash } from '../signer/bolt3/sighash.js';
import { derivePublicKey } from '../signer/keys/bolt3-keys.js';
import { spendingTx } from '../signer/handlers/commitment-sign.js';
import { hashU5 } from '../signer/handlers/hash-u5.js';
import type { ClientContext } from '../signer/envelope.js';
import type { Basepoints } from '../signer/wire/fields.js';
import { decodeMessage, type HsmdMessage } from '../signer/wire/messages.js';

/** What checking one reply found. */
export type SignatureCheck =
  | { readonly status: 'ok'; readonly how: string }
  | { readonly status: 'bad'; readonly how: string }
  /** The reply carries no signature (or the request was refused). */
  | { readonly status: 'none'; readonly how: string }
  /** A signature that cannot be checked without the secret, or whose key the log never established. */
  | { readonly status: 'unchecked'; readonly how: string };

interface ChannelKeys {
  readonly basepoints: Basepoints;
  readonly funding: Uint8Array;
}

const LIGHTNING_SIGNED_MESSAGE = utf8('Lightning Signed Message:');
/** Gossip messages are signed from after type (2) and one signature (64). */
const SIGNED_FROM = 2 + 64;
/** channel_announcement: after type and its four signatures. */
const CHANNEL_ANNOUNCEMENT_SIGNED_FROM = 2 + 256;

/** Secrets hsmd uses that the log never shows the public side of. */
const NEEDS_SECRET: Readonly<Record<string, string>> = {
  hsmd_ecdh_req: 'an ECDH shared secret needs the node key',
  hsmd_derive_secret: 'a derived secret needs the hsm_secret',
  hsmd_check_pubkey: 'a yes/no about a key derived from the hsm_secret',
  hsmd_check_future_secret: 'a yes/no about a secret derived from the shaseed',
  hsmd_sign_withdrawal: 'wallet keys are BIP32 children the log does not state',
  hsmd_sign_option_will_fund_offer: 'not checked by this version',
  hsmd_bip137_sign_message: 'wallet keys are BIP32 children the log does not state',
  hsmd_sign_penalty_to_us: 'the revocation key derives from a secret',
  hsmd_sign_any_penalty_to_us: 'the revocation key derives from a secret',
  hsmd_sign_delayed_payment_to_us: 'the delayed key derives from a per-commitment secret',
  hsmd_sign_any_delayed_payment_to_us: 'the delayed key derives from a per-commitment secret',
  hsmd_sign_remote_htlc_to_us: 'not checked by this version',
  hsmd_sign_any_remote_htlc_to_us: 'not checked by this version',
  hsmd_sign_local_htlc_tx: 'the HTLC key derives from our per-commitment secret',
  hsmd_sign_any_local_htlc_tx: 'the HTLC key derives from our per-commitment secret',
  hsmd_sign_splice_tx: 'not checked by this version',
  hsmd_sign_anchorspend: 'wallet inputs: keys the log does not state',
  hsmd_sign_htlc_tx_mingle: 'wallet inputs: keys the log does not state',
  hsmd_sign_bolt12_2: 'not checked by this version',
  hsmd_sign_psbt: 'wallet keys are BIP32 children the log does not state',
};

const ref = (peer: Uint8Array, dbid: bigint): string => `${toHex(peer)}/${dbid}`;

/** The public keys learned so far, and the checks that use them. */
export class SignatureChecker {
  #nodeId: Uint8Array | undefined;
  #bolt12: Uint8Array | undefined;
  readonly #channels = new Map<string, ChannelKeys>();
  /** Per channel: published per-commitment points (hex). */
  readonly #points = new Map<string, Set<string>>();

  constructor(private readonly curve: Curve) {}

  /** Checks one answered request and learns the keys its reply states. */
  check(client: ClientContext, request: Uint8Array, reply: Uint8Array): SignatureCheck {
    let req: HsmdMessage;
    let rep: HsmdMessage;
    try {
      req = decodeMessage(request);
      rep = decodeMessage(reply);
    } catch (e) {
      return { status: 'unchecked', how: `does not decode: ${(e as Error).message}` };
    }
    return this.#check(client, req, rep);
  }

  #needNode(): Uint8Array | undefined {
    return this.#nodeId;
  }

  #verify(sig: Uint8Array, hash: Uint8Array, key: Uint8Array | undefined, what: string): SignatureCheck {
    if (key === undefined) return { status: 'unchecked', how: `${what}: its key is not established by the log (no earlier reply states it)` };
    return this.curve.verify(sig, hash, key) ? { status: 'ok', how: what } : { status: 'bad', how: `${what}: signature does not verify` };
  }

  #secretOf(channel: string, secret: Uint8Array | undefined, what: string): SignatureCheck | undefined {
    if (secret === undefined) return undefined;
    const point = toHex(this.curve.publicKey(secret));
    if (this.#points.get(channel)?.has(point)) return undefined;
    return this.#points.has(channel)
      ? { status: 'bad', how: `${what}: the revealed secret is not the secret of any per-commitment point published for ${channel}` }
      : { status: 'unchecked', how: `${what}: no per-commitment point of ${channel} in the log yet` };
  }

  #publish(channel: string, point: Uint8Array): void {
    let set = this.#points.get(channel);
    if (!set) this.#points.set(channel, (set = new Set()));
    set.add(toHex(point));
  }

  /** Funding-input signature (BOLT 3 funding output: 2-of-2 of the sorted funding keys). */
  #fundingSig(channel: string, btx: Parameters<typeof spendingTx>[0], remoteFunding: Uint8Array, sig: { signature: Uint8Array; sighash: number }, commitment: boolean, what: string): SignatureCheck {
    const keys = this.#channels.get(channel);
    if (!keys) return { status: 'unchecked', how: `${what}: no get_channel_basepoints reply for ${channel} in the log states its funding key` };
    const s = spendingTx(btx, commitment, this.curve);
    if (!s.ok) return { status: 'bad', how: `${what}: the request's transaction cannot be signed (${s.why}) yet a signature was given` };
    const hash = witnessV0Sighash(s.tx, 0, fundingScript(keys.funding, remoteFunding), s.amountSat, sig.sighash);
    return this.#verify(sig.signature, hash, keys.funding, `${what} (BIP 143, funding key)`);
  }

  #check(client: ClientContext, req: HsmdMessage, rep: HsmdMessage): SignatureCheck {
    const own = ref(client.peer, client.dbid);
    switch (req.name) {
      case 'hsmd_init':
        if (rep.name !== 'hsmd_init_reply_v4') return { status: 'none', how: 'no node id stated' };
        this.#nodeId = rep.node_id;
        this.#bolt12 = rep.bolt12;
        return { status: 'none', how: 'states the node id and bolt12 key' };
      case 'hsmd_get_channel_basepoints':
        if (rep.name !== 'hsmd_get_channel_basepoints_reply') break;
        this.#channels.set(ref(req.peerid, req.dbid), { basepoints: rep.basepoints, funding: rep.funding_pubkey });
        return { status: 'none', how: 'states the channel basepoints and funding key' };
      case 'hsmd_get_per_commitment_point': {
        if (rep.name !== 'hsmd_get_per_commitment_point_reply') break;
        this.#publish(own, rep.per_commitment_point);
        return this.#secretOf(own, rep.old_commitment_secret, 'old commitment secret') ?? { status: 'ok', how: 'states a per-commitment point; any old secret matches a published point' };
      }
      case 'hsmd_validate_commitment_tx':
      case 'hsmd_revoke_commitment_tx': {
        if (rep.name !== 'hsmd_validate_commitment_tx_reply' && rep.name !== 'hsmd_revoke_commitment_tx_reply') break;
        const bad = this.#secretOf(own, rep.old_commitment_secret, 'old commitment secret');
        this.#publish(own, rep.next_per_commitment_point);
        return bad ?? { status: 'ok', how: 'revealed secret matches a published per-commitment point' };
      }
      case 'hsmd_sign_message': {
        if (rep.name !== 'hsmd_sign_message_reply') break;
        // SHA256d("Lightning Signed Message:" ‖ msg) under the node key.
        return this.#verify(rep.sig.signature, sha256d(concat(LIGHTNING_SIGNED_MESSAGE, req.msg)), this.#needNode(), 'ECDSA, node key');
      }
      case 'hsmd_sign_invoice': {
        if (rep.name !== 'hsmd_sign_invoice_reply') break;
        // BOLT 11: SHA256(hrp ‖ data packed to bytes); hsmd reads the hrp as a C string.
        const nul = req.hrp.indexOf(0);
        const hrp = nul < 0 ? req.hrp : req.hrp.subarray(0, nul);
        return this.#verify(rep.sig.signature, hashU5(hrp, req.u5bytes), this.#needNode(), 'ECDSA over BOLT 11 hash, node key');
      }
      case 'hsmd_node_announcement_sig_req':
        if (rep.name !== 'hsmd_node_announcement_sig_reply') break;
        // BOLT 7: double-SHA256 of the packet after the signature.
        return this.#verify(rep.signature, sha256d(req.announcement.subarray(SIGNED_FROM)), this.#needNode(), 'ECDSA over BOLT 7 hash, node key');
      case 'hsmd_cupdate_sig_req': {
        if (rep.name !== 'hsmd_cupdate_sig_reply') break;
        if (rep.cu.length < SIGNED_FROM || !equal(rep.cu.subarray(SIGNED_FROM), req.cu.subarray(SIGNED_FROM))) {
          return { status: 'bad', how: 'the signed channel_update differs from the one requested' };
        }
        return this.#verify(rep.cu.subarray(2, SIGNED_FROM), sha256d(rep.cu.subarray(SIGNED_FROM)), this.#needNode(), 'ECDSA over BOLT 7 hash, node key');
      }
      case 'hsmd_cannouncement_sig_req':
      case 'hsmd_sign_any_cannouncement_req': {
        if (rep.name !== 'hsmd_cannouncement_sig_reply' && rep.name !== 'hsmd_sign_any_cannouncement_reply') break;
        const channel = req.name === 'hsmd_cannouncement_sig_req' ? own : ref(req.peerid, req.channel_dbid);
        const hash = sha256d(req.ca.subarray(CHANNEL_ANNOUNCEMENT_SIGNED_FROM));
        const node = this.#verify(rep.node_signature, hash, this.#needNode(), 'node signature');
        if (node.status !== 'ok') return node;
        return this.#verify(rep.bitcoin_signature, hash, this.#channels.get(channel)?.funding, 'node and bitcoin (funding key) signatures, BOLT 7 hash');
      }
      case 'hsmd_sign_remote_commitment_tx':
        if (rep.name !== 'hsmd_sign_tx_reply') break;
        return this.#fundingSig(own, req.tx, req.remote_funding_key, rep.sig, true, 'their commitment');
      case 'hsmd_sign_commitment_tx':
        if (rep.name !== 'hsmd_sign_commitment_tx_reply') break;
        return this.#fundingSig(ref(req.peer_id, req.channel_dbid), req.tx, req.remote_funding_key, rep.sig, true, 'our commitment');
      case 'hsmd_sign_mutual_close_tx':
        if (rep.name !== 'hsmd_sign_tx_reply') break;
        return this.#fundingSig(own, req.tx, req.remote_funding_key, rep.sig, false, 'mutual close');
      case 'hsmd_sign_remote_htlc_tx': {
        if (rep.name !== 'hsmd_sign_tx_reply') break;
        const keys = this.#channels.get(own);
        if (!keys) return { status: 'unchecked', how: `no get_channel_basepoints reply for ${own} in the log` };
        const s = spendingTx(req.tx, false, this.curve);
        if (!s.ok) return { status: 'bad', how: `the request's transaction cannot be signed (${s.why}) yet a signature was given` };
        // BOLT 3: htlcpubkey = htlc_basepoint + SHA256(per_commitment_point ‖ htlc_basepoint)·G.
        const key = derivePublicKey(this.curve, keys.basepoints.htlc, req.remote_per_commit_point);
        return this.#verify(rep.sig.signature, witnessV0Sighash(s.tx, 0, req.wscript, s.amountSat, rep.sig.sighash), key, 'ECDSA (BIP 143), derived HTLC key');
      }
      case 'hsmd_sign_bolt12': {
        if (rep.name !== 'hsmd_sign_bolt12_reply') break;
        if (this.#nodeId === undefined || this.#bolt12 === undefined) return { status: 'unchecked', how: 'BIP 340: no init reply in the log states the keys' };
        // Payer keys: bolt12 base + SHA256(base ‖ publictweak)·G; else the node key.
        const key = req.publictweak.length > 0 ? this.curve.pointAddTweak(this.#bolt12, sha256(concat(this.#bolt12, req.publictweak))) : this.#nodeId;
        const hash = taggedHash(utf8('lightning' + req.messagename + req.fieldname), req.merkleroot);
        return this.curve.verifySchnorr(rep.sig, hash, key.subarray(1))
          ? { status: 'ok', how: 'BIP 340' }
          : { status: 'bad', how: 'BIP 340: signature does not verify' };
      }
      default: {
        const why = NEEDS_SECRET[req.name];
        if (why !== undefined) return { status: 'unchecked', how: `needs the secret: ${why}` };
        return { status: 'none', how: 'no signature in this reply' };
      }
    }
    return { status: 'none', how: `reply ${rep.name} carries no signature` };
  }
}
