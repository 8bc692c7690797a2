/**
 * The close rules (close-rules.ts) on the recorded sessions (session-basic-l1 opened the
 * channel, l2 accepted it), each broken by a forgery derived from a recorded request:
 * - policy-holder-shutdown-script: setup_channel (l1 seq 73) with an upfront shutdown script
 *   that is not ours is refused by name; our wallet's key at the given index, or an
 *   allowlisted script, is accepted; a mutual close paying an upfront script that is no
 *   longer allowlisted is refused by name;
 * - policy-mutual-value-matches-commitment: the recorded mutual close (l1 seq 196, l2 seq
 *   194) with sat moved from our output to the peer's is refused by name, on both sides;
 *   the same sat moved to the fee is not the peer's gain and is signed.
 * Each: warn-only signs with a PolicyWarned event, LOCAL_POLICY signs as CLN's hsmd does.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { editedTx } from '../../test/forged-tx.js';
import { sessionPolicy, sessionRequests, sessionSignerOptions } from '../../test/session-records.js';
import { toHex } from '../bytes.js';
import { parseTx, type Tx } from '../bolt3/tx.js';
import { nobleCurve } from '../crypto/noble.js';
import type { Decision } from '../decision.js';
import { parsePsbt } from '../psbt/psbt.js';
import { spentOutput } from '../psbt/sign.js';
import { Signer } from '../signer.js';
import { decodeAs, encodeMessage } from '../wire/messages.js';
import { HOLDER_SHUTDOWN_SCRIPT, MUTUAL_VALUE } from './close-rules.js';
import { LOCAL_POLICY, type PolicyConfig, type PolicyName } from './policy.js';

const L1 = 'session-basic-l1.jsonl';
const L2 = 'session-basic-l2.jsonl';
const SETUP = { [L1]: 73, [L2]: 69 } as const;
const CLOSE = { [L1]: 196, [L2]: 194 } as const;
/** Which output of each recorded close is ours (the other is the peer's). */
const OURS = { [L1]: 1, [L2]: 0 } as const;
const FOREIGN = Uint8Array.of(0x00, 0x14, ...new Array<number>(20).fill(0x77));

type Forge = (frame: Uint8Array) => Uint8Array;

/**
 * The session through one Signer with `policy`, the requests of `forged` replaced by their
 * forgery, up to request `until`: its decision, and the recorded reply. `before` acts on the
 * signer just before that request.
 */
function replay(name: string, policy: PolicyConfig, forged: Record<number, Forge>, until: number, before?: (s: Signer) => void): { last: Decision; recorded: string | null } {
  const signer = new Signer(sessionSignerOptions(name, policy));
  for (const { exchange, envelope } of sessionRequests(name)) {
    const forge = forged[exchange.seq];
    if (exchange.seq === until) before?.(signer);
    const last = signer.handle(forge ? { ...envelope, message: forge(envelope.message) } : envelope);
    if (exchange.seq === until) return { last, recorded: exchange.rep };
  }
  throw new Error(`${name} has no request ${until}`);
}

const withShutdown = (script: Uint8Array, index?: number): Forge => (frame) =>
  encodeMessage('hsmd_setup_channel', { ...decodeAs('hsmd_setup_channel', frame), local_shutdown_script: script, local_shutdown_wallet_index: index });

const closeEdited = (edit: (tx: Tx) => void): Forge => (frame) => {
  const m = decodeAs('hsmd_sign_mutual_close_tx', frame);
  return encodeMessage('hsmd_sign_mutual_close_tx', { ...m, tx: editedTx(m.tx, edit) });
};

const policyOf = (name: string, more: Partial<PolicyConfig> = {}): PolicyConfig => ({ ...sessionPolicy(name), ...more });

const refusedWith = (d: Decision, policy: PolicyName): void => {
  assert.equal(d.reply.kind, 'bad-request', JSON.stringify(d.reply));
  assert.match((d.reply as { description: string }).description, new RegExp(`^${policy}: `));
};
const signed = (d: Decision): string => {
  assert.equal(d.reply.kind, 'frame', JSON.stringify(d.reply));
  return toHex((d.reply as { frame: Uint8Array }).frame);
};
const warnings = (d: Decision): string[] => d.events.flatMap((e) => (e.kind === 'PolicyWarned' ? [e.policy] : []));

test(`${HOLDER_SHUTDOWN_SCRIPT}: setup_channel with a foreign upfront shutdown script is refused; warn-only and local sign it`, () => {
  const forged = { [SETUP[L1]]: withShutdown(FOREIGN) };
  refusedWith(replay(L1, policyOf(L1), forged, SETUP[L1]).last, HOLDER_SHUTDOWN_SCRIPT);
  // The wallet index does not make another script ours: the key at it is re-derived.
  refusedWith(replay(L1, policyOf(L1), { [SETUP[L1]]: withShutdown(FOREIGN, 4) }, SETUP[L1]).last, HOLDER_SHUTDOWN_SCRIPT);
  const warned = replay(L1, policyOf(L1, { warnOnly: new Set([HOLDER_SHUTDOWN_SCRIPT]) }), forged, SETUP[L1]);
  assert.equal(signed(warned.last), warned.recorded);
  assert.deepEqual(warnings(warned.last), [HOLDER_SHUTDOWN_SCRIPT]);
  const local = replay(L1, LOCAL_POLICY, forged, SETUP[L1]);
  assert.equal(signed(local.last), local.recorded);
  assert.deepEqual(warnings(local.last), []);
});

test(`${HOLDER_SHUTDOWN_SCRIPT}: our wallet's key at the given index, or an allowlisted script, is accepted`, () => {
  // l1's close pays its own share to the BIP 86 P2TR of wallet key 4 (its PSBT derivation).
  const ours = decodeAs('hsmd_sign_mutual_close_tx', sessionRequests(L1).find((r) => r.exchange.seq === CLOSE[L1])!.envelope.message);
  const walletScript = parseTx(ours.tx.tx).outputs[OURS[L1]]!.scriptPubKey;
  for (const [forge, policy] of [
    [withShutdown(walletScript, 4), policyOf(L1)],
    [withShutdown(FOREIGN), policyOf(L1, { allowlist: [...policyOf(L1).allowlist, FOREIGN] })],
  ] as const) {
    const d = replay(L1, policy, { [SETUP[L1]]: forge }, SETUP[L1]);
    assert.equal(signed(d.last), d.recorded);
    assert.deepEqual(d.last.events.map((e) => e.kind), ['ChannelSetUp']);
  }
  refusedWith(replay(L1, policyOf(L1), { [SETUP[L1]]: withShutdown(walletScript, 5) }, SETUP[L1]).last, HOLDER_SHUTDOWN_SCRIPT);
});

test(`${HOLDER_SHUTDOWN_SCRIPT}: a close to an upfront script allowlisted at setup but not any more is refused; local signs it`, () => {
  const toForeign = closeEdited((tx) => void (tx.outputs[OURS[L1]]!.scriptPubKey = FOREIGN));
  const forged = { [SETUP[L1]]: withShutdown(FOREIGN), [CLOSE[L1]]: toForeign };
  const allowlisted = policyOf(L1, { allowlist: [...policyOf(L1).allowlist, FOREIGN] });
  signed(replay(L1, allowlisted, forged, CLOSE[L1]).last);
  // The owner removes it from the allowlist (sphinx-ctl: a PolicyChanged event) before the close.
  const removed = (s: Signer): void => s.apply([{ kind: 'PolicyChanged', policy: policyOf(L1), fileDigest: new Uint8Array(0) }]);
  refusedWith(replay(L1, allowlisted, forged, CLOSE[L1], removed).last, HOLDER_SHUTDOWN_SCRIPT);
  signed(replay(L1, LOCAL_POLICY, forged, CLOSE[L1]).last);
});

/** The recorded close's fee: the funding amount (its PSBT input) less the outputs. */
function recordedFee(name: typeof L1 | typeof L2): bigint {
  const m = decodeAs('hsmd_sign_mutual_close_tx', sessionRequests(name).find((r) => r.exchange.seq === CLOSE[name])!.envelope.message);
  const funding = spentOutput(parsePsbt(m.tx.psbt, nobleCurve), 0)!.amountSat;
  return parseTx(m.tx.tx).outputs.reduce((a, o) => a - o.amountSat, funding);
}

for (const name of [L1, L2] as const) {
  const ours = OURS[name];
  // We may be charged the whole fee (the closer pays it in option_simple_close), so a peer
  // gains unnoticed at most the fee when it is not ours; l1 opened the channel and pays it.
  const stolen = name === L1 ? 1n : recordedFee(name) + 1n;
  const moved = (sat: bigint, toPeer: boolean) => closeEdited((tx) => {
    tx.outputs[ours]!.amountSat -= sat;
    if (toPeer) tx.outputs[1 - ours]!.amountSat += sat;
  });

  test(`${MUTUAL_VALUE} (${name} seq ${CLOSE[name]}): ${stolen} sat of ours to the peer is refused; warn-only and local sign it`, () => {
    const recorded = replay(name, policyOf(name), {}, CLOSE[name]);
    assert.equal(signed(recorded.last), recorded.recorded);
    const forged = { [CLOSE[name]]: moved(stolen, true) };
    refusedWith(replay(name, policyOf(name), forged, CLOSE[name]).last, MUTUAL_VALUE);
    const warned = replay(name, policyOf(name, { warnOnly: new Set([MUTUAL_VALUE]) }), forged, CLOSE[name]).last;
    signed(warned);
    assert.deepEqual(warnings(warned), [MUTUAL_VALUE]);
    signed(replay(name, LOCAL_POLICY, forged, CLOSE[name]).last);
  });

  test(`${MUTUAL_VALUE} (${name}): sat of ours left to the fee are not the peer's and are signed`, () => {
    const d = replay(name, policyOf(name), { [CLOSE[name]]: moved(5_000n, false) }, CLOSE[name]).last;
    signed(d);
    assert.deepEqual(warnings(d), []);
  });
}

