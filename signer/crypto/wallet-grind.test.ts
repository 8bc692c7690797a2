/**
 * libwally's low-R grind (EC_FLAG_GRIND_R, used by wally_psbt_sign) against a wallet input
 * that CLN v25.12.1's hsmd signed in test/fixtures/transcripts/session-basic-l1.jsonl
 * (hsmd_sign_withdrawal, 0x0007). The P2WPKH BIP 143 sighash is rebuilt from the returned
 * PSBT with a minimal inline reader (the real PSBT code lives elsewhere).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fixturePath } from '../../test/fixtures.js';
import { concat, equal, fromHex, toHex } from '../bytes.js';
import { KeyRing } from '../keys/node-keys.js';
import { nobleCurve as curve } from './noble.js';
import { hash160, sha256d, signLowR, signLowRLibwally } from './signatures.js';

/** Deliberately independent of signer/wire and signer/psbt (the code under test): an oracle reading CLN's recorded bytes. */
class Cursor {
  pos = 0;
  constructor(readonly b: Uint8Array) {}
  take(n: number): Uint8Array {
    return this.b.subarray(this.pos, (this.pos += n));
  }
  compact(): number {
    const f = this.take(1)[0]!;
    if (f < 0xfd) return f;
    if (f === 0xff) throw new Error('a 64-bit CompactSize: none in this recording');
    const dv = new DataView(this.b.buffer, this.b.byteOffset + this.pos);
    const v = f === 0xfd ? dv.getUint16(0, true) : dv.getUint32(0, true);
    this.pos += f === 0xfd ? 2 : 4;
    return v;
  }
  varBytes = () => this.take(this.compact());
}

/** BIP 174 key-value maps: global, then one per input. */
function psbtInputMaps(psbt: Uint8Array): { tx: Uint8Array; inputs: Map<string, Uint8Array>[] } {
  const c = new Cursor(psbt);
  assert.equal(toHex(c.take(5)), '70736274ff');
  const readMap = () => {
    const m = new Map<string, Uint8Array>();
    for (let key = c.varBytes(); key.length > 0; key = c.varBytes()) m.set(toHex(key), c.varBytes().slice());
    return m;
  };
  const tx = readMap().get('00')!;
  const nIn = new Cursor(tx);
  nIn.take(4);
  const count = nIn.compact();
  return { tx, inputs: Array.from({ length: count }, readMap) };
}

/** BIP 143 signature hash of input `i` (unsigned legacy-serialized tx, P2WPKH scriptCode). */
function bip143(tx: Uint8Array, i: number, pubkey: Uint8Array, amount: Uint8Array, sighashType: number): Uint8Array {
  const c = new Cursor(tx);
  const version = c.take(4);
  const ins = Array.from({ length: c.compact() }, () => {
    const outpoint = c.take(36);
    c.varBytes();
    return { outpoint, sequence: c.take(4) };
  });
  const outs = Array.from({ length: c.compact() }, () => {
    const start = c.pos;
    c.take(8);
    c.varBytes();
    return tx.subarray(start, c.pos);
  });
  const locktime = c.take(4);
  const scriptCode = concat(fromHex('1976a914'), hash160(pubkey), fromHex('88ac'));
  return sha256d(
    concat(
      version,
      sha256d(concat(...ins.map((x) => x.outpoint))),
      sha256d(concat(...ins.map((x) => x.sequence))),
      ins[i]!.outpoint,
      scriptCode,
      amount,
      ins[i]!.sequence,
      sha256d(concat(...outs)),
      locktime,
      Uint8Array.of(sighashType, 0, 0, 0),
    ),
  );
}

/** DER ECDSA signature (without the sighash byte) → compact r ‖ s. */
function derToCompact(der: Uint8Array): Uint8Array {
  const c = new Cursor(der);
  c.take(2);
  const int = () => {
    c.take(1);
    const v = c.varBytes();
    const trimmed = v[0] === 0 ? v.subarray(1) : v;
    return concat(new Uint8Array(32 - trimmed.length), trimmed);
  };
  return concat(int(), int());
}

test('sign_withdrawal P2WPKH signature = libwally grind (first try plain RFC 6979), not sign_hash', () => {
  const lines = readFileSync(fixturePath('transcripts/session-basic-l1.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const ring = new KeyRing(curve, fromHex(lines[0].header.hsm_secret));
  let checked = 0;
  let firstTry = 0;
  for (const x of lines.slice(1)) {
    if (!x.req.startsWith('0007') || !x.rep) continue;
    const rep = fromHex(x.rep);
    const { tx, inputs } = psbtInputMaps(rep.subarray(2 + 4)); // type, u32 PSBT length
    inputs.forEach((m, i) => {
      for (const [key, value] of m) {
        if (!key.startsWith('02') || key.length !== 68) continue; // PSBT_IN_PARTIAL_SIG
        const pubkey = fromHex(key.slice(2));
        const utxo = m.get('01')!; // PSBT_IN_WITNESS_UTXO: amount ‖ script
        assert.equal(toHex(utxo.subarray(9)), '0014' + toHex(hash160(pubkey)), 'P2WPKH');
        const hash = bip143(tx, i, pubkey, utxo.subarray(0, 8), value[value.length - 1]!);
        const index = Array.from({ length: 200 }, (_, k) => k).find((k) => equal(ring.walletKey(k).publicKey, pubkey));
        assert.ok(index !== undefined, 'a wallet key m/0/0/k');
        const priv = ring.walletKey(index).privateKey;
        const recorded = derToCompact(value.subarray(0, value.length - 1));
        assert.equal(toHex(signLowRLibwally(curve, hash, priv)), toHex(recorded));
        // Where plain RFC 6979 is already low-R, CLN's own sign_hash would differ.
        if (toHex(curve.sign(hash, priv)) === toHex(recorded)) {
          assert.notEqual(toHex(signLowR(curve, hash, priv)), toHex(recorded));
          firstTry++;
        }
        checked++;
      }
    });
  }
  assert.ok(checked >= 1);
  assert.ok(firstTry >= 1, 'the recording tells the two grinds apart');
});
