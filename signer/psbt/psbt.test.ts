/**
 * PSBT v0 codec against libwally's output: every PSBT in the recorded sessions (requests
 * and replies, bare `wally_psbt` fields and those inside `bitcoin_tx`) was written by
 * libwally, so parse → serialize must give the same bytes. Plus libwally's placement rule
 * for added records (end of their group) on a recorded reply.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { fixturePath } from '../../test/fixtures.js';
import { loadTranscript } from '../../test/transcript.js';
import { fromHex, toHex } from '../bytes.js';
import { nobleCurve } from '../crypto/noble.js';
import { decodeMessage } from '../wire/messages.js';
import { PsbtError, addRecord, parsePsbt, record, serializePsbt } from './psbt.js';

/** Every PSBT found in a decoded message's fields (field `psbt`, at any depth). */
function psbtsIn(value: unknown, out: Uint8Array[]): Uint8Array[] {
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return out;
  for (const [k, v] of Object.entries(value)) {
    if (k === 'psbt' && v instanceof Uint8Array) out.push(v);
    else psbtsIn(v, out);
  }
  return out;
}

function recordedPsbts(): Uint8Array[] {
  const all: Uint8Array[] = [];
  for (const name of ['session-basic-l1.jsonl', 'session-basic-l2.jsonl']) {
    for (const ex of loadTranscript(fixturePath(`transcripts/${name}`)).exchanges) {
      for (const frame of [ex.req, ex.rep]) {
        if (!frame) continue;
        try {
          psbtsIn(decodeMessage(fromHex(frame)), all);
        } catch {
          // frames the codec does not decode carry no PSBT we need
        }
      }
    }
  }
  return all;
}

test('every recorded PSBT round-trips byte for byte', () => {
  const psbts = recordedPsbts();
  assert.ok(psbts.length > 100, `found ${psbts.length} PSBTs`);
  for (const bytes of psbts) assert.equal(toHex(serializePsbt(parsePsbt(bytes, nobleCurve))), toHex(bytes));
});

test('an added record lands at the end of its group, before later groups and unknowns', () => {
  // session-basic-l1 seq 80 request: input 0 = non-witness and witness utxo, two proprietary records.
  const psbt = parsePsbt(recordedPsbts().find((p) => toHex(p).includes('333c10202dba58df'))!, nobleCurve);
  const input = psbt.inputs[0]!;
  assert.deepEqual(input.map((r) => r.key[0]), [0x00, 0x01, 0xfc, 0xfc]);
  addRecord(input, record(0x06, new Uint8Array(33).fill(2), new Uint8Array(8)));
  addRecord(input, record(0x02, new Uint8Array(33).fill(2), fromHex('3006020101020101' + '01'))); // a DER signature (r = s = 1) and SIGHASH_ALL
  const order = parsePsbt(serializePsbt(psbt), nobleCurve).inputs[0]!.map((r) => r.key[0]);
  assert.deepEqual(order, [0x00, 0x01, 0x02, 0x06, 0xfc, 0xfc]);
});

test('malformed PSBTs are PsbtErrors', () => {
  assert.throws(() => parsePsbt(fromHex('70736274fe00'), nobleCurve), PsbtError);
  assert.throws(() => parsePsbt(fromHex('70736274ff00'), nobleCurve), PsbtError); // no unsigned tx
  assert.throws(() => parsePsbt(fromHex('70736274ff0100'), nobleCurve), PsbtError); // truncated
});
