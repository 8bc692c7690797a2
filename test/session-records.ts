/**
 * Test kit for the journal, projections and device core: a recorded session
 * (test/fixtures/transcripts) as the envelopes the broker would hand the signer, and the
 * decisions a live Signer takes on them (events and replies: real examples of every kind
 * the session produces).
 */
import { fromHex } from '../signer/bytes.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import type { Decision } from '../signer/decision.js';
import type { Envelope } from '../signer/envelope.js';
import { DEFAULT_POLICY, type PolicyConfig } from '../signer/policy/policy.js';
import { Signer, type SignerOptions } from '../signer/signer.js';
import { fixturePath } from './fixtures.js';
import { clientOf, loadTranscript, type Exchange } from './transcript.js';

const CLIENT_HSMFD = 9;

export interface SessionRequest {
  readonly exchange: Exchange;
  readonly envelope: Envelope;
}

/** The signer options a session was recorded with (its hsm_secret and --developer). */
export function sessionSignerOptions(name: string, policy: PolicyConfig = DEFAULT_POLICY): SignerOptions {
  const { header } = loadTranscript(fixturePath(`transcripts/${name}`));
  return {
    curve: nobleCurve,
    developer: header.hsmd_args.includes('--developer'),
    readHsmSecret: () => fromHex(header.hsm_secret),
    policy,
  };
}

/** Every request of a session the signer handles (hsmd_client_hsmfd is the broker's), ids from 1. */
export function sessionRequests(name: string): SessionRequest[] {
  const { exchanges } = loadTranscript(fixturePath(`transcripts/${name}`));
  let id = 0n;
  return exchanges
    .filter((ex) => parseInt(ex.req.slice(0, 4), 16) !== CLIENT_HSMFD)
    .map((exchange) => ({
      exchange,
      envelope: {
        id: ++id,
        client: clientOf(exchange),
        at: 0,
        message: fromHex(exchange.req),
      },
    }));
}

/** The session handled by one live Signer: each request's decision, and the signer. */
export function liveSession(name: string, policy?: PolicyConfig): { signer: Signer; decisions: (SessionRequest & { decision: Decision })[] } {
  const signer = new Signer(sessionSignerOptions(name, policy));
  const decisions = sessionRequests(name).map((r) => ({ ...r, decision: signer.handle(r.envelope) }));
  return { signer, decisions };
}
