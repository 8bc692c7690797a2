/**
 * The device's side of chain tracking (docs/chain.md, docs/remote-protocol.md "Chain"): a
 * `chain` message from the broker is decoded, checked by decideChain on the current state,
 * and what it establishes is journaled through the write-ahead core (a sourced record of
 * source "chain") before the device says anything about it; the answer is its chain
 * status (tip, latest hashes, watched outpoints, the refusal if there was one).
 */
import { CodecError } from '../../signer/record-fields.js';
import { chainStatusOf, encodeChainStatus } from '../../signer/chain/status.js';
import { decideChain, followedKey, type ChainRefusal } from '../../signer/chain/track.js';
import { decodeChainUpdates, type ChainUpdate } from '../../signer/chain/updates.js';
import type { SignerCore } from '../../core/signer-core.js';

export const CHAIN_SOURCE = 'chain';

export interface ChainMessageResult {
  /** The chain-state payload to publish. */
  readonly status: Uint8Array;
  readonly refused: ChainRefusal | null;
  readonly events: number;
}

export class DeviceChain {
  #lastWatched = '';

  constructor(private readonly core: SignerCore) {}

  /** Checks and journals one chain message; a malformed one is refused like a bad update. */
  handle(payload: Uint8Array, now: number): ChainMessageResult {
    let updates: ChainUpdate[];
    try {
      updates = decodeChainUpdates(payload);
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      return this.#answer({ name: 'chain-update-malformed', detail: e.message }, 0);
    }
    const decision = decideChain(this.core.state, updates);
    if (!decision.ok) return this.#answer(decision.refusal, 0);
    if (decision.events.length > 0) this.core.commit(CHAIN_SOURCE, decision.events, now); // durable before it is reported
    return this.#answer(null, decision.events.length);
  }

  /** The current status payload. */
  status(): Uint8Array {
    this.#lastWatched = this.#watchedKey();
    return encodeChainStatus(chainStatusOf(this.core.state));
  }

  /**
   * True when what the broker follows for this device changed since the last status: the
   * network (hsmd_init names it) or the watched outpoints (setup_channel, forget_channel).
   */
  followChanged(): boolean {
    return this.#watchedKey() !== this.#lastWatched;
  }

  #watchedKey = (): string => followedKey(this.core.state);

  #answer(refused: ChainRefusal | null, events: number): ChainMessageResult {
    this.#lastWatched = this.#watchedKey();
    return { status: encodeChainStatus(chainStatusOf(this.core.state, refused)), refused, events };
  }
}
