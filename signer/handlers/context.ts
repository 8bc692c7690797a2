/**
 * What every request handler receives, and the handler type itself.
 */
import type { Curve } from '../crypto/curve.js';
import type { Decision } from '../decision.js';
import type { Envelope } from '../envelope.js';
import type { KeyRing } from '../keys/node-keys.js';
import type { PolicyConfig } from '../policy/policy.js';
import type { SignerState } from '../state.js';
import type { MessageFields, MessageName } from '../wire/messages.js';

export interface DecideContext {
  /** Keys derived from hsm_secret (never events: recomputed at start). */
  readonly keys: KeyRing;
  readonly curve: Curve;
  /** hsmd runs with --developer: dev_preinit, dev_memleak and dev_force_* are allowed. */
  readonly developer: boolean;
  /** Validation policy limits and which rules are demoted to warnings. */
  readonly policy: PolicyConfig;
}

/** Decides one decoded request of type N. Pure: no I/O, no clock, no randomness. */
export type Handler<N extends MessageName> = (
  ctx: DecideContext,
  state: SignerState,
  env: Envelope,
  msg: MessageFields<N>,
) => Decision;

/** A handler table: request name → handler. */
export type HandlerTable = { readonly [N in MessageName]?: Handler<N> };
