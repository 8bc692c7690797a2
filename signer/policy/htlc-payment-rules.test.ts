/**
 * policy-htlc-payment-approved (htlc-payment-rules.ts) on the recorded sessions, broken by
 * forgeries derived from recorded commitment requests: session-basic-l1 preapproves each
 * payment (seq 90, 100, 112, 123, 135) before it offers its HTLC (seq 91, 101, 124, 136), and
 * receives l2's payments (seq 148, 161, 174). Adding an HTLC we offer under a hash the device
 * never approved, to a recorded sign_remote_commitment_tx or validate_commitment_tx, is
 * refused by name; under a preapproved hash it signs within the amount plus the fee allowance
 * and is refused beyond; an owner approval and a forward (the hash offered to us on another
 * channel) pass. Warn-only signs with PolicyWarned; LOCAL_POLICY signs as CLN's hsmd does.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { sessionPolicy, sessionRequests, sessionSignerOptions } from '../../test/session-records.js';
import { fromHex, toHex } from '../bytes.js';
import type { Decision } from '../decision.js';
import type { SignerEvent } from '../events.js';
import { Signer } from '../signer.js';
import type { HsmHtlc } from '../wire/fields.js';
import { decodeAs, encodeMessage } from '../wire/messages.js';
import { feeAllowanceMsat, HTLC_PAYMENT_APPROVED } from './htlc-payment-rules.js';
import { LOCAL_POLICY, type PolicyConfig } from './policy.js';

const L1 = 'session-basic-l1.jsonl';
const DEVICE = sessionPolicy(L1);
/** Recorded requests of session-basic-l1 (found with the HTLC lists printed, seq: what). */
const SIGN_N1 = 91; // sign_remote_commitment_tx n=1, our HTLC for the payment preapproved at 90
const VALIDATE_N1 = 94; // validate_commitment_tx n=1
const SIGN_N7 = 124; // sign_remote_commitment_tx n=7, after the preapproval at 112 that was never paid
const SIGN_N11 = 151; // sign_remote_commitment_tx n=11, with l2's HTLC offered to us (validated at 148)
/** Preapproved at seq 112 (an invoice of 123,456 msat), never offered in the session. */
const UNPAID = { hash: '2015db7eafc024f1', amountMsat: 123_456n };
const FOREIGN_HASH = new Uint8Array(32).fill(0x5a);

type Forge = (frame: Uint8Array) => Uint8Array;
type Commitment = 'hsmd_sign_remote_commitment_tx' | 'hsmd_validate_commitment_tx';

/** The recorded commitment request with its HTLC list edited. */
const htlcsEdited = (name: Commitment, edit: (htlcs: HsmHtlc[]) => HsmHtlc[]): Forge => (frame) => {
  const m = decodeAs(name, frame);
  return encodeMessage(name, { ...m, htlcs: edit(m.htlcs) } as never);
};
const ours = (payment_hash: Uint8Array, amount: bigint): HsmHtlc => ({ side: 0, amount, payment_hash, cltv_expiry: 119 });

/**
 * session-basic-l1 through one Signer up to request `until`, the requests of `forged`
 * replaced by their forgery: the last decision and its recorded reply. `before` acts on the
 * signer just before request `until`.
 */
function replay(policy: PolicyConfig, until: number, forged: Record<number, Forge> = {}, before?: (s: Signer) => void): { last: Decision; recorded: string | null; signer: Signer } {
  const signer = new Signer(sessionSignerOptions(L1, policy));
  for (const { exchange, envelope } of sessionRequests(L1)) {
    const forge = forged[exchange.seq];
    if (exchange.seq === until) before?.(signer);
    const last = signer.handle(forge ? { ...envelope, message: forge(envelope.message) } : envelope);
    if (exchange.seq === until) return { last, recorded: exchange.rep, signer };
  }
  throw new Error(`${L1} has no request ${until}`);
}

const refusal = (d: Decision): string => (d.reply.kind === 'bad-request' ? d.reply.description : `not refused: ${d.reply.kind}`);
const replyHex = (d: Decision): string => (d.reply.kind === 'frame' ? toHex(d.reply.frame) : `no frame: ${JSON.stringify(d.reply)}`);
const kinds = (events: readonly SignerEvent[]) => events.map((e) => e.kind);

/** The hash preapproved at seq 112, read from the session's own journaled authorization. */
function unpaidHash(): Uint8Array {
  const { signer } = replay(DEVICE, SIGN_N7);
  const hex = [...signer.state.authorizedPayments.keys()].find((h) => h.startsWith(UNPAID.hash))!;
  assert.equal(signer.state.authorizedPayments.get(hex)!.amountMsat, UNPAID.amountMsat, 'counted against the limit at seq 112');
  return fromHex(hex);
}

for (const [seq, name] of [[SIGN_N1, 'hsmd_sign_remote_commitment_tx'], [VALIDATE_N1, 'hsmd_validate_commitment_tx']] as const) {
  test(`${HTLC_PAYMENT_APPROVED}: an HTLC we offer under a hash never approved, added to ${name} (seq ${seq}), is refused; warn-only and local sign it`, () => {
    const forged = htlcsEdited(name, (h) => [...h, ours(FOREIGN_HASH, 5_000_000n)]);
    const device = replay(DEVICE, seq, { [seq]: forged });
    assert.match(refusal(device.last), new RegExp(`^${HTLC_PAYMENT_APPROVED}: an HTLC of 5000000 msat offered for (5a){32}, a payment the device never approved and no forward; to pay it once: sphinx-ctl approve (5a){32}$`));

    const warned = replay({ ...DEVICE, warnOnly: new Set([HTLC_PAYMENT_APPROVED]) }, seq, { [seq]: forged });
    assert.equal(replyHex(warned.last), warned.recorded, 'signed as recorded (the signature covers the transaction)');
    assert.deepEqual(warned.last.events[0], { kind: 'PolicyWarned', policy: HTLC_PAYMENT_APPROVED, detail: refusal(device.last).slice(HTLC_PAYMENT_APPROVED.length + 2) });
    assert.ok(kinds(warned.last.events).includes('CommitmentHtlcsRecorded'));

    const local = replay(LOCAL_POLICY, seq, { [seq]: forged });
    assert.equal(replyHex(local.last), local.recorded);
    assert.ok(!kinds(local.last.events).includes('CommitmentHtlcsRecorded'), 'the rule is off: nothing recorded for it');

    const noLimit = replay({ ...DEVICE, off: new Set(['policy-payment-velocity'] as const) }, seq, { [seq]: forged });
    assert.equal(replyHex(noLimit.last), noLimit.recorded, 'no velocity limit: nothing to bind, the rule is skipped');
  });
}

test(`${HTLC_PAYMENT_APPROVED}: the recorded HTLCs follow their preapprovals; one already in the previous commitment is not checked again`, () => {
  const signed = replay(DEVICE, SIGN_N1);
  assert.equal(replyHex(signed.last), signed.recorded);
  const recorded = signed.last.events.find((e) => e.kind === 'CommitmentHtlcsRecorded');
  assert.deepEqual(recorded && { side: recorded.side, commitNum: recorded.commitNum, amounts: recorded.htlcs.map((h) => [h.offered, h.amountMsat]) },
    { side: 'counterparty', commitNum: 1n, amounts: [[true, 10_000_000n]] });
  // A foreign HTLC signed at seq 91 under warn-only is in commitment 1 when seq 94 validates
  // it, after the device's policy enforces the rule again: not checked again. A second one is.
  const foreign = (hash: Uint8Array, name: Commitment) => htlcsEdited(name, (h) => [...h, ours(hash, 5_000_000n)]);
  const enforceAgain = (s: Signer) => s.apply([{ kind: 'PolicyChanged', policy: DEVICE, fileDigest: new Uint8Array() }]);
  const warnOnly = { ...DEVICE, warnOnly: new Set([HTLC_PAYMENT_APPROVED] as const) };
  const forged = { [SIGN_N1]: foreign(FOREIGN_HASH, 'hsmd_sign_remote_commitment_tx'), [VALIDATE_N1]: foreign(FOREIGN_HASH, 'hsmd_validate_commitment_tx') };
  const again = replay(warnOnly, VALIDATE_N1, forged, enforceAgain);
  assert.equal(replyHex(again.last), again.recorded);
  assert.ok(!kinds(again.last.events).includes('PolicyWarned'));
  const other = replay(warnOnly, VALIDATE_N1, { ...forged, [VALIDATE_N1]: foreign(new Uint8Array(32).fill(0x6b), 'hsmd_validate_commitment_tx') }, enforceAgain);
  assert.match(refusal(other.last), /a payment the device never approved/);
});

test(`${HTLC_PAYMENT_APPROVED}: a preapproved hash signs within its amount plus the fee allowance, and is refused beyond`, () => {
  const hash = unpaidHash();
  const most = UNPAID.amountMsat + feeAllowanceMsat(UNPAID.amountMsat);
  assert.equal(most, 129_690n, '1% + 5,000 msat');
  const within = replay(DEVICE, SIGN_N7, { [SIGN_N7]: htlcsEdited('hsmd_sign_remote_commitment_tx', (h) => [...h, ours(hash, most)]) });
  assert.equal(replyHex(within.last), within.recorded);
  const beyond = replay(DEVICE, SIGN_N7, { [SIGN_N7]: htlcsEdited('hsmd_sign_remote_commitment_tx', (h) => [...h, ours(hash, most - 1000n), ours(hash, 1001n)]) });
  assert.match(refusal(beyond.last), new RegExp(`^${HTLC_PAYMENT_APPROVED}: HTLCs offered for ${toHex(hash)} total 129691 msat, more than the 123456 msat authorized plus 6234 msat of fees$`));
});

test(`${HTLC_PAYMENT_APPROVED}: an owner approval (sphinx-ctl approve) passes`, () => {
  const forged = htlcsEdited('hsmd_sign_remote_commitment_tx', (h) => [...h, ours(FOREIGN_HASH, 5_000_000n)]);
  const approved = replay(DEVICE, SIGN_N1, { [SIGN_N1]: forged }, (s) => s.apply([{ kind: 'PaymentApprovalGranted', paymentHash: FOREIGN_HASH }]));
  assert.equal(replyHex(approved.last), approved.recorded);
});

test(`${HTLC_PAYMENT_APPROVED}: a forward (the hash offered to us on another channel, amount out ≤ in) passes; more out than in is refused`, () => {
  // l2's payment of 1,000,000 msat, offered to us in our commitment 11 (validated at seq 148).
  const requests = sessionRequests(L1);
  const at = requests.findIndex((r) => r.exchange.seq === SIGN_N11);
  const incoming = decodeAs('hsmd_sign_remote_commitment_tx', requests[at]!.envelope.message).htlcs[0]!;
  assert.equal(incoming.side, 1);
  const forwardOn = (amount: bigint): Decision => {
    const signer = new Signer(sessionSignerOptions(L1, DEVICE));
    for (const r of requests.slice(0, at)) signer.handle(r.envelope);
    // The recorded commitment 11 again, on another channel with the same peer, offering the HTLC on.
    const { envelope } = requests[at]!;
    const m = decodeAs('hsmd_sign_remote_commitment_tx', envelope.message);
    const message = encodeMessage('hsmd_sign_remote_commitment_tx', { ...m, htlcs: [ours(incoming.payment_hash, amount)] });
    return signer.handle({ ...envelope, client: { ...envelope.client, dbid: 2n }, message });
  };
  assert.equal(forwardOn(incoming.amount).reply.kind, 'frame');
  assert.match(refusal(forwardOn(incoming.amount + 1n)), /more than the 1000000 msat offered to us \(a forward\)$/);
});
