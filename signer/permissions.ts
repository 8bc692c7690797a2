/**
 * hsmd client permissions (CLN hsmd/permissions.h) and the gate that decides which
 * requests a client may send (libhsmd.c hsmd_check_client_capabilities, v25.12.1).
 *
 * Each request of the wire table (signer/wire/messages.ts) names the permission it needs in
 * REQUIRED_PERMISSION, whose type lists every request name: a request added to the table
 * without a permission does not compile. A request that fails the gate is a bad request:
 * the client is closed with hsmstatus_client_bad_request, or hsmd exits if the client is
 * lightningd itself.
 */
import { type MessageName, messageType } from './wire/messages.js';

export const HSM_PERM_ECDH = 1n;
export const HSM_PERM_SIGN_GOSSIP = 2n;
export const HSM_PERM_SIGN_ONCHAIN_TX = 4n;
export const HSM_PERM_COMMITMENT_POINT = 8n;
export const HSM_PERM_SIGN_REMOTE_TX = 16n;
export const HSM_PERM_SIGN_CLOSING_TX = 32n;
export const HSM_PERM_SIGN_WILL_FUND_OFFER = 64n;
export const HSM_PERM_SIGN_SPLICE_TX = 128n;
export const HSM_PERM_LOCK_OUTPOINT = 256n;
export const HSM_PERM_MASTER = 1024n;

/**
 * The bits' names as in CLN's permissions.h (without HSM_PERM_), for people. Objects, not
 * [bit, name] pairs: a BigInt in an array at load breaks the SDK 8.2.3 linker's preload
 * (docs/device-memory.md "Preloaded modules").
 */
const PERMISSION_NAMES: readonly { readonly bit: bigint; readonly name: string }[] = [
  { bit: HSM_PERM_MASTER, name: 'MASTER' }, { bit: HSM_PERM_ECDH, name: 'ECDH' },
  { bit: HSM_PERM_SIGN_GOSSIP, name: 'SIGN_GOSSIP' }, { bit: HSM_PERM_SIGN_ONCHAIN_TX, name: 'SIGN_ONCHAIN_TX' },
  { bit: HSM_PERM_COMMITMENT_POINT, name: 'COMMITMENT_POINT' }, { bit: HSM_PERM_SIGN_REMOTE_TX, name: 'SIGN_REMOTE_TX' },
  { bit: HSM_PERM_SIGN_CLOSING_TX, name: 'SIGN_CLOSING_TX' }, { bit: HSM_PERM_SIGN_WILL_FUND_OFFER, name: 'SIGN_WILL_FUND_OFFER' },
  { bit: HSM_PERM_SIGN_SPLICE_TX, name: 'SIGN_SPLICE_TX' }, { bit: HSM_PERM_LOCK_OUTPOINT, name: 'LOCK_OUTPOINT' },
];

/** e.g. `ECDH|SIGN_GOSSIP`; bits CLN does not define are shown in hex; `none` for 0. */
export function permissionNames(permissions: bigint): string {
  const names = PERMISSION_NAMES.filter(({ bit }) => (permissions & bit) !== 0n).map(({ name }) => name);
  const unknown = PERMISSION_NAMES.reduce((rest, { bit }) => rest & ~bit, permissions);
  if (unknown !== 0n) names.push(`0x${unknown.toString(16)}`);
  return names.length === 0 ? 'none' : names.join('|');
}

/** hsmd.c main(): the master connection is created with these capabilities. */
export const MASTER_PERMISSIONS = HSM_PERM_MASTER | HSM_PERM_SIGN_GOSSIP | HSM_PERM_ECDH;

/** The wire table's names that are not requests: replies and hsmd's status message. */
type NotRequest = `${string}_reply` | `${string}_reply_${string}` | `${string}_resp` | `hsmstatus_${string}`;
/** Every request a client may send hsmd. */
export type RequestName = Exclude<MessageName, NotRequest>;

const PERMISSION_BITS = {
  ecdh: HSM_PERM_ECDH,
  'sign-gossip': HSM_PERM_SIGN_GOSSIP,
  'sign-onchain-tx': HSM_PERM_SIGN_ONCHAIN_TX,
  'commitment-point': HSM_PERM_COMMITMENT_POINT,
  'sign-remote-tx': HSM_PERM_SIGN_REMOTE_TX,
  'sign-closing-tx': HSM_PERM_SIGN_CLOSING_TX,
  'sign-will-fund-offer': HSM_PERM_SIGN_WILL_FUND_OFFER,
  'sign-splice-tx': HSM_PERM_SIGN_SPLICE_TX,
  'lock-outpoint': HSM_PERM_LOCK_OUTPOINT,
  master: HSM_PERM_MASTER,
} as const;
export type Permission = keyof typeof PERMISSION_BITS;

/** The permission each request needs (hsmd_check_client_capabilities' cases). */
export const REQUIRED_PERMISSION: { readonly [N in RequestName]: Permission } = {
  hsmd_ecdh_req: 'ecdh',
  hsmd_cannouncement_sig_req: 'sign-gossip',
  hsmd_cupdate_sig_req: 'sign-gossip',
  hsmd_node_announcement_sig_req: 'sign-gossip',
  hsmd_sign_delayed_payment_to_us: 'sign-onchain-tx',
  hsmd_sign_remote_htlc_to_us: 'sign-onchain-tx',
  hsmd_sign_penalty_to_us: 'sign-onchain-tx',
  hsmd_sign_local_htlc_tx: 'sign-onchain-tx',
  hsmd_get_per_commitment_point: 'commitment-point',
  hsmd_check_future_secret: 'commitment-point',
  hsmd_setup_channel: 'commitment-point',
  hsmd_sign_remote_commitment_tx: 'sign-remote-tx',
  hsmd_sign_remote_htlc_tx: 'sign-remote-tx',
  hsmd_validate_commitment_tx: 'sign-remote-tx',
  hsmd_revoke_commitment_tx: 'sign-remote-tx',
  hsmd_validate_revocation: 'sign-remote-tx',
  hsmd_sign_mutual_close_tx: 'sign-closing-tx',
  hsmd_sign_splice_tx: 'sign-splice-tx',
  hsmd_sign_option_will_fund_offer: 'sign-will-fund-offer',
  hsmd_check_outpoint: 'lock-outpoint',
  hsmd_lock_outpoint: 'lock-outpoint',
  // Everything else a client may ask needs MASTER.
  hsmd_check_bip86_pubkey: 'master',
  hsmd_init: 'master',
  hsmd_dev_preinit: 'master',
  hsmd_new_channel: 'master',
  hsmd_forget_channel: 'master',
  hsmd_client_hsmfd: 'master',
  hsmd_sign_withdrawal: 'master',
  hsmd_sign_invoice: 'master',
  hsmd_sign_commitment_tx: 'master',
  hsmd_get_channel_basepoints: 'master',
  hsmd_dev_memleak: 'master',
  hsmd_sign_message: 'master',
  hsmd_bip137_sign_message: 'master',
  hsmd_get_output_scriptpubkey: 'master',
  hsmd_sign_bolt12: 'master',
  hsmd_sign_bolt12_2: 'master',
  hsmd_preapprove_invoice: 'master',
  hsmd_preapprove_keysend: 'master',
  hsmd_preapprove_invoice_check: 'master',
  hsmd_preapprove_keysend_check: 'master',
  hsmd_derive_secret: 'master',
  hsmd_check_pubkey: 'master',
  hsmd_sign_any_penalty_to_us: 'master',
  hsmd_sign_any_delayed_payment_to_us: 'master',
  hsmd_sign_any_remote_htlc_to_us: 'master',
  hsmd_sign_any_local_htlc_tx: 'master',
  hsmd_sign_anchorspend: 'master',
  hsmd_sign_htlc_tx_mingle: 'master',
  hsmd_sign_any_cannouncement_req: 'master',
};

/** Request type → the permission bit it needs; types not here (replies, unknown) are never accepted. */
const REQUIRED_BITS: ReadonlyMap<number, bigint> = new Map(
  (Object.entries(REQUIRED_PERMISSION) as [RequestName, Permission][]).map(([name, p]) => [messageType(name), PERMISSION_BITS[p]]),
);

/** True if a client holding `permissions` may send a request of `type`. */
export function mayRequest(permissions: bigint, type: number): boolean {
  const needed = REQUIRED_BITS.get(type);
  return needed !== undefined && (permissions & needed) !== 0n;
}
