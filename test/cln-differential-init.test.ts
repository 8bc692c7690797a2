/**
 * The differential lane (docs/hsmd-protocol.md#the-differential-lane), hsmd_init as lightningd
 * did not send it in the recordings: other networks, wire version ranges (5 keeps the old
 * commitment secret in get_per_commitment_point's reply), ranges hsmd refuses, dev fields without
 * --developer, a passphrase. Each on a fresh pair of processes; after an accepted init, a few
 * requests whose replies depend on it. Without CLN's hsmd these tests do not apply and say so.
 */
import test from 'node:test';
import { CLN_HSMD, HsmdPair, L1, MNEMONIC, NO_CLN_HSMD, compare, compareAll } from './cln-pair.js';
import { childPubkey, initKeys } from './cln-variants.js';
import type { Transcript } from './transcript.js';
import { decodeAs, encodeMessage } from '../signer/wire/messages.js';

const skip = CLN_HSMD ? false : NO_CLN_HSMD;
const hex = (h: string): Buffer => Buffer.from(h, 'hex');
const TEST_VERSIONS = { pub: 0x043587cf, priv: 0x04358394 };
/** Genesis hashes in internal order, and the BIP 32 versions lightningd sends with them. */
const NETWORKS = {
  bitcoin: { genesis: '6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000', versions: { pub: 0x0488b21e, priv: 0x0488ade4 } },
  testnet: { genesis: '43497fd7f826957108f4a30fd9cec3aeba79972084e90ead01ea330900000000', versions: TEST_VERSIONS },
  signet: { genesis: 'f61eee3b63a380a477a063af32b2bbc97c9ff9f01f2c4225e973988108000000', versions: TEST_VERSIONS },
  'an unknown chain': { genesis: '11'.repeat(32), versions: TEST_VERSIONS },
};

type Init = ReturnType<typeof decodeAs<'hsmd_init'>>;
const recordedInit = (t: Transcript): Init => decodeAs('hsmd_init', hex(t.exchanges[0]!.req));

const CASES: Array<{ what: string; transcript: Transcript; init: (base: Init) => Init }> = [
  ...Object.entries(NETWORKS).map(([name, n]) => ({
    what: name,
    transcript: L1,
    init: (base: Init) => ({ ...base, bip32_key_version: n.versions, chainparams: hex(n.genesis) }),
  })),
  { what: 'wire versions 5..5', transcript: L1, init: (base) => ({ ...base, hsm_wire_min_version: 5, hsm_wire_max_version: 5 }) },
  { what: 'wire versions 4..4', transcript: L1, init: (base) => ({ ...base, hsm_wire_min_version: 4, hsm_wire_max_version: 4 }) },
  { what: 'wire versions 5..9', transcript: L1, init: (base) => ({ ...base, hsm_wire_min_version: 5, hsm_wire_max_version: 9 }) },
  { what: 'wire versions 7..9 (no overlap)', transcript: L1, init: (base) => ({ ...base, hsm_wire_min_version: 7, hsm_wire_max_version: 9 }) },
  { what: 'wire versions 1..3 (no overlap)', transcript: L1, init: (base) => ({ ...base, hsm_wire_min_version: 1, hsm_wire_max_version: 3 }) },
  { what: 'an hsm_encryption_key (v25.12 never sends one)', transcript: L1, init: (base) => ({ ...base, hsm_encryption_key: hex('42'.repeat(32)) }) },
  { what: 'dev_force_privkey without --developer', transcript: L1, init: (base) => ({ ...base, dev_force_privkey: hex('42'.repeat(32)) }) },
  { what: 'a passphrase with a legacy secret', transcript: L1, init: (base) => ({ ...base, tlvs: { hsm_passphrase: 'secret' } }) },
  { what: 'a passphrase the mnemonic secret was not made with', transcript: MNEMONIC, init: (base) => ({ ...base, tlvs: { hsm_passphrase: 'secret' } }) },
];

for (const { what, transcript, init } of CASES) {
  test(`hsmd_init: ${what}`, { skip, timeout: 60_000 }, async (t) => {
    const pair = await HsmdPair.start(transcript.header);
    t.after(() => pair.cleanup());
    const req = encodeMessage('hsmd_init', init(recordedInit(transcript)));
    const [a] = await compareAll(t, pair.master, [req]);
    if (a?.cln.kind !== 'reply' || !a.cln.hex.startsWith('0072')) return;
    // What the init changed: the wallet keys (the network's versions) and, with version 5, per_commitment_point's reply.
    const keys = initKeys(a.cln.hex);
    const version = decodeAs('hsmd_init_reply_v4', hex(a.cln.hex)).hsm_version;
    const ourId = hex(transcript.exchanges.find((e) => e.req.startsWith('0009'))?.req.slice(4, 70) ?? '02'.padEnd(66, '1'));
    t.diagnostic(`hsm_version ${version}`);
    await compare(t, pair.master, [
      encodeMessage('hsmd_check_pubkey', { index: 3, pubkey: childPubkey(keys.bip32, [3]) }),
      encodeMessage('hsmd_sign_invoice', { u5bytes: hex('0102030405'), hrp: Buffer.from('lnbc') }),
    ]);
    const client = await pair.client(ourId, 9n, 0x18n);
    await compare(t, client, [0n, 1n, 2n, 3n, 1000n].map((n) => encodeMessage('hsmd_get_per_commitment_point', { n })));
  });
}
