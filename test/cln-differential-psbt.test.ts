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
import { bytes, changed, psbtRecord, putRecord, recorded, sample } from './cln-variants.js';
import { decodeMessage, messageType } from '../signer/wire/messages.js';
import type { BitcoinTx } from '../signer/wire/tx-fields.js';


const skip = CLN_HSMD ? false : NO_CLN_HSMD;
const RULES = documentedRules();
/** What libwally's parser refuses, ours refuses too (docs/hsmd-protocol.md "PSBT records libwally refuses"), so those requests must be refused alike. */
const PSBT_TODO = 'known differences: none left to remove';
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
 * answer; libwally refusing to sign a changed input (CLN stops, we refuse the request).
 */
function knownDifference(a: Answers): Known | undefined {
  const rules = RULES;
  const type = parseInt(a.req.slice(0, 4), 16);
  if (a.cln.kind === 'fatal' && a.cln.why === 'FATAL SIGNAL' && a.ours.kind === 'closed' && a.ours.why.endsWith(' NULL psbt')) return { label: 'CLN crashes on a NULL PSBT, we refuse it', todo: false };
  if (a.cln.kind === 'fatal') return clnCrashes(a) ?? wallyRefusesToSign(a);
  if (a.cln.kind !== 'reply' || a.ours.kind !== 'closed') return undefined;
  const rule = /^bad_request [0-9a-f]{66} (policy-[a-z-]+): /.exec(a.ours.why)?.[1];
  if (rule && rules.get(rule)?.includes(type)) return { label: rule, todo: false };
  if (!a.ours.why.endsWith(' PSBT does not describe the transaction') || type === messageType('hsmd_sign_withdrawal')) return undefined;
  const { tx } = decodeMessage(Buffer.from(a.req, 'hex')) as { tx: BitcoinTx };
  const unsigned = Psbt.fromBuffer(Buffer.from(tx.psbt)).data.globalMap.unsignedTx.toBuffer();
  return Buffer.from(Transaction.fromBuffer(Buffer.from(tx.tx)).toBuffer()).equals(Buffer.from(unsigned)) ? undefined : { label: 'the PSBT does not describe the transaction', todo: false };
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
    // Version 1 in the transaction and its PSBT (CLN reads the PSBT's as 2, signs the transaction's 1), and in the PSBT alone.
    any({ tx: withU32(penalty.tx.tx, 0, 1), psbt: withU32(penalty.tx.psbt, VERSION_AT, 1) }),
    any({ ...penalty.tx, psbt: withU32(penalty.tx.psbt, VERSION_AT, 1) }),
  ]);
});

/** The unsigned transaction's version's offset in a PSBT whose first record it is, of under 253 bytes: the magic, the key (01 00), the length. */
const VERSION_AT = 5 + 2 + 1;
/** Its first input's previous-output index: after the version (4), the input count (1) and the txid (32). */
const FIRST_INDEX_AT = VERSION_AT + 4 + 1 + 32;

/** The PSBT with the u32 at `at` set to `value`. */
function withU32(psbt: Uint8Array, at: number, value: number): Uint8Array {
  const b = Uint8Array.from(psbt);
  new DataView(b.buffer).setUint32(at, value, true);
  return b;
}

/** The PSBT with a second input, not ours (a P2WPKH output of another transaction), spending `index`. */
function withForeignInput(psbt: Uint8Array, index: number): Uint8Array {
  const p = Psbt.fromBuffer(Buffer.from(psbt));
  p.addInput({ hash: Buffer.alloc(32, 7), index, sequence: 0xfffffffd, witnessUtxo: { script: Buffer.from('0014' + '11'.repeat(20), 'hex'), value: 5000n } });
  return p.toBuffer();
}

/**
 * CLN reads a PSBT into libwally's version 2 form and writes it back: a transaction version under
 * 2 becomes 2, signed as such; an input's previous-output index is written back with its low 30
 * bits (the two above are Elements flags) but matched to our UTXOs and signed whole: our input
 * given an index whose low 30 bits are its own is not signed, a foreign input's index is cut in
 * the reply and not in what our input's signature commits to.
 */
test('hsmd_sign_withdrawal whose PSBT spends previous-output indexes of 30 bits and more, or has a version under 2', { skip, timeout: 60_000 }, async (t) => {
  const withdrawal = recorded(L1.exchanges, 'hsmd_sign_withdrawal', 192);
  const indexes = [0x3fffffff, 0x40000000, 0x40000001, 0x80000001, 0xc0000001, 0xffffffff];
  const versions = [0, 1, 3, 0x80000000, 0xffffffff];
  await assertAlike(t, [
    ...indexes.flatMap((index) => [
      changed(withdrawal, { psbt: withU32(withdrawal.psbt!, FIRST_INDEX_AT, index) }),
      changed(withdrawal, { psbt: withForeignInput(withdrawal.psbt!, index) }),
    ]),
    ...versions.map((version) => changed(withdrawal, { psbt: withU32(withdrawal.psbt!, VERSION_AT, version) })),
  ]);
});

/** The withdrawal's PSBT with `more` done to it through bitcoinjs-lib (raw records go in as unknown ones, unchecked). */
function edited(psbt: Uint8Array, more: (p: Psbt) => void): Uint8Array {
  const p = Psbt.fromBuffer(Buffer.from(psbt));
  more(p);
  return p.toBuffer();
}

/** A second input, not ours, whose only record is `key` = `value` (hex). */
const foreignInputWith = (key: string, value: string) => (p: Psbt): void => {
  p.addInput({ hash: Buffer.alloc(32, 7), index: 0, sequence: 0xfffffffd });
  p.data.inputs[1]!.unknownKeyVals = [{ key: Buffer.from(key, 'hex'), value: Buffer.from(value, 'hex') }];
};

/**
 * libwally reads a CompactSize in any form and writes back what it parsed in the shortest; a
 * non-witness UTXO it writes without its witnesses
 * (docs/hsmd-protocol.md "PSBT records libwally refuses").
 */
test('hsmd_sign_withdrawal whose PSBT has CompactSizes not in their shortest form, or a non-witness UTXO with witnesses', { skip, timeout: 60_000 }, async (t) => {
  const withdrawal = recorded(L1.exchanges, 'hsmd_sign_withdrawal', 192);
  const psbt = withdrawal.psbt!;
  const G = '79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798';
  const p2wpkh = '0014' + '11'.repeat(20);
  // A transaction spending one output and paying 5000 sat to p2wpkh: the count of inputs as given, a witness or none.
  const prevTx = (inputCount: string, witness: boolean): string =>
    '02000000' + (witness ? '0001' : '') + inputCount + '22'.repeat(32) + '00000000' + '00' + 'ffffffff' + '01' + '8813000000000000' + '16' + p2wpkh + (witness ? '0101ff' : '') + '00000000';
  const unsignedLength = psbt[VERSION_AT - 1]!;
  const unsigned = psbt.subarray(VERSION_AT, VERSION_AT + unsignedLength);
  await assertAlike(t, [
    // The unsigned transaction's input count as fd 01 00.
    Uint8Array.of(...psbt.subarray(0, VERSION_AT - 1), unsignedLength + 2, ...unsigned.subarray(0, 4), 0xfd, 0x01, 0x00, ...unsigned.subarray(5), ...psbt.subarray(VERSION_AT + unsignedLength)),
    edited(psbt, foreignInputWith('01', '8813000000000000' + 'fd1600' + p2wpkh)),
    edited(psbt, foreignInputWith('00', prevTx('01', true))),
    edited(psbt, foreignInputWith('00', prevTx('fd0100', false))),
    edited(psbt, (p) => (p.data.inputs[0]!.unknownKeyVals = [{ key: Buffer.from('16' + G, 'hex'), value: Buffer.from('fd0000aabbccdd00000080', 'hex') }, { key: Buffer.from('08', 'hex'), value: Buffer.from('fd01000100', 'hex') }])),
    edited(psbt, (p) => (p.data.outputs[0]!.unknownKeyVals = [{ key: Buffer.from('07' + G, 'hex'), value: Buffer.from('fd0000aabbccdd00000080', 'hex') }])),
  ].map((p) => changed(withdrawal, { psbt: p })));
});

test('hsmd_sign_withdrawal with a record of any type added to its PSBT (global, our input, an output): both answer alike', { skip, timeout: 180_000 }, async (t) => {
  const withdrawal = recorded(L1.exchanges, 'hsmd_sign_withdrawal', 192);
  const requests = sample(psbtRecord, 120).map((r) => changed(withdrawal, { psbt: edited(withdrawal.psbt!, (p) => putRecord(p, r)) }));
  await assertAlike(t, requests);
});
