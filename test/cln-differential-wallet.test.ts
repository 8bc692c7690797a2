/**
 * The differential lane (docs/hsmd-protocol.md#the-differential-lane), wallet spends the
 * recordings do not hold: hsmd_sign_withdrawal of PSBTs built with bitcoinjs-lib, spending
 * P2WPKH and P2TR outputs of our wallet keys at other indexes (the BIP 32 wallet of a legacy
 * secret, the BIP 86 wallet of a mnemonic one) with other amounts and outputs, beside inputs that
 * are not ours, and unilateral-close outputs (close_info). Without CLN's hsmd these tests do not
 * apply and say so.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import test, { type TestContext } from 'node:test';
import { initEccLib, networks, payments, Psbt } from 'bitcoinjs-lib';
import fc from 'fast-check';
import * as ecc from 'tiny-secp256k1';
import { type Answers, CLN_HSMD, type Known, L1, MNEMONIC, NO_CLN_HSMD, compareAll, clnCrashes, compareEachOnItsClient, pairAfter, upTo, wallyRefusesToSign } from './cln-pair.js';
import { bytes, childPubkey, initKeys, point, psbtRecord, putRecord, sample } from './cln-variants.js';
import type { Transcript } from './transcript.js';
import type { HsmUtxo } from '../signer/wire/tx-fields.js';
import { decodeAs, encodeMessage } from '../signer/wire/messages.js';

const skip = CLN_HSMD ? false : NO_CLN_HSMD;
initEccLib(ecc);

interface Spend {
  ours: boolean;
  taproot: boolean;
  keyindex: number;
  amount: bigint;
  txid: Uint8Array;
  n: number;
}
const spend = fc.record({
  ours: fc.oneof(fc.constant(true), fc.constant(true), fc.constant(false)),
  taproot: fc.boolean(),
  keyindex: fc.integer({ min: 0, max: 200 }),
  amount: fc.bigInt({ min: 1000n, max: 100_000_000n }),
  txid: bytes(32, 32),
  n: fc.integer({ min: 0, max: 5 }),
});
const withdrawal = fc.record({
  spends: fc.array(spend, { minLength: 1, maxLength: 3 }),
  outputs: fc.array(fc.tuple(point, fc.integer({ min: 1, max: 99 })), { minLength: 1, maxLength: 2 }),
  locktime: fc.integer({ min: 0, max: 500 }),
});

/** The wallet key at `index`: BIP 32 m/0/0/index, or BIP 86 base/0/index for a mnemonic secret. */
function walletKey(t: Transcript, index: number): Uint8Array {
  const keys = initKeys(t.exchanges[0]!.rep!);
  return keys.bip86 ? childPubkey(keys.bip86, [0, index]) : childPubkey(keys.bip32, [index]);
}

function scriptOf(pubkey: Uint8Array, taproot: boolean): Uint8Array {
  return taproot ? payments.p2tr({ internalPubkey: pubkey.slice(1), network: networks.regtest }).output! : payments.p2wpkh({ pubkey, network: networks.regtest }).output!;
}

/** What lightningd would send for `w`: a PSBT (v0) of the spend, the utxos that are ours. */
function walletSpend(t: Transcript, w: { spends: Spend[]; outputs: Array<[Uint8Array, number]>; locktime: number }, closeInfo?: HsmUtxo['close_info'], more?: (psbt: Psbt) => void): { inputs: HsmUtxo[]; psbt: Uint8Array } {
  const psbt = new Psbt({ network: networks.regtest });
  psbt.setLocktime(w.locktime);
  const inputs: HsmUtxo[] = [];
  let total = 0n;
  for (const s of w.spends) {
    const script = scriptOf(walletKey(t, s.keyindex), s.taproot);
    psbt.addInput({ hash: Buffer.from(s.txid), index: s.n, sequence: 0xfffffffd, witnessUtxo: { script, value: s.amount } });
    total += s.amount;
    if (s.ours) inputs.push({ outpoint: { txid: s.txid, n: s.n }, amount: s.amount, keyindex: s.keyindex, is_p2sh: false, scriptPubkey: script, close_info: closeInfo, is_in_coinbase: false });
  }
  // The outputs share 1..99 % of the inputs; the rest is the fee.
  for (const [key, percent] of w.outputs) psbt.addOutput({ script: scriptOf(key, false), value: (total * BigInt(percent)) / 100n / BigInt(w.outputs.length) });
  more?.(psbt);
  return { inputs, psbt: psbt.toBuffer() };
}

const signWithdrawal = (...args: Parameters<typeof walletSpend>): Uint8Array => encodeMessage('hsmd_sign_withdrawal', walletSpend(...args));

/** The family is not vacuous: CLN's reply added to the PSBT (a signature, a key) for most requests. */
function assertSigned(t: TestContext, answers: Answers[]): void {
  const changedPsbts = answers.filter((a) => a.cln.kind === 'reply' &&
    !Buffer.from(decodeAs('hsmd_sign_withdrawal_reply', Buffer.from(a.cln.hex, 'hex')).psbt!).equals(decodeAs('hsmd_sign_withdrawal', Buffer.from(a.req, 'hex')).psbt!)).length;
  t.diagnostic(`${changedPsbts} of ${answers.length} PSBTs came back with more in them`);
  assert.ok(changedPsbts >= answers.length / 2, `only ${changedPsbts} of ${answers.length} PSBTs were signed`);
}

for (const transcript of [L1, MNEMONIC]) {
  const secret = transcript === L1 ? 'a legacy secret (BIP 32 wallet)' : 'a mnemonic secret (BIP 86 wallet)';
  test(`hsmd_sign_withdrawal of other PSBTs, ${secret}`, { skip, timeout: 60_000 }, async (t) => {
    const { conns } = await pairAfter(t, upTo(transcript.exchanges, 1), transcript.header);
    assertSigned(t, await compareAll(t, conns.get('master')!, sample(withdrawal, 40).map((w) => signWithdrawal(transcript, w))));
  });
}

test('hsmd_sign_withdrawal of unilateral-close outputs (close_info), with and without anchors and a commitment point', { skip, timeout: 60_000 }, async (t) => {
  const { conns } = await pairAfter(t, upTo(L1.exchanges, 1));
  const closes = sample(fc.record({ channel_id: fc.bigInt({ min: 1n, max: 1000n }), peer_id: point, commitment_point: fc.option(point, { nil: undefined }), option_anchors: fc.boolean(), csv: fc.integer({ min: 0, max: 2016 }) }), 20);
  const spends = sample(withdrawal, 20);
  assertSigned(t, await compareAll(t, conns.get('master')!, spends.map((w, i) => signWithdrawal(L1, { ...w, spends: w.spends.map((s) => ({ ...s, taproot: false })) }, closes[i]))));
});

test('hsmd_sign_anchorspend and hsmd_sign_htlc_tx_mingle: wallet inputs and, for anchorspend, the channel\'s anchor', { skip, timeout: 60_000 }, async (t) => {
  const { conns } = await pairAfter(t, upTo(L1.exchanges, 1));
  const master = conns.get('master')!;
  const channels = sample(fc.tuple(point, fc.bigInt({ min: 1n, max: 1000n }), bytes(32, 32)), 10);
  // The funding key of each channel, as both hsmds give it (get_channel_basepoints, compared too).
  const basepoints = await compareAll(t, master, channels.map(([peerid, dbid]) => encodeMessage('hsmd_get_channel_basepoints', { peerid, dbid })));
  const spends = sample(withdrawal, channels.length);
  const requests = channels.flatMap(([peerid, channel_dbid, anchorTxid], i) => {
    const reply = basepoints[i]!.cln;
    const funding = reply.kind === 'reply' ? decodeAs('hsmd_get_channel_basepoints_reply', Buffer.from(reply.hex, 'hex')).funding_pubkey : new Uint8Array(33);
    // The anchor output of our commitment (BOLT 3): <funding_pubkey> OP_CHECKSIG OP_IFDUP OP_NOTIF OP_16 OP_CHECKSEQUENCEVERIFY OP_ENDIF.
    const anchorScript = Uint8Array.of(0x21, ...funding, 0xac, 0x73, 0x64, 0x60, 0xb2, 0x68);
    const anchor = (psbt: Psbt): void => {
      psbt.addInput({
        hash: Buffer.from(anchorTxid), index: 1, sequence: 0xfffffffd,
        witnessUtxo: { script: payments.p2wsh({ redeem: { output: anchorScript } }).output!, value: 330n },
        witnessScript: anchorScript,
        bip32Derivation: [{ masterFingerprint: Buffer.alloc(4), path: 'm', pubkey: Buffer.from(funding) }],
      });
    };
    const spend = { ...spends[i]!, spends: spends[i]!.spends.map((s) => ({ ...s, taproot: false })) };
    return [
      encodeMessage('hsmd_sign_anchorspend', { peerid, channel_dbid, ...walletSpend(L1, spend, undefined, anchor) }),
      encodeMessage('hsmd_sign_htlc_tx_mingle', { peerid, channel_dbid, ...walletSpend(L1, spend) }),
    ];
  });
  const answers = await compareAll(t, master, requests);
  // Not vacuous: CLN signed each anchor (the input after the wallet's) with the channel's funding key.
  const anchorsSigned = answers.filter((a, i) => i % 2 === 0 && a.cln.kind === 'reply' &&
    (Psbt.fromBuffer(Buffer.from(decodeAs('hsmd_sign_anchorspend_reply', Buffer.from(a.cln.hex, 'hex')).psbt!)).data.inputs.at(-1)?.partialSig?.length ?? 0) > 0).length;
  assert.equal(anchorsSigned, channels.length, 'anchors signed by CLN');
});

/**
 * Where CLN's hsmd stops and ours does not (docs/hsmd-protocol.md#the-differential-lane): a crash
 * (clnCrashes); libwally refusing to sign (a sighash type it does not know), where we refuse the
 * request (wallyRefusesToSign). We sign nothing libwally refuses to sign: a reply there is
 * unexplained.
 */
const cleanStop = (a: Answers): Known | undefined => clnCrashes(a) ?? wallyRefusesToSign(a);
const WALLY_STOPS_TODO = 'known differences: none left to remove';

/**
 * Records whose keys and values libwally checks as it parses (BIP 174's meaning of each), put in
 * raw, each in a form it takes and in forms it refuses: partial signatures (a public key, a DER
 * signature and its sighash byte), global xpubs (a serialized BIP 32 public key whose depth is its
 * path's length), preimages (keyed by their hash), taproot script signatures and leaf scripts, a
 * taproot tree, and empty values of unknown records.
 */
const raw = (where: 'global' | 'input' | 'output', key: string, value: string) => (psbt: Psbt): void => {
  const map = where === 'global' ? psbt.data.globalMap : where === 'input' ? psbt.data.inputs[0]! : psbt.data.outputs[0]!;
  (map.unknownKeyVals ??= []).push({ key: Buffer.from(key, 'hex'), value: Buffer.from(value, 'hex') });
};
const hashOf = (algorithm: string, hex: string): string => createHash(algorithm).update(Buffer.from(hex, 'hex')).digest('hex');
const hash160 = (hex: string): string => hashOf('ripemd160', hashOf('sha256', hex));
const G = '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798';
const NO_POINT = '02' + 'ff'.repeat(32);
/** A DER signature (r = 1, s = 1) and SIGHASH_ALL. */
const DER_SIG = '3006020101020101' + '01';
/** A serialized BIP 32 key: version, depth, parent fingerprint, child number, chain code, key. */
const xpub = (version: string, depth: number, key = G): string => version + depth.toString(16).padStart(2, '0') + '01020304' + '80000000' + '11'.repeat(32) + key;
const TPUB = '043587cf';
const path = (n: number): string => 'aabbccdd' + '00000080'.repeat(n);
const RECORDS_LIBWALLY_CHECKS: Record<string, (psbt: Psbt) => void> = {
  'a partial signature of another key': raw('input', '02' + G, DER_SIG),
  'a partial signature keyed by no point': raw('input', '02' + NO_POINT, DER_SIG),
  'a partial signature that is no DER': raw('input', '02' + G, '3006020101020201' + '01'),
  'a partial signature with a long-form DER length': raw('input', '02' + G, '308106020101020101' + '01'),
  'a partial signature with a negative r (DER takes it)': raw('input', '02' + G, '3006020181020101' + '01'),
  'a partial signature with an r above the order (DER takes it)': raw('input', '02' + G, '3026022100' + 'ff'.repeat(32) + '020101' + '01'),
  'a partial signature of the sighash byte alone': raw('input', '02' + G, '01'),
  'a global xpub': raw('global', '01' + xpub(TPUB, 2), path(2)),
  'a global xpub whose depth is not its path length': raw('global', '01' + xpub(TPUB, 2), path(1)),
  'a global xpub with a private version': raw('global', '01' + xpub('04358394', 0), path(0)),
  'a global xpub with an unknown version': raw('global', '01' + xpub('0488b21f', 0), path(0)),
  'a mainnet global xpub': raw('global', '01' + xpub('0488b21e', 0), path(0)),
  'a global xpub whose key is no point (not checked)': raw('global', '01' + xpub(TPUB, 0, NO_POINT), path(0)),
  'a global xpub whose key is private key data': raw('global', '01' + xpub(TPUB, 0, '00' + '11'.repeat(32)), path(0)),
  'a global xpub keyed by a public key': raw('global', '01' + G, path(0)),
  'preimages keyed by their hashes': (psbt) => {
    raw('input', '0a' + hashOf('ripemd160', 'aa'), 'aa')(psbt);
    raw('input', '0b' + hashOf('sha256', 'bb'), 'bb')(psbt);
    raw('input', '0c' + hash160('cc'), 'cc')(psbt);
    raw('input', '0d' + hashOf('sha256', hashOf('sha256', 'dd')), 'dd')(psbt);
  },
  'a SHA256 preimage keyed by another hash': raw('input', '0b' + hashOf('sha256', 'bc'), 'bb'),
  'a HASH160 preimage keyed by its RIPEMD160': raw('input', '0c' + hashOf('ripemd160', 'cc'), 'cc'),
  'an empty preimage': raw('input', '0b' + hashOf('sha256', ''), ''),
  'a taproot script signature': raw('input', '14' + G.slice(2) + '22'.repeat(32), '33'.repeat(64)),
  'a taproot script signature of 63 bytes': raw('input', '14' + G.slice(2) + '22'.repeat(32), '33'.repeat(63)),
  'a taproot script signature keyed by 63 bytes': raw('input', '14' + G.slice(2) + '22'.repeat(31), '33'.repeat(64)),
  'a taproot script signature keyed by no x-only point (not checked)': raw('input', '14' + 'ff'.repeat(64), '33'.repeat(64)),
  'a taproot leaf script': raw('input', '15' + 'c0' + G.slice(2), '51c0'),
  'a taproot leaf script with a control block of 34 bytes': raw('input', '15' + 'c0' + G.slice(2) + '00', '51c0'),
  'an empty taproot leaf script': raw('input', '15' + 'c0' + G.slice(2), ''),
  'a taproot tree': raw('output', '06', '00c00151'),
  'an empty taproot tree': raw('output', '06', ''),
  'a taproot tree of 3 bytes': raw('output', '06', '00c001'),
  'an unknown input record with an empty value': raw('input', 'f0', ''),
  'a redeem script that is not the P2SH of the spent script (libwally refuses to sign)': raw('input', '04', 'fe515abc063d6541'),
  'a global unknown record with an empty value': raw('global', 'f1', ''),
  'an unknown output record with an empty value': raw('output', 'f1', ''),
};

/** A PSBT feature lightningd does not use but a PSBT may carry, applied to the first input (and the first output). */
const FEATURES: Record<string, (psbt: Psbt, key: Uint8Array, taproot: boolean) => void> = {
  'sighash type ALL': (psbt) => psbt.updateInput(0, { sighashType: 0x01 }),
  'sighash type NONE': (psbt) => psbt.updateInput(0, { sighashType: 0x02 }),
  'sighash type SINGLE': (psbt) => psbt.updateInput(0, { sighashType: 0x03 }),
  'sighash type ALL|ANYONECANPAY': (psbt) => psbt.updateInput(0, { sighashType: 0x81 }),
  'sighash type SINGLE|ANYONECANPAY': (psbt) => psbt.updateInput(0, { sighashType: 0x83 }),
  'sighash type 0x04 (no such type)': (psbt) => psbt.updateInput(0, { sighashType: 0x04 }),
  'sighash type SINGLE on an input with no output at its index': (psbt) => psbt.updateInput(psbt.inputCount - 1, { sighashType: 0x03 }),
  'unknown and proprietary input records': (psbt) =>
    [['f00102', '09'], ['fc03616263', '0102']].forEach(([key, value]) => psbt.addUnknownKeyValToInput(0, { key: Buffer.from(key!, 'hex'), value: Buffer.from(value!, 'hex') })),
  "the input key's BIP 32 derivation already there": (psbt, key, taproot) =>
    taproot
      ? psbt.updateInput(0, { tapBip32Derivation: [{ masterFingerprint: Buffer.from('01020304', 'hex'), path: 'm/86/0/0/0/1', pubkey: Buffer.from(key.slice(1)), leafHashes: [] }], tapInternalKey: Buffer.from(key.slice(1)) })
      : psbt.updateInput(0, { bip32Derivation: [{ masterFingerprint: Buffer.from('01020304', 'hex'), path: 'm/0/0/1', pubkey: Buffer.from(key) }] }),
  'a partial signature already there for the input key': (psbt, key, taproot) =>
    taproot
      ? psbt.updateInput(0, { tapKeySig: Buffer.alloc(64, 7) })
      : psbt.updateInput(0, { partialSig: [{ pubkey: Buffer.from(key), signature: Buffer.from('3006020101020101' + '01', 'hex') }] }),
  'a finalized input (final witness)': (psbt) => psbt.updateInput(0, { finalScriptWitness: Buffer.from('0101ff', 'hex') }),
  'global unknown records': (psbt) => psbt.addUnknownKeyValToGlobal({ key: Buffer.from('f1', 'hex'), value: Buffer.from('00', 'hex') }),
  ...RECORDS_LIBWALLY_CHECKS,
};

for (const transcript of [L1, MNEMONIC]) {
  test(`hsmd_sign_withdrawal of PSBTs with records lightningd does not send (sighash types, derivations, signatures, unknowns), ${transcript === L1 ? 'legacy' : 'mnemonic'} secret`, { skip, timeout: 60_000 }, async (t) => {
    const spends = sample(withdrawal, Object.keys(FEATURES).length * 2);
    const requests = Object.values(FEATURES).flatMap((feature, i) => [false, true].map((taproot, j) => {
      const w = spends[2 * i + j]!;
      const first = { ...w.spends[0]!, ours: true, taproot };
      return signWithdrawal(transcript, { ...w, spends: [first, ...w.spends.slice(1)] }, undefined, (psbt) => feature(psbt, walletKey(transcript, first.keyindex), taproot));
    }));
    await compareEachOnItsClient(t, transcript, requests, cleanStop, WALLY_STOPS_TODO);
  });
}

for (const transcript of [L1, MNEMONIC]) {
  test(`hsmd_sign_withdrawal of wallet PSBTs with a record of any type added (global, our first input, an output), ${transcript === L1 ? 'legacy' : 'mnemonic'} secret`, { skip, timeout: 120_000 }, async (t) => {
    const cases = sample(fc.tuple(withdrawal, fc.boolean(), psbtRecord), 60);
    const requests = cases.map(([w, taproot, r]) => {
      const first = { ...w.spends[0]!, ours: true, taproot };
      return signWithdrawal(transcript, { ...w, spends: [first, ...w.spends.slice(1)] }, undefined, (psbt) => putRecord(psbt, r));
    });
    await compareEachOnItsClient(t, transcript, requests, cleanStop, WALLY_STOPS_TODO);
  });
}
