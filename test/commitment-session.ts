/**
 * Test kit for the commitment handlers: a recorded session (test/fixtures/transcripts)
 * driven through one in-process Signer, exchange by exchange, so a test can stop before
 * any recorded request and send that request, or a copy with one field changed.
 */
import { fromHex, toHex } from '../signer/bytes.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import type { Decision } from '../signer/decision.js';
import { DEFAULT_POLICY, type PolicyConfig } from '../signer/policy/policy.js';
import { Signer } from '../signer/signer.js';
import { decodeAs, encodeMessage, type MessageFields, type MessageName } from '../signer/wire/messages.js';
import { fixturePath } from './fixtures.js';
import { clientOf, loadTranscript, type Exchange } from './transcript.js';

const CLIENT_HSMFD = 9;

/** Request types without an on-chain transaction (the node level) plus the commitment ones. */
export const COMMITMENT_TYPES: ReadonlySet<number> = new Set([5, 19, 20, 35, 36, 40]);
export const REPLAYED_TYPES: ReadonlySet<number> = new Set([
  1, 2, 3, 4, 6, 8, 10, 11, 18, 22, 23, 24, 25, 26, 27, 28, 30, 31, 32, 33, 34, 37, 38, 39, 41, 45, 51, 52, 56, 99,
  ...COMMITMENT_TYPES,
]);

export const typeOf = (hex: string): number => parseInt(hex.slice(0, 4), 16);

export class Session {
  readonly signer: Signer;
  readonly exchanges: readonly Exchange[];
  private next = 0;
  private id = 0n;

  constructor(name: string, policy: PolicyConfig = DEFAULT_POLICY) {
    const { header, exchanges } = loadTranscript(fixturePath(`transcripts/${name}`));
    this.exchanges = exchanges.filter((ex) => typeOf(ex.req) !== CLIENT_HSMFD && REPLAYED_TYPES.has(typeOf(ex.req)));
    this.signer = new Signer({
      curve: nobleCurve,
      developer: header.hsmd_args.includes('--developer'),
      readHsmSecret: () => fromHex(header.hsm_secret),
      policy,
    });
  }

  /** The recorded exchange with this seq. */
  at(seq: number): Exchange {
    const ex = this.exchanges.find((e) => e.seq === seq);
    if (!ex) throw new Error(`no replayed exchange ${seq}`);
    return ex;
  }

  /** Sends a frame on the connection of a recorded exchange, applying its events. */
  send(ex: Exchange, frame: Uint8Array = fromHex(ex.req)): Decision {
    return this.signer.handle({
      id: ++this.id,
      client: clientOf(ex),
      at: 0,
      message: frame,
    });
  }

  /**
   * Replays the recorded exchanges with seq < `seq` (all if omitted) that `keep` accepts;
   * returns the mismatches, and the matches per request type.
   */
  replayUntil(seq = Infinity, keep: (ex: Exchange) => boolean = () => true): { mismatches: string[]; matched: Map<number, number> } {
    const mismatches: string[] = [];
    const matched = new Map<number, number>();
    while (this.next < this.exchanges.length && this.exchanges[this.next]!.seq < seq) {
      const ex = this.exchanges[this.next++]!;
      if (!keep(ex)) continue;
      const { reply } = this.send(ex);
      const got = reply.kind === 'frame' ? toHex(reply.frame) : reply.kind === 'none' ? null : `${reply.kind}: ${JSON.stringify(reply)}`;
      const type = typeOf(ex.req);
      if (got === ex.rep) matched.set(type, (matched.get(type) ?? 0) + 1);
      else mismatches.push(`seq ${ex.seq} type ${type}\n  expected ${ex.rep}\n  got      ${got}`);
    }
    return { mismatches, matched };
  }
}

/** A recorded request of type `name` with some fields changed. */
export function modified<N extends MessageName>(ex: Exchange, name: N, change: (m: MessageFields<N>) => MessageFields<N>): Uint8Array {
  return encodeMessage(name, change(decodeAs(name, fromHex(ex.req))));
}
