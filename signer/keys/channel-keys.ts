/**
 * Per-channel keys (docs/hsmd-protocol.md#key-derivation): the channel seed of (peer, dbid), derive_keys'
 * 192 bytes (common/derive_basepoints.c), the basepoints, and the per-commitment secrets
 * and points of BOLT 3 via shachain.
 */
import { concat, u64le } from '../bytes.js';
import type { Curve } from '../crypto/curve.js';
import { hkdfSha256 } from './hkdf.js';
import { SeedChain, shachainIndex } from './shachain.js';

/**
 * libhsmd.c get_channel_seed: HKDF(salt = peer_id(33) ‖ dbid as u64 LITTLE-endian,
 * IKM = channel base, info "per-peer seed") (docs/hsmd-protocol.md#byte-order: the dbid is in host order).
 */
export function channelSeed(channelBase: Uint8Array, peerId: Uint8Array, dbid: bigint): Uint8Array {
  if (peerId.length !== 33) throw new RangeError('peer id must be a 33-byte compressed key');
  return hkdfSha256(channelBase, concat(peerId, u64le(dbid)), 'per-peer seed');
}

/**
 * The secrets of one channel (struct keys of derive_basepoints.c): the funding private key,
 * the four basepoint secrets (named as the Basepoints they give) and the shachain seed.
 */
export interface ChannelSecrets {
  readonly funding: Uint8Array;
  readonly revocation: Uint8Array;
  readonly htlc: Uint8Array;
  readonly payment: Uint8Array;
  readonly delayed_payment: Uint8Array;
  readonly shaseed: Uint8Array;
}

/**
 * derive_keys: HKDF(salt ∅, IKM = channel seed, info "c-lightning", 192 bytes) split as
 * funding ‖ revocation ‖ htlc ‖ payment ‖ delayed_payment ‖ shaseed (htlc BEFORE payment).
 */
export function deriveChannelSecrets(seed: Uint8Array): ChannelSecrets {
  const okm = hkdfSha256(seed, undefined, 'c-lightning', 192);
  const part = (i: number) => okm.slice(i * 32, i * 32 + 32);
  return {
    funding: part(0),
    revocation: part(1),
    htlc: part(2),
    payment: part(3),
    delayed_payment: part(4),
    shaseed: part(5),
  };
}

/**
 * struct basepoints (field names as in the wire codec); the get_channel_basepoints reply
 * sends them in this order.
 */
export interface Basepoints {
  readonly revocation: Uint8Array;
  readonly payment: Uint8Array;
  readonly htlc: Uint8Array;
  readonly delayed_payment: Uint8Array;
}

/** Per-commitment points kept per channel: channeld asks for n and n+1 over and over. */
const RECENT_POINTS = 4;

/** One channel's secrets with memoized public keys and recent per-commitment points. */
export class ChannelKeys {
  private fundingPub?: Uint8Array;
  private bases?: Basepoints;
  private readonly points = new Map<bigint, Uint8Array>();
  private shachain?: SeedChain;

  constructor(
    private readonly curve: Curve,
    readonly secrets: ChannelSecrets,
  ) {}

  /** The funding private key. */
  get fundingPrivateKey(): Uint8Array {
    return this.secrets.funding;
  }

  /** The funding pubkey (funding_privkey·G). */
  get fundingPublicKey(): Uint8Array {
    return (this.fundingPub ??= this.curve.publicKey(this.secrets.funding));
  }

  /** derive_basepoints: each basepoint secret times G. */
  get basepoints(): Basepoints {
    const s = this.secrets;
    return (this.bases ??= {
      revocation: this.curve.publicKey(s.revocation),
      payment: this.curve.publicKey(s.payment),
      htlc: this.curve.publicKey(s.htlc),
      delayed_payment: this.curve.publicKey(s.delayed_payment),
    });
  }

  /** per_commit_secret: shachain_from_seed(shaseed, 2^48 - 1 - n). */
  perCommitmentSecret(n: bigint): Uint8Array {
    return (this.shachain ??= new SeedChain(this.secrets.shaseed)).at(shachainIndex(n));
  }

  /** per_commit_point: BOLT 3 per_commitment_point = per_commitment_secret·G. */
  perCommitmentPoint(n: bigint): Uint8Array {
    const hit = this.points.get(n);
    if (hit) return hit;
    const point = this.curve.publicKey(this.perCommitmentSecret(n));
    if (this.points.size >= RECENT_POINTS) this.points.delete(this.points.keys().next().value!);
    this.points.set(n, point);
    return point;
  }
}
