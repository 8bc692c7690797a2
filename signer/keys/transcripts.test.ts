/**
 * Keys and signatures against CLN v25.12.1's own hsmd (test/fixtures/transcripts/hsmd-basic-*):
 * for each recorded request that depends only on keys, compute the reply's key material with
 * the KeyRing and signing rules and compare with the recorded bytes. Wire parsing here is a
 * minimal inline reader (the real codecs live elsewhere).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fixturePath } from '../../test/fixtures.js';
import { concat, equal, fromHex, toHex, utf8 } from '../bytes.js';
import { nobleCurve as curve } from '../crypto/noble.js';
import { sha256, sha256d, signLowR, signRecoverableRfc6979 } from '../crypto/signatures.js';
import { Bip32Version, serializeExtendedKey } from './bip32.js';
import { HsmSecretTypeCode, parseHsmSecret, unlockHsmSecret } from './hsm-secret.js';
import { KeyRing } from './node-keys.js';

interface Exchange {
  seq: number;
  conn: string;
  peer: string | null;
  dbid: number;
  req: string;
  rep: string | null;
}

/** A big-endian cursor over one frame: deliberately independent of signer/wire's WireReader (the code under test), an oracle for CLN's recorded bytes. */
class Reader {
  private pos = 0;
  constructor(private readonly b: Uint8Array) {}
  bytes(n: number): Uint8Array {
    if (this.pos + n > this.b.length) throw new Error('frame too short');
    return this.b.slice(this.pos, (this.pos += n));
  }
  u8 = () => this.bytes(1)[0]!;
  u16 = () => new DataView(this.bytes(2).buffer).getUint16(0);
  u32 = () => new DataView(this.bytes(4).buffer).getUint32(0);
  u64 = () => new DataView(this.bytes(8).buffer).getBigUint64(0);
  /** BOLT 1 bigsize. */
  bigsize(): number {
    const first = this.u8();
    if (first === 0xff) throw new Error('a 64-bit bigsize: none in these recordings');
    return first < 0xfd ? first : first === 0xfd ? this.u16() : this.u32();
  }
  get done(): boolean {
    return this.pos === this.b.length;
  }
}

/** common/hash_u5.c: SHA256(hrp ‖ 5-bit groups packed MSB first, zero-padded to a byte). */
function hashU5(hrp: Uint8Array, u5: Uint8Array): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const v of u5) {
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) out.push((acc >> (bits -= 8)) & 0xff);
  }
  if (bits > 0) out.push((acc << (8 - bits)) & 0xff);
  return sha256(concat(hrp, Uint8Array.from(out)));
}

function replay(name: string): { checked: Map<number, number> } {
  const lines = readFileSync(fixturePath('transcripts/' + name), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const file = fromHex(lines[0].header.hsm_secret);
  const exchanges = lines.slice(1) as Exchange[];
  let ring: KeyRing | undefined;
  const checked = new Map<number, number>();
  const count = (type: number) => checked.set(type, (checked.get(type) ?? 0) + 1);

  for (const x of exchanges) {
    const req = new Reader(fromHex(x.req));
    const type = req.u16();
    if (x.rep === null) continue;
    const rep = new Reader(fromHex(x.rep));
    const repType = rep.u16();
    const where = `${name} seq ${x.seq}`;
    if (type === 0x000b) {
      // hsmd_init: bip32_key_version (pubkey version, privkey version) comes first.
      const publicVersion = req.u32();
      ring = new KeyRing(curve, unlockHsmSecret(file), { secretType: HsmSecretTypeCode[parseHsmSecret(file).type] });
      assert.equal(repType, 0x0072, where); // init_reply_v4
      rep.u32(); // hsm_version
      const ncaps = rep.u16();
      for (let i = 0; i < ncaps; i++) rep.u32();
      assert.equal(toHex(rep.bytes(33)), toHex(ring.nodeId), `${where} node_id`);
      assert.equal(toHex(rep.bytes(78)), toHex(ring.walletBaseXpub(publicVersion)), `${where} m/0/0 xpub`);
      assert.equal(toHex(rep.bytes(33)), toHex(ring.bolt12PublicKey), `${where} bolt12`);
      const tlvs = new Map<number, Uint8Array>();
      while (!rep.done) {
        const t = rep.bigsize();
        tlvs.set(t, rep.bytes(rep.bigsize()));
      }
      assert.equal(toHex(tlvs.get(1)!), toHex(Uint8Array.of(ring.secretType)), `${where} type`);
      assert.equal(tlvs.has(2), ring.hasBip86, `${where} bip86 TLV presence`);
      if (ring.hasBip86) {
        assert.equal(toHex(tlvs.get(2)!), toHex(ring.bip86BaseXpub(publicVersion)), `${where} bip86 xpub`);
        // The same bytes as libwally's public serialization of the private key's version.
        assert.equal(toHex(tlvs.get(2)!), toHex(serializeExtendedKey({ ...ring.bip86Base!, version: Bip32Version.testPrivate })));
      }
      count(type);
      continue;
    }
    assert.ok(ring, 'init comes first');
    const client = x.peer !== null ? { peer: fromHex(x.peer), dbid: BigInt(x.dbid) } : undefined;
    switch (type) {
      case 0x001b: {
        // derive_secret {len u16, info} -> 0x007f {secret}
        const info = req.bytes(req.u16());
        assert.equal(repType, 0x007f);
        assert.equal(toHex(rep.bytes(32)), toHex(ring.deriveSecret(info)), `${where} derive_secret`);
        break;
      }
      case 0x001c:
      case 0x0038: {
        // check_pubkey / check_bip86_pubkey {index u32, pubkey} -> bool
        const index = req.u32();
        const pub = req.bytes(33);
        const ours = type === 0x001c ? ring.walletKey(index) : ring.bip86Key(index);
        assert.equal(rep.u8() === 1, equal(ours.publicKey, pub), `${where} check pubkey ${index}`);
        break;
      }
      case 0x0001: {
        // ecdh {point} -> 0x0064 {secret}: node key ECDH
        assert.equal(toHex(rep.bytes(32)), toHex(curve.ecdh(ring.nodePrivateKey, req.bytes(33))), `${where} ecdh`);
        break;
      }
      case 0x0017: {
        // sign_message: recoverable plain RFC 6979 over SHA256d("Lightning Signed Message:" ‖ msg)
        const msg = req.bytes(req.u16());
        const r = signRecoverableRfc6979(curve, sha256d(concat(utf8('Lightning Signed Message:'), msg)), ring.nodePrivateKey);
        assert.equal(toHex(rep.bytes(65)), toHex(concat(r.signature, Uint8Array.of(r.recovery))), `${where} sign_message`);
        break;
      }
      case 0x0008: {
        // sign_invoice {u5bytes, hrp}: recoverable plain RFC 6979 over hash_u5
        const u5 = req.bytes(req.u16());
        const hrp = req.bytes(req.u16());
        const r = signRecoverableRfc6979(curve, hashU5(hrp, u5), ring.nodePrivateKey);
        assert.equal(toHex(rep.bytes(65)), toHex(concat(r.signature, Uint8Array.of(r.recovery))), `${where} sign_invoice`);
        break;
      }
      case 0x0006: {
        // node_announcement: sign_hash (low-R grind) over SHA256d(ann[66:])
        const ann = req.bytes(req.u16());
        const sig = signLowR(curve, sha256d(ann.subarray(66)), ring.nodePrivateKey);
        assert.equal(toHex(rep.bytes(64)), toHex(sig), `${where} node_announcement`);
        break;
      }
      case 0x0003: {
        // cupdate_sig_req {cu} -> cu with sign_hash(node key, SHA256d(cu[66:])) at cu[2:66]
        const cu = req.bytes(req.u16());
        const signed = rep.bytes(rep.u16());
        const sig = signLowR(curve, sha256d(cu.subarray(66)), ring.nodePrivateKey);
        assert.equal(toHex(signed), toHex(concat(cu.subarray(0, 2), sig, cu.subarray(66))), `${where} channel_update`);
        break;
      }
      case 0x0004: {
        // sign_any_cannouncement {ca, peer, dbid}: node and funding key sign SHA256d(ca[258:])
        const ca = req.bytes(req.u16());
        const ch = ring.channel(req.bytes(33), req.u64());
        const hash = sha256d(ca.subarray(2 + 256));
        const expected = concat(signLowR(curve, hash, ring.nodePrivateKey), signLowR(curve, hash, ch.fundingPrivateKey));
        assert.equal(toHex(rep.bytes(128)), toHex(expected), `${where} channel_announcement`);
        break;
      }
      case 0x000a: {
        // get_channel_basepoints {peer, dbid} -> revocation, payment, htlc, delayed, funding
        const ch = ring.channel(req.bytes(33), req.u64());
        const b = ch.basepoints;
        const expected = concat(b.revocation, b.payment, b.htlc, b.delayed_payment, ch.fundingPublicKey);
        assert.equal(toHex(rep.bytes(165)), toHex(expected), `${where} basepoints`);
        break;
      }
      case 0x0012: {
        // get_per_commitment_point {n} on a client connection -> point, ?old_secret (absent at v6)
        assert.ok(client);
        const ch = ring.channel(client.peer, client.dbid);
        const n = req.u64();
        assert.equal(toHex(rep.bytes(33)), toHex(ch.perCommitmentPoint(n)), `${where} point ${n}`);
        assert.equal(rep.u8(), 0, `${where} no old secret at version 6`);
        break;
      }
      case 0x0016: {
        // check_future_secret {n, secret} -> bool
        assert.ok(client);
        const ch = ring.channel(client.peer, client.dbid);
        const n = req.u64();
        assert.equal(rep.u8() === 1, equal(ch.perCommitmentSecret(n), req.bytes(32)), `${where} future secret`);
        break;
      }
      default:
        continue; // new_channel, client_hsmfd, …: no key material in the reply
    }
    count(type);
  }
  return { checked };
}

test('hsmd-basic-legacy (hsm_secret 0x01×32): init reply, derive_secret, keys and signatures', () => {
  const { checked } = replay('hsmd-basic-legacy.jsonl');
  // Node id stated in docs/hsmd-protocol.md#hsm_secret-formats.
  const ring = new KeyRing(curve, new Uint8Array(32).fill(1));
  assert.match(toHex(ring.nodeId), /^026f61d7.*6002$/);
  assert.deepEqual([...checked.keys()].sort((a, b) => a - b), [0x0001, 0x0006, 0x0008, 0x000a, 0x000b, 0x0012, 0x0016, 0x0017, 0x001b, 0x001c]);
  assert.equal(checked.get(0x001b), 3);
});

test('hsmd-basic-mnemonic ("abandon … about"): the same plus bip86 base and check_bip86_pubkey', () => {
  const { checked } = replay('hsmd-basic-mnemonic.jsonl');
  assert.equal(checked.get(0x0038), 1);
  assert.equal(checked.get(0x0012), 4);
  assert.equal(checked.get(0x001b), 3);
  const file = fromHex(JSON.parse(readFileSync(fixturePath('transcripts/hsmd-basic-mnemonic.jsonl'), 'utf8').split('\n')[0]!).header.hsm_secret);
  assert.match(toHex(new KeyRing(curve, unlockHsmSecret(file)).nodeId), /^03653e90.*e87d$/);
});

test('session-basic-l1/l2 (two nodes, an anchors channel): every key-only reply reproduces', () => {
  for (const name of ['session-basic-l1.jsonl', 'session-basic-l2.jsonl']) {
    const { checked } = replay(name);
    assert.ok((checked.get(0x001c) ?? 0) >= 60, `${name} check_pubkey`);
    for (const t of [0x0001, 0x0003, 0x0004, 0x0006, 0x0008, 0x000a, 0x0012, 0x0017, 0x001b]) {
      assert.ok((checked.get(t) ?? 0) > 0, `${name} checked type ${t}`);
    }
  }
});
