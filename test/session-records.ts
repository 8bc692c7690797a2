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

/**
 * The on-chain destinations outside its own wallet that a recorded session pays, which the
 * device's default policy (policy-onchain-destination) refuses until they are allowlisted:
 * session-basic-l1's withdraw pays 100,000 sat to l2's wallet (P2WPKH of l2's key 3), and
 * l2's pays l1's wallet (P2TR of l1's BIP 86 key 5). Found by replaying the sessions under
 * DEFAULT_POLICY; each node's own wallet outputs and the channel funding are not listed.
 */
export const SESSION_ALLOWLIST: Readonly<Record<string, readonly string[]>> = {
  'session-basic-l1.jsonl': ['0014d2c9aad79516b48864137bc965f6018e6233e4fb'],
  'session-basic-l2.jsonl': ['512016ac2602aed8a9e856413d717f7bc5922e5bd20a03fb35b82f82bb863b01b101'],
};

/**
 * The policy file (policy.json) a device replaying the recorded sessions is provisioned with:
 * both sessions' external withdrawal destinations allowlisted, the rest the device defaults.
 */
export const RECORDED_SESSIONS_POLICY_FILE = JSON.stringify({ allowlist: Object.values(SESSION_ALLOWLIST).flat() });

/** The device's default policy with the session's external destinations allowlisted. */
export const sessionPolicy = (name: string): PolicyConfig => ({ ...DEFAULT_POLICY, allowlist: (SESSION_ALLOWLIST[name] ?? []).map(fromHex) });

/** The signer options a session was recorded with (its hsm_secret and --developer). */
export function sessionSignerOptions(name: string, policy: PolicyConfig = sessionPolicy(name)): SignerOptions {
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
