/**
 * The differential lane (docs/hsmd-protocol.md#the-differential-lane), where the two hsmds may
 * differ by design: CLN's hsmd keeps no channel state and signs what it is asked, our local
 * signer enforces the rules docs/policies.md lists as on in local mode. Each case breaks one rule
 * on the recorded channel (the session replayed on both up to its last payment round): CLN must
 * answer, and ours must close the client with a bad request naming that rule (and no rule the
 * policies page does not list for that request). Without CLN's hsmd these tests do not apply and say so.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { CLN_HSMD, L1, NO_CLN_HSMD, describeOutcome, documentedRules, pairAfter, upTo } from './cln-pair.js';
import { bytes, changed, point, recorded, sample } from './cln-variants.js';
import { type HsmdMessage, decodeMessage } from '../signer/wire/messages.js';

const skip = CLN_HSMD ? false : NO_CLN_HSMD;
const CHANNELD = 0x1bfn;
const LAST_ROUND = 185;

/** The last recorded request of that name on channeld before the replay stops. */
const lastBefore = <N extends HsmdMessage['name']>(name: N): Extract<HsmdMessage, { name: N }> => {
  const ex = upTo(L1.exchanges, LAST_ROUND).filter((e) => e.conn === 'c4' && decodeMessage(Buffer.from(e.req, 'hex')).name === name).at(-1)!;
  return recorded(L1.exchanges, name, ex.seq);
};

const CASES: Array<{ rule: string; what: string; req: () => Uint8Array }> = [
  { rule: 'policy-commitment-counterparty-order', what: 'sign_remote_commitment_tx five commitments ahead', req: () => { const m = lastBefore('hsmd_sign_remote_commitment_tx'); return changed(m, { commit_num: m.commit_num + 5n }); } },
  { rule: 'policy-retry-identical', what: 'sign_remote_commitment_tx again with another feerate', req: () => { const m = lastBefore('hsmd_sign_remote_commitment_tx'); return changed(m, { feerate: m.feerate + 1 }); } },
  { rule: 'policy-commitment-holder-order', what: 'validate_commitment_tx five commitments ahead', req: () => { const m = lastBefore('hsmd_validate_commitment_tx'); return changed(m, { commit_num: m.commit_num + 5n }); } },
  { rule: 'policy-revoke-holder-current', what: 'revoke_commitment_tx of the current commitment', req: () => { const m = lastBefore('hsmd_revoke_commitment_tx'); return changed(m, { commit_num: m.commit_num + 1n }); } },
  { rule: 'policy-revocation-secret-matches-point', what: 'validate_revocation repeated with a random secret', req: () => changed(lastBefore('hsmd_validate_revocation'), { per_commitment_secret: sample(bytes(32, 32), 1)[0]! }) },
  { rule: 'policy-htlc-tx-counterparty-point', what: "sign_remote_htlc_tx with a point of no commitment of the peer's", req: () => changed(lastBefore('hsmd_sign_remote_htlc_tx'), { remote_per_commit_point: sample(point, 1)[0]! }) },
];

test('documented policies: CLN signs, our local signer refuses and names the rule', { skip, timeout: 120_000 }, async (t) => {
  const { pair, conns } = await pairAfter(t, upTo(L1.exchanges, LAST_ROUND));
  const rules = documentedRules();
  const peer = Buffer.from(L1.exchanges.find((e) => e.conn === 'c4')!.peer!, 'hex');
  let channeld = conns.get('c4')!;
  for (const { rule, what, req } of CASES) {
    await t.test(`${rule}: ${what}`, async (st) => {
      const body = req();
      const type = (body[0]! << 8) | body[1]!;
      assert.ok(rules.get(rule)?.includes(type), `docs/policies.md lists ${rule} for request ${type} (${JSON.stringify(rules.get(rule))})`);
      const a = await channeld.ask(body);
      st.diagnostic(`CLN: ${describeOutcome(a.cln)}; ours: ${describeOutcome(a.ours)}`);
      assert.equal(a.cln.kind, 'reply', `CLN answers: ${describeOutcome(a.cln)}`);
      assert.equal(a.ours.kind, 'closed', `ours refuses: ${describeOutcome(a.ours)}`);
      // The refusal names each rule broken ("rule: why; rule: why"): all documented for this request.
      const why = a.ours.kind === 'closed' ? a.ours.why : '';
      const named = [...why.matchAll(/(?:^bad_request [0-9a-f]{66} |; )(policy-[a-z-]+): /g)].map((m) => m[1]!);
      assert.ok(named.includes(rule), `the refusal names ${rule}: ${why}`);
      for (const r of named) assert.ok(rules.get(r)?.includes(type), `docs/policies.md lists ${r} for request ${type}`);
    });
    // A new channeld for the channel (the same dbid replaces the old client in both).
    channeld = await pair.client(peer, 1n, CHANNELD);
  }
});
