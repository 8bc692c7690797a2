/**
 * Bitcoin addresses in the network's own text to the scriptPubKey they pay (pure, for the
 * device's allowlist): segwit v0 in bech32, v1+ in bech32m (BIP 173/350), P2PKH and P2SH in
 * Base58Check. Each address names its networks; the caller checks them against the node's
 * chain (chainOf) where it is known.
 */
import { toHex } from '../bytes.js';
import { base58CheckDecode } from '../keys/base58.js';
import { bech32Decode, Bech32Error, wordsToBytes } from './bech32.js';

export type Network = 'bitcoin' | 'testnet' | 'signet' | 'regtest';

interface NetworkParams {
  readonly hrp: string;
  readonly p2pkh: number;
  readonly p2sh: number;
  /** Genesis block hash as hsmd_init carries it (internal byte order), hex. */
  readonly genesis: readonly string[];
}

export const NETWORKS: Readonly<Record<Network, NetworkParams>> = {
  bitcoin: { hrp: 'bc', p2pkh: 0x00, p2sh: 0x05, genesis: ['6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000'] },
  testnet: {
    hrp: 'tb',
    p2pkh: 0x6f,
    p2sh: 0xc4,
    genesis: ['43497fd7f826957108f4a30fd9cec3aeba79972084e90ead01ea330900000000', '43f08bdab050e35b567c864b91f47f50ae725ae2de53bcfbba2f84da00000000'],
  },
  signet: { hrp: 'tb', p2pkh: 0x6f, p2sh: 0xc4, genesis: ['f61eee3b63a380a477a063af32b2bbc97c9ff9f01f2c4225e973988108000000'] },
  regtest: { hrp: 'bcrt', p2pkh: 0x6f, p2sh: 0xc4, genesis: ['06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f'] },
};

export class AddressError extends Error {
  override readonly name = 'AddressError';
}

/** The network of hsmd_init's chain hash, if it is one of the four. */
export function chainOf(chainHash: Uint8Array): Network | undefined {
  const hex = toHex(chainHash);
  return (Object.keys(NETWORKS) as Network[]).find((n) => NETWORKS[n].genesis.includes(hex));
}

const OP_0 = 0x00;
const OP_1 = 0x51;
const push = (b: Uint8Array): number[] => [b.length, ...b];

/** The scriptPubKey `address` pays, and the networks whose format it is in; throws AddressError. */
export function decodeAddress(address: string): { script: Uint8Array; networks: Network[] } {
  const all = Object.keys(NETWORKS) as Network[];
  const lower = address.toLowerCase();
  const segwitNets = all.filter((n) => lower.startsWith(`${NETWORKS[n].hrp}1`));
  if (segwitNets.length > 0) return { script: segwitScript(address), networks: segwitNets };
  let payload: Uint8Array;
  try {
    payload = base58CheckDecode(address);
  } catch (e) {
    throw new AddressError(`${JSON.stringify(address)} is not an address (neither bech32 with bc/tb/bcrt nor Base58Check: ${(e as Error).message})`);
  }
  if (payload.length !== 21) throw new AddressError(`${JSON.stringify(address)}: a Base58Check address holds 21 bytes, not ${payload.length}`);
  const [version, hash] = [payload[0]!, payload.subarray(1)];
  const p2pkh = all.filter((n) => NETWORKS[n].p2pkh === version);
  const p2sh = all.filter((n) => NETWORKS[n].p2sh === version);
  // OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG; OP_HASH160 <20> OP_EQUAL
  if (p2pkh.length > 0) return { script: Uint8Array.from([0x76, 0xa9, ...push(hash), 0x88, 0xac]), networks: p2pkh };
  if (p2sh.length > 0) return { script: Uint8Array.from([0xa9, ...push(hash), 0x87]), networks: p2sh };
  throw new AddressError(`${JSON.stringify(address)}: unknown Base58Check version ${version}`);
}

function segwitScript(address: string): Uint8Array {
  let decoded;
  try {
    decoded = bech32Decode(address);
  } catch (e) {
    if (e instanceof Bech32Error) throw new AddressError(`${JSON.stringify(address)} is not a valid bech32 address: ${e.message}`);
    throw e;
  }
  const { words, variant } = decoded;
  if (words.length === 0) throw new AddressError(`${JSON.stringify(address)}: no witness version`);
  const version = words[0]!;
  if (version > 16) throw new AddressError(`${JSON.stringify(address)}: witness version ${version} above 16`);
  // BIP 350: version 0 is bech32, versions 1..16 bech32m.
  if ((version === 0) !== (variant === 'bech32')) throw new AddressError(`${JSON.stringify(address)}: witness version ${version} must be ${version === 0 ? 'bech32' : 'bech32m'}, not ${variant}`);
  let program: Uint8Array;
  try {
    program = wordsToBytes(words.subarray(1));
  } catch (e) {
    throw new AddressError(`${JSON.stringify(address)}: ${(e as Error).message}`);
  }
  if (program.length < 2 || program.length > 40) throw new AddressError(`${JSON.stringify(address)}: witness program of ${program.length} bytes`);
  if (version === 0 && program.length !== 20 && program.length !== 32) throw new AddressError(`${JSON.stringify(address)}: a version 0 program is 20 or 32 bytes, not ${program.length}`);
  return Uint8Array.from([version === 0 ? OP_0 : OP_1 + version - 1, ...push(program)]);
}

/**
 * An allowlist entry as a script: an address (checked against `network` when known) or a
 * scriptPubKey in hex. Throws AddressError naming what is wrong.
 */
export function allowlistScript(entry: string, network: Network | undefined): Uint8Array {
  if (/^([0-9a-f]{2}){2,}$/.test(entry) && !/^(bc|tb|bcrt)1/.test(entry)) return Uint8Array.from(entry.match(/../g)!.map((h) => parseInt(h, 16)));
  const { script, networks } = decodeAddress(entry);
  if (network !== undefined && !networks.includes(network))
    throw new AddressError(`${entry} is a ${networks.join('/')} address; this node is on ${network}`);
  return script;
}
