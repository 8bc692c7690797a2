/**
 * Addresses to scripts against bitcoinjs-lib (an independent implementation): P2WPKH, P2WSH
 * (bech32), P2TR (bech32m), P2PKH and P2SH (Base58Check) on each network; the BIP 173/350
 * invalid examples and a variant mix-up refused by name; BOLT 11 summaries of the recorded
 * sessions' invoices: amount from the human-readable part, payee recovered from the signature
 * equal to the other node's id (derived from its hsm_secret).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import * as bitcoin from 'bitcoinjs-lib';
import { toHex } from '../bytes.js';
import { nobleCurve } from '../crypto/noble.js';
import { nodePrivateKey } from '../keys/root-secrets.js';
import { unlockHsmSecret } from '../keys/hsm-secret.js';
import { decodeAs } from '../wire/messages.js';
import { fromHex } from '../bytes.js';
import { liveSession } from '../../test/session-records.js';
import { AddressError, allowlistScript, chainOf, decodeAddress } from './address.js';
import { Bolt11Error, summarizeBolt11 } from './bolt11.js';

const NETS = { bitcoin: bitcoin.networks.bitcoin, testnet: bitcoin.networks.testnet, regtest: bitcoin.networks.regtest } as const;

test('every address kind decodes to the script bitcoinjs-lib gives, with its networks', () => {
  const hash20 = new Uint8Array(20).map((_, i) => i + 1);
  const hash32 = new Uint8Array(32).map((_, i) => 255 - i);
  const xonly = fromHex('79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798');
  for (const [name, network] of Object.entries(NETS)) {
    const addresses = [
      bitcoin.payments.p2wpkh({ hash: Buffer.from(hash20), network }).address!,
      bitcoin.payments.p2wsh({ hash: Buffer.from(hash32), network }).address!,
      bitcoin.address.toBech32(Buffer.from(xonly), 1, network.bech32),
      bitcoin.payments.p2pkh({ hash: Buffer.from(hash20), network }).address!,
      bitcoin.payments.p2sh({ hash: Buffer.from(hash20), network }).address!,
    ];
    for (const address of addresses) {
      const { script, networks } = decodeAddress(address);
      // toOutputScript wants an ECC library for taproot: its script from fromBech32 instead.
      const expected = address.startsWith(`${network.bech32}1p`)
        ? (({ version, data }) => Buffer.concat([Buffer.of(0x50 + version, data.length), data]))(bitcoin.address.fromBech32(address))
        : bitcoin.address.toOutputScript(address, network);
      assert.equal(toHex(script), toHex(expected), address);
      assert.ok((networks as string[]).includes(name), `${address}: ${networks}`);
      assert.equal(toHex(allowlistScript(address, name as 'bitcoin')), toHex(script));
    }
  }
  const regtest = bitcoin.payments.p2wpkh({ hash: Buffer.from(hash20), network: NETS.regtest }).address!;
  assert.throws(() => allowlistScript(regtest, 'bitcoin'), /is a regtest address; this node is on bitcoin/);
  assert.equal(toHex(allowlistScript('0014' + '11'.repeat(20), 'bitcoin')), '0014' + '11'.repeat(20), 'a hex script is taken as it is');
});

test('invalid addresses are refused by name (BIP 173/350 examples)', () => {
  const cases: [string, RegExp][] = [
    ['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5', /bad checksum/],
    ['BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4'.slice(0, 20) + 'x', /bech32/],
    ['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh', /witness version 0 must be bech32, not bech32m/],
    ['bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd', /witness version 1 must be bech32m, not bech32/],
    ['bc1zw508d6qejxtdg4y5r3zarqfsj7', /program of 1 bytes|bad checksum/],
    ['Bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', /mixed case/],
    ['1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3', /checksum/],
    ['hello', /not an address/],
  ];
  for (const [address, why] of cases) assert.throws(() => decodeAddress(address), (e: Error) => e instanceof AddressError && why.test(e.message), address);
});

test('chainOf names the network of hsmd_init\'s chain hash (the recorded regtest sessions)', () => {
  const init = liveSession('session-basic-l1.jsonl').signer.state.node!;
  assert.equal(chainOf(init.chainHash), 'regtest');
  assert.equal(chainOf(new Uint8Array(32)), undefined);
});

test('BOLT 11: the sessions\' invoices give their amount, payment hash, and the other node as payee', () => {
  const nodeId = (secret: number) => toHex(nobleCurve.publicKey(nodePrivateKey(nobleCurve, unlockHsmSecret(new Uint8Array(32).fill(secret)))));
  for (const [name, payer, payee] of [['session-basic-l1.jsonl', 1, 2], ['session-basic-l2.jsonl', 2, 1]] as const) {
    const preapprovals = liveSession(name).decisions.filter((d) => d.envelope.message[1] === 51);
    assert.ok(preapprovals.length >= 3, name);
    for (const d of preapprovals) {
      const { invstring } = decodeAs('hsmd_preapprove_invoice_check', d.envelope.message);
      const s = summarizeBolt11(nobleCurve, invstring);
      assert.equal(toHex(s.payee), nodeId(payee), `${name}: ${invstring.slice(0, 20)} is paid to node ${payee}, by node ${payer}`);
      const [, digits, unit] = /^lnbcrt(\d+)([munp])/.exec(invstring)!;
      const perUnit = { m: 100_000_000, u: 100_000, n: 100, p: 0.1 }[unit as 'm'];
      assert.equal(Number(s.amountMsat), Number(digits) * perUnit);
      assert.equal(s.paymentHash.length, 32);
    }
  }
  assert.throws(() => summarizeBolt11(nobleCurve, 'lnbcrt1test'), Bolt11Error);
});
