/**
 * The differential lane (docs/hsmd-protocol.md#the-differential-lane), transactions and PSBTs
 * the recordings do not hold: the session's withdrawal PSBT and penalty transaction with bytes
 * cut, added or changed, sent on a client with every permission (so a request CLN cannot parse
 * closes only that client). libwally parses them in CLN and our own parser here; both must
 * answer alike, refuse alike or stop alike. Without CLN's hsmd these tests do not apply and say so.
 */
import test, { type TestContext } from 'node:test';
import fc from 'fast-check';
import { Psbt, Transaction } from 'bitcoinjs-lib';
import { type Answers, CLN_HSMD, type Known, L1, NO_CLN_HSMD, clnCrashes, compareEachOnItsClient, documentedRules, wallyRefusesToSign } from './cln-pair.js';
import { bytes, changed, recorded, sample } from './cln-variants.js';
import { decodeMessage, messageType } from '../signer/wire/messages.js';
import type { BitcoinTx } from '../signer/wire/tx-fields.js';


const skip = CLN_HSMD ? false : NO_CLN_HSMD;
const RULES = documentedRules();
/**
 * The known difference not yet removed: libwally keeps 30 bits of each input's previous-output
 * index (the two above are Elements flags). What its parser refuses, ours refuses too
 * (docs/hsmd-protocol.md "PSBT records libwally refuses"), so those requests must be refused alike.
 */
const PSBT_TODO = 'known difference: libwally cuts input indexes to 30 bits';
const PEER = Buffer.from(L1.exchanges.find((e) => e.conn === 'c4')!.peer!, 'hex');

/** The bytes with one of: a cut, bytes added at the end, a byte changed, a run of bytes changed. */
const mutated = (original: Uint8Array): fc.Arbitrary<Uint8Array> => fc.oneof(
  fc.integer({ min: 1, max: original.length - 1 }).map((k) => original.slice(0, k)),
  bytes(8, 1).map((more) => Uint8Array.of(...original, ...more)),
  fc.tuple(fc.integer({ min: 0, max: original.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
    const b = Uint8Array.from(original);
    b[at]! ^= x;
    return b;
  }),
  fc.tuple(fc.integer({ min: 0, max: original.length - 4 }), bytes(4, 4)).map(([at, run]) => {
    const b = Uint8Array.from(original);
    b.set(run, at);
    return b;
  }),
);

/**
 * Each known difference, checked for what it is (docs/hsmd-protocol.md#the-differential-lane):
 * kept on purpose: a refusal naming a rule docs/policies.md lists for the request; the PSBT check
 * on a request whose transaction its PSBT does not describe (bitcoinjs-lib reads both); CLN
 * crashing on a NULL PSBT that we refuse, or on another PSBT (a changed non-witness UTXO) that we
 * answer; libwally refusing to sign a changed input (CLN stops, we refuse the request). To remove (PSBT_TODO): CLN's reply is ours with each
 * input's previous-output index cut to 30 bits.
 */
function knownDifference(a: Answers): Known | undefined {
  const rules = RULES;
  const type = parseInt(a.req.slice(0, 4), 16);
  if (a.cln.kind === 'fatal' && a.cln.why === 'FATAL SIGNAL' && a.ours.kind === 'closed' && a.ours.why.endsWith(' NULL psbt')) return { label: 'CLN crashes on a NULL PSBT, we refuse it', todo: false };
  if (a.cln.kind === 'fatal') return clnCrashes(a) ?? wallyRefusesToSign(a);
  if (a.cln.kind === 'reply' && a.ours.kind === 'reply') return withMaskedIndexes(a.ours.hex) === a.cln.hex ? { label: "CLN cuts previous-output indexes to 30 bits", todo: true } : undefined;
  if (a.cln.kind !== 'reply' || a.ours.kind !== 'closed') return undefined;
  const rule = /^bad_request [0-9a-f]{66} (policy-[a-z-]+): /.exec(a.ours.why)?.[1];
  if (rule && rules.get(rule)?.includes(type)) return { label: rule, todo: false };
  if (!a.ours.why.endsWith(' PSBT does not describe the transaction') || type === messageType('hsmd_sign_withdrawal')) return undefined;
  const { tx } = decodeMessage(Buffer.from(a.req, 'hex')) as { tx: BitcoinTx };
  const unsigned = Psbt.fromBuffer(Buffer.from(tx.psbt)).data.globalMap.unsignedTx.toBuffer();
  return Buffer.from(Transaction.fromBuffer(Buffer.from(tx.tx)).toBuffer()).equals(Buffer.from(unsigned)) ? undefined : { label: 'the PSBT does not describe the transaction', todo: false };
}

/** A sign_withdrawal reply with its PSBT's unsigned transaction's input indexes masked to 30 bits. */
function withMaskedIndexes(replyHex: string): string | undefined {
  const reply = Buffer.from(replyHex, 'hex');
  if (reply.readUInt16BE(0) !== messageType('hsmd_sign_withdrawal_reply')) return undefined;
  // u16 type, u32 length, the magic (5), the unsigned tx record's key length and type (01 00), its CompactSize length.
  const at = 2 + 4 + 5 + 2;
  const length = reply[at]!;
  if (length >= 0xfd) return undefined;
  const tx = Transaction.fromBuffer(reply.subarray(at + 1, at + 1 + length));
  for (const input of tx.ins) input.index &= 0x3fffffff;
  return Buffer.concat([reply.subarray(0, at + 1), tx.toBuffer(), reply.subarray(at + 1 + length)]).toString('hex');
}

/** Each request on its own client with every permission, known differences checked as above. */
const assertAlike = (t: TestContext, requests: readonly Uint8Array[]): Promise<void> =>
  compareEachOnItsClient(t, L1, requests, knownDifference, PSBT_TODO);

test('hsmd_sign_withdrawal with its PSBT cut, extended or changed', { skip, timeout: 120_000 }, async (t) => {
  const withdrawal = recorded(L1.exchanges, 'hsmd_sign_withdrawal', 192);
  // And a NULL PSBT (length 0), which fromwire_wally_psbt reads back without failing.
  await assertAlike(t, [...sample(mutated(withdrawal.psbt!), 40).map((psbt) => changed(withdrawal, { psbt })), changed(withdrawal, { psbt: undefined })]);
});

test('hsmd_sign_any_penalty_to_us with its transaction or PSBT cut, extended or changed', { skip, timeout: 120_000 }, async (t) => {
  const penalty = recorded(L1.exchanges, 'hsmd_sign_penalty_to_us', 104);
  const any = (tx: typeof penalty.tx): Uint8Array =>
    changed({ ...penalty, name: 'hsmd_sign_any_penalty_to_us' as const, input: 0, peerid: PEER, channel_dbid: 1n }, { tx });
  await assertAlike(t, [
    ...sample(mutated(penalty.tx.tx), 15).map((tx) => any({ ...penalty.tx, tx })),
    ...sample(mutated(penalty.tx.psbt), 15).map((psbt) => any({ ...penalty.tx, psbt })),
  ]);
});
