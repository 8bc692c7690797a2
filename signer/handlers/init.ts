/**
 * hsmd_init and hsmd_dev_preinit (hsmd.c init_hsm / preinit_hsm, libhsmd.c hsmd_init).
 *
 * Unlocking hsm_secret (which may need the passphrase carried by init) happens before
 * this handler runs, in signer.ts: the handler receives the keys and answers with what
 * lightningd needs to know about them.
 */
import { badRequest, fatal, replyWith } from '../decision.js';
import { encodeMessage } from '../wire/messages.js';
import type { HandlerTable } from './context.js';

/** hsmd.c init_hsm: our_minversion, our_maxversion. */
export const MIN_WIRE_VERSION = 4;
export const MAX_WIRE_VERSION = 6;

/** libhsmd.c hsmd_init capabilities: message types beyond the original set. */
const CAPABILITIES = [28, 56, 142, 147, 149, 29, 32, 34, 40, 41, 45];
/** preapprove_invoice_check and preapprove_keysend_check, unless dev no_preapprove_check. */
const PREAPPROVE_CHECK_CAPABILITIES = [51, 52];

/** BIP32 versions libhsmd.c accepts (mainnet, testnet/regtest): anything else asserts. */
const BIP32_VERSIONS = new Set(['0488b21e/0488ade4', '043587cf/04358394']);
const versionKey = (v: { pub: number; priv: number }): string =>
  `${v.pub.toString(16).padStart(8, '0')}/${v.priv.toString(16).padStart(8, '0')}`;

export const initHandlers: HandlerTable = {
  hsmd_dev_preinit: (ctx, _s, _e, { tlvs }) => {
    if (!ctx.developer) return fatal('internal', 'hsmd_dev_preinit needs hsmd started with --developer');
    return {
      events: [
        {
          kind: 'DevPreinitialized',
          failPreapprove: tlvs.fail_preapprove ?? false,
          noPreapproveCheck: tlvs.no_preapprove_check ?? false,
          warnOnOvergrind: tlvs.warn_on_overgrind ?? false,
        },
      ],
      reply: { kind: 'none' },
    };
  },

  hsmd_init: (ctx, state, _e, m) => {
    const min = m.hsm_wire_min_version;
    const max = m.hsm_wire_max_version;
    if (MIN_WIRE_VERSION > max || MAX_WIRE_VERSION < min)
      return badRequest(`Version ${min}-${max} not valid: we need ${MIN_WIRE_VERSION}-${MAX_WIRE_VERSION}`);
    if (!BIP32_VERSIONS.has(versionKey(m.bip32_key_version)))
      return fatal('internal', `unsupported bip32_key_version ${versionKey(m.bip32_key_version)}`);
    const forced = m.dev_force_privkey || m.dev_force_bip32_seed || m.dev_force_channel_secrets || m.dev_force_channel_secrets_shaseed;
    // hsmd.c init_hsm asserts these only come to a --developer hsmd (signer.ts applies them).
    if (forced && !ctx.developer) return fatal('internal', 'dev_force_* fields need hsmd started with --developer');

    const wireVersion = Math.min(max, MAX_WIRE_VERSION);
    const hsm_capabilities = state.dev.noPreapproveCheck
      ? CAPABILITIES
      : [...CAPABILITIES, ...PREAPPROVE_CHECK_CAPABILITIES];
    const { keys } = ctx;
    const reply = encodeMessage('hsmd_init_reply_v4', {
      hsm_version: wireVersion,
      hsm_capabilities,
      node_id: keys.nodeId,
      bip32: keys.walletBaseXpub(m.bip32_key_version.pub),
      bolt12: keys.bolt12PublicKey,
      tlvs: {
        hsm_secret_type: keys.secretType,
        bip86_base: keys.hasBip86 ? keys.bip86BaseXpub(m.bip32_key_version.pub) : undefined,
      },
    });
    return replyWith(reply, [
      {
        kind: 'NodeInitialized',
        wireVersion,
        bip32KeyVersion: { pub: m.bip32_key_version.pub, priv: m.bip32_key_version.priv },
        chainHash: m.chainparams,
      },
    ]);
  },

  // hsmd.c: dev_memleak only exists with --developer; we hold no C heap to leak.
  hsmd_dev_memleak: (ctx) =>
    ctx.developer ? replyWith(encodeMessage('hsmd_dev_memleak_reply', { leak: false })) : badRequest('Unknown request'),
};
