/**
 * Signer: the signer core with its state, as a host (the device app, or the broker's
 * in-process signer) runs it. It owns the two things `decide` cannot: the keys unlocked
 * from hsm_secret at init, and the current state. Hosts that journal call `decide`,
 * make the events durable, then `apply` (write-ahead); others call `handle`.
 */
import type { Curve } from './crypto/curve.js';
import { decide } from './decide.js';
import { fatal, type Decision } from './decision.js';
import type { Envelope } from './envelope.js';
import type { SignerEvent } from './events.js';
import { openKeyRing, type KeyRing, type KeyRingOptions } from './keys/node-keys.js';
import { HsmSecretError, HsmSecretTypeCode, parseHsmSecret, unlockHsmSecret } from './keys/hsm-secret.js';
import { DEFAULT_POLICY, type PolicyConfig } from './policy/policy.js';
import { apply, initialState, type SignerState } from './state.js';
import { decodeAs, encodeMessage, messageType, requestType, type MessageFields } from './wire/messages.js';

const WIRE_HSMD_INIT = messageType('hsmd_init');

export interface SignerOptions {
  readonly curve: Curve;
  /** hsmd started with --developer (dev_preinit, dev_memleak). */
  readonly developer: boolean;
  /**
   * Validation policies: DEFAULT_POLICY unless configured. A policy in the state (the
   * device's own, set by its policy file or a control command) takes precedence.
   */
  readonly policy?: PolicyConfig;
  /**
   * The hsm_secret file's bytes, asked for when hsmd_init arrives (CLN reads, or creates,
   * the file at that moment; the passphrase is init's, for a file that must be created).
   */
  readonly readHsmSecret: (passphrase: string | undefined) => Uint8Array;
  /** Sizes of the key ring's caches (a device keeps them small: docs/device-memory.md). */
  readonly keyCacheLimits?: KeyRingOptions['cacheLimits'];
}

export class Signer {
  #state: SignerState;
  #keys: KeyRing | undefined;

  constructor(
    private readonly options: SignerOptions,
    state: SignerState = initialState,
  ) {
    this.#state = state;
  }

  get state(): SignerState {
    return this.#state;
  }

  /** True once hsmd_init unlocked the keys. */
  get initialized(): boolean {
    return this.#keys !== undefined;
  }

  decide(env: Envelope): Decision {
    if (requestType(env.message) === WIRE_HSMD_INIT) {
      const failure = this.#unlock(env.message);
      if (failure) return failure;
    }
    return decide({ keys: this.#keys, curve: this.options.curve, developer: this.options.developer, policy: this.policy }, this.#state, env);
  }

  /** The policy in force: the state's (the device's own), else the configured one, else the default. */
  get policy(): PolicyConfig {
    return this.#state.policy ?? this.options.policy ?? DEFAULT_POLICY;
  }

  apply(events: readonly SignerEvent[]): void {
    for (const event of events) this.#state = apply(this.#state, event);
  }

  /** decide then apply, for hosts without a journal. */
  handle(env: Envelope): Decision {
    const decision = this.decide(env);
    this.apply(decision.events);
    return decision;
  }

  /** Unlocks hsm_secret with init's passphrase; a Decision if that fails. */
  #unlock(initFrame: Uint8Array): Decision | undefined {
    let init: MessageFields<'hsmd_init'>;
    try {
      init = decodeAs('hsmd_init', initFrame);
    } catch {
      return undefined; // decide() answers an unparsable init as hsmd does.
    }
    const passphrase = init.tlvs.hsm_passphrase;
    try {
      const file = this.options.readHsmSecret(passphrase);
      const secret = unlockHsmSecret(file, passphrase);
      this.#keys = openKeyRing(this.options.curve, secret, {
        secretType: HsmSecretTypeCode[parseHsmSecret(file).type],
        ...(this.options.keyCacheLimits ? { cacheLimits: this.options.keyCacheLimits } : {}),
        // --developer only: the init handler refuses these otherwise, as hsmd asserts.
        dev: this.options.developer ? devOverrides(init) : undefined,
      });
      return undefined;
    } catch (e) {
      if (!(e instanceof HsmSecretError)) throw e;
      // hsmd.c load_hsm: init_reply_failure first; a wrong passphrase is the user's
      // mistake and ends hsmd cleanly, anything else is an internal failure.
      const error_message = e.clnMessage;
      const frame = encodeMessage('hsmd_init_reply_failure', { error_code: e.code, error_message });
      const decision = fatal(e.wrongPassphrase ? null : 'internal', error_message);
      return { ...decision, reply: { ...decision.reply, frame } } as Decision;
    }
  }
}

/** hsmd_init's dev_force_* fields as KeyRing overrides (libhsmd.c hsmd_init, node_key). */
function devOverrides(init: MessageFields<'hsmd_init'>): KeyRingOptions['dev'] {
  const secrets = init.dev_force_channel_secrets;
  return {
    forcePrivkey: init.dev_force_privkey,
    forceBip32Seed: init.dev_force_bip32_seed,
    forceChannelSecrets: secrets && {
      funding: secrets.funding_privkey,
      revocation: secrets.revocation_basepoint_secret,
      payment: secrets.payment_basepoint_secret,
      delayed_payment: secrets.delayed_payment_basepoint_secret,
      htlc: secrets.htlc_basepoint_secret,
    },
    forceChannelShaseed: init.dev_force_channel_secrets_shaseed,
  };
}
