/**
 * Every frame recorded from CLN v25.12.1's own hsmd (test/fixtures/transcripts/*.jsonl)
 * decodes and re-encodes to the same bytes; recorded facts decode to the values docs/hsmd-protocol.md
 * states; cut or corrupted real frames only ever raise WireError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fixturePath } from '../../test/fixtures.js';
import { fromHex, toHex } from '../bytes.js';
import { WireError } from './errors.js';
import {
  MESSAGES, decodeAs, decodeMessage, encodeHsmdMessage, messageNameOf, peekType,
  type HsmdMessage,
} from './messages.js';

interface Exchange {
  seq: number;
  conn: string;
  req: string;
  rep: string | null;
  type?: number;
  name?: string;
}

/** All exchanges of one JSON Lines transcript (the header line skipped). */
function readTranscript(file: string): Exchange[] {
  const lines = readFileSync(fixturePath('transcripts/' + file), 'utf8').split('\n').filter((l) => l.trim() !== '');
  return lines.map((l) => JSON.parse(l) as Exchange & { header?: unknown }).filter((o) => o.header === undefined);
}

const FILES = readdirSync(fixturePath('transcripts')).filter((f) => f.endsWith('.jsonl')).sort();

/** Every recorded frame, with where it came from. */
const FRAMES: { where: string; hex: string }[] = FILES.flatMap((file) =>
  readTranscript(file).flatMap((x) => [
    { where: `${file} seq ${x.seq} req`, hex: x.req },
    ...(x.rep === null ? [] : [{ where: `${file} seq ${x.seq} rep`, hex: x.rep }]),
  ]));

test('the transcripts are there', () => {
  assert.deepEqual(FILES, ['hsmd-basic-legacy.jsonl', 'hsmd-basic-mnemonic.jsonl', 'session-basic-l1.jsonl', 'session-basic-l2.jsonl']);
  assert.ok(FRAMES.length > 800, `only ${FRAMES.length} frames`);
});

test('every recorded req and rep frame decodes and re-encodes to the same bytes', () => {
  for (const { where, hex } of FRAMES) {
    let m: HsmdMessage;
    try {
      m = decodeMessage(fromHex(hex));
    } catch (e) {
      assert.fail(`${where}: ${(e as Error).message}`);
    }
    assert.equal(toHex(encodeHsmdMessage(m)), hex, where);
  }
});

test('recorded request names agree with the table (session transcripts label each request)', () => {
  for (const file of FILES) {
    for (const x of readTranscript(file)) {
      if (x.name === undefined) continue;
      assert.equal(peekType(fromHex(x.req)), x.type, `${file} seq ${x.seq}`);
      assert.equal(messageNameOf(x.type!), x.name, `${file} seq ${x.seq}`);
    }
  }
});

test('recorded init and init reply decode to the values of docs/hsmd-protocol.md#init and docs/hsmd-protocol.md#hsm_secret-formats', () => {
  const [legacy, mnemonic] = ['hsmd-basic-legacy.jsonl', 'hsmd-basic-mnemonic.jsonl'].map((f) => readTranscript(f)[0]!);
  const init = decodeAs('hsmd_init', fromHex(legacy!.req));
  assert.deepEqual(init.bip32_key_version, { pub: 0x043587cf, priv: 0x04358394 });
  assert.equal(toHex(init.chainparams), '06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f');
  assert.equal(init.hsm_encryption_key, undefined);
  assert.equal(init.dev_force_channel_secrets, undefined);
  assert.equal(init.hsm_wire_min_version, 5);
  assert.equal(init.hsm_wire_max_version, 6);
  assert.deepEqual(init.tlvs, {});

  const caps = [28, 56, 142, 147, 149, 29, 32, 34, 40, 41, 45, 51, 52];
  const rep = decodeAs('hsmd_init_reply_v4', fromHex(legacy!.rep!));
  assert.equal(rep.hsm_version, 6);
  assert.deepEqual(rep.hsm_capabilities, caps);
  assert.match(toHex(rep.node_id), /^026f61d7.*6002$/);
  assert.deepEqual(rep.tlvs, { hsm_secret_type: 0 });

  const repM = decodeAs('hsmd_init_reply_v4', fromHex(mnemonic!.rep!));
  assert.deepEqual(repM.hsm_capabilities, caps);
  assert.match(toHex(repM.node_id), /^03653e90.*e87d$/);
  assert.equal(repM.tlvs.hsm_secret_type, 2);
  assert.equal(repM.tlvs.bip86_base?.length, 78);
});

test('the recorded client_hsmfd reply is the empty 006d (docs/hsmd-protocol.md#client-sockets)', () => {
  const reps = FRAMES.filter((f) => f.hex.startsWith('006d')).map((f) => f.hex);
  assert.ok(reps.length > 0);
  for (const hex of reps) assert.equal(hex, '006d');
});

const HAS_TLV = new Set(
  Object.entries(MESSAGES).filter(([, s]) => 'tlvs' in s.fields).map(([, s]) => s.type as number),
);

/** One recorded frame per message type. */
const ONE_PER_TYPE: { where: string; hex: string }[] = [
  ...new Map(FRAMES.map((f) => [peekType(fromHex(f.hex)), f] as const)).values(),
];

test('a real frame cut at any byte raises WireError, and nothing else', () => {
  assert.ok(ONE_PER_TYPE.length >= 50, `${ONE_PER_TYPE.length} types recorded`);
  for (const { where, hex } of ONE_PER_TYPE) {
    const frame = fromHex(hex);
    const tlv = frame.length >= 2 && HAS_TLV.has(peekType(frame));
    for (let cut = 0; cut < frame.length; cut++) {
      try {
        decodeMessage(frame.subarray(0, cut));
      } catch (e) {
        if (e instanceof WireError) continue;
        assert.fail(`${where} cut at ${cut}: ${String(e)}`);
      }
      // Only a stream of TLV records can end early and still be whole.
      assert.ok(tlv, `${where} cut at ${cut} decoded`);
    }
  }
});

test('real frames with random bytes changed decode or raise WireError, nothing else', () => {
  let seed = 0x2545f491;
  const rand = (n: number): number => {
    seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  for (const { where, hex } of ONE_PER_TYPE) {
    for (let round = 0; round < 200; round++) {
      const frame = fromHex(hex);
      for (let k = 1 + rand(3); k > 0; k--) frame[rand(frame.length)] = rand(256);
      let m: HsmdMessage;
      try {
        m = decodeMessage(frame);
      } catch (e) {
        if (e instanceof WireError) continue;
        assert.fail(`${where} round ${round}: ${String(e)}`);
      }
      // Whatever decodes must encode (encode accepts all decode produces) and read back the same.
      assert.deepEqual(decodeMessage(encodeHsmdMessage(m)), m, `${where} round ${round}`);
    }
  }
});
