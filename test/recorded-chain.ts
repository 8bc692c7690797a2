/**
 * The recorded regtest chain (test/fixtures/chain/README.md) for tests: every raw block,
 * parsed by bitcoinjs-lib (the independent oracle), gettxoutproof-style proofs built from
 * a block's transactions, and blocks of a competing branch (for reorgs) with real proof
 * of work at regtest's target.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { Block, Transaction } from 'bitcoinjs-lib';
import { sha256d } from '../signer/crypto/signatures.js';
import { outpointKey } from '../signer/chain/view.js';
import { decodeMessage } from '../signer/wire/messages.js';
import { fixturePath } from './fixtures.js';

export interface RecordedBlock {
  readonly height: number;
  /** Display order, as bitcoind prints it. */
  readonly hash: string;
  readonly raw: Uint8Array;
  readonly block: Block;
}

let cached: RecordedBlock[] | undefined;

/** Every block from genesis to the tip, by height. */
export function recordedChain(): RecordedBlock[] {
  cached ??= gunzipSync(readFileSync(fixturePath('chain/regtest-chain.jsonl.gz')))
    .toString('utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const { height, hash, hex } = JSON.parse(line) as { height: number; hash: string; hex: string };
      const raw = new Uint8Array(Buffer.from(hex, 'hex'));
      return { height, hash, raw, block: Block.fromHex(hex) };
    });
  return cached;
}

export const headerBytes = (b: RecordedBlock | Block): Uint8Array =>
  new Uint8Array('raw' in b ? b.raw.subarray(0, 80) : b.toBuffer(true));

/** Internal-order txid bytes of a display-order hex id. */
export const internal = (displayHex: string): Uint8Array => new Uint8Array(Buffer.from(displayHex, 'hex').reverse());
export const display = (internalBytes: Uint8Array): string => Buffer.from(internalBytes).reverse().toString('hex');

function writeVarint(out: number[], n: number): void {
  if (n < 0xfd) out.push(n);
  else if (n <= 0xffff) out.push(0xfd, n & 0xff, n >> 8);
  else out.push(0xfe, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24);
}

/**
 * What `gettxoutproof [txids] blockhash` returns: the header, then the partial merkle
 * tree of the block's txids with `matched` marked (Bitcoin Core's CPartialMerkleTree
 * constructor: depth first, a flag per node visited, a hash where the walk stops).
 */
export function txoutProof(block: Block, matched: readonly string[]): Uint8Array {
  const ids = block.transactions!.map((t) => new Uint8Array(t.getHash()));
  const match = block.transactions!.map((t) => matched.includes(t.getId()));
  const n = ids.length;
  const width = (h: number) => (n + (1 << h) - 1) >> h;
  const hashAt = (h: number, pos: number): Uint8Array => {
    if (h === 0) return ids[pos]!;
    const left = hashAt(h - 1, pos * 2);
    const right = pos * 2 + 1 < width(h - 1) ? hashAt(h - 1, pos * 2 + 1) : left;
    return sha256d(new Uint8Array([...left, ...right]));
  };
  const bits: boolean[] = [];
  const hashes: Uint8Array[] = [];
  const build = (h: number, pos: number): void => {
    let parent = false;
    for (let p = pos << h; p < (pos + 1) << h && p < n; p++) parent ||= match[p]!;
    bits.push(parent);
    if (h === 0 || !parent) hashes.push(hashAt(h, pos));
    else {
      build(h - 1, pos * 2);
      if (pos * 2 + 1 < width(h - 1)) build(h - 1, pos * 2 + 1);
    }
  };
  let height = 0;
  while (width(height) > 1) height++;
  build(height, 0);
  const out: number[] = [...block.toBuffer(true)];
  out.push(n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24);
  writeVarint(out, hashes.length);
  for (const h of hashes) out.push(...h);
  const flags = new Array<number>((bits.length + 7) >> 3).fill(0);
  bits.forEach((b, i) => (flags[i >> 3]! |= b ? 1 << (i & 7) : 0));
  writeVarint(out, flags.length);
  out.push(...flags);
  return new Uint8Array(out);
}

/**
 * A block of a competing branch: `template`'s transactions (its coinbase made unique by
 * `salt`) on top of `parentHash` (display hex), with a nonce ground until the hash meets
 * the template's target, as regtest mining does.
 */
export function branchBlock(template: Block, parentHash: string, salt: number, extraTxs: readonly Transaction[] = []): Block {
  const coinbase = template.transactions![0]!.clone();
  coinbase.ins[0]!.script = new Uint8Array([...coinbase.ins[0]!.script, 0x01, salt & 0xff]);
  const block = new Block();
  block.version = template.version;
  block.prevHash = new Uint8Array(internal(parentHash));
  block.timestamp = template.timestamp + 1;
  block.bits = template.bits;
  block.transactions = [coinbase, ...template.transactions!.slice(1), ...extraTxs];
  block.merkleRoot = Block.calculateMerkleRoot(block.transactions);
  for (block.nonce = 0; !block.checkProofOfWork(); block.nonce++);
  return block;
}

/**
 * Header `b` (a recorded block) with fields changed and the nonce ground until its proof of
 * work is as `powOk` says (bitcoinjs-lib's checkProofOfWork): a bad input a test shows the device.
 */
export function forged(b: Block, change: (x: Block) => void, powOk: boolean): Uint8Array {
  const x = Block.fromBuffer(b.toBuffer(true));
  change(x);
  for (x.nonce = 0; x.checkProofOfWork() !== powOk; x.nonce++);
  return headerBytes(x);
}

/** One recorded broker-log exchange (test/fixtures/chain/session-lN.jsonl). */
export interface RecordedExchange {
  readonly id: bigint;
  /** Unix ms the broker received it. */
  readonly at: number;
  readonly client: { readonly peer: Uint8Array; readonly dbid: bigint; readonly permissions: bigint };
  readonly message: Uint8Array;
  /** The reply as the event codec encodes it (signer/event-codec.ts encodeReply). */
  readonly reply: Uint8Array;
}

export function recordedSession(node: 'l1' | 'l2'): { exchanges: RecordedExchange[]; hsmSecret: Uint8Array } {
  const exchanges = readFileSync(fixturePath(`chain/session-${node}.jsonl`), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const r = JSON.parse(line) as Record<string, string | number>;
      const bytes = (k: string) => new Uint8Array(Buffer.from(r[k] as string, 'hex'));
      return {
        id: BigInt(r.id!),
        at: r.at as number,
        client: { peer: bytes('peer'), dbid: BigInt(r.dbid!), permissions: BigInt(r.perms!) },
        message: bytes('req'),
        reply: bytes('reply'),
      };
    });
  return { exchanges, hsmSecret: new Uint8Array(readFileSync(fixturePath(`chain/hsm_secret-${node}`))) };
}

/** A funding outpoint of a recorded session, and where (found by bitcoinjs-lib) it is mined and spent. */
export interface SessionFunding {
  /** signer/chain/view.ts outpointKey. */
  readonly key: string;
  /** Display order. */
  readonly txid: string;
  readonly vout: number;
  readonly mined: number;
  readonly spent: number;
}

/** The funding outpoints of node `node`'s setup_channel requests, with their heights in the recorded chain. */
export function sessionFundings(node: 'l1' | 'l2'): SessionFunding[] {
  const chain = recordedChain();
  const funded = new Map<string, SessionFunding>();
  for (const ex of recordedSession(node).exchanges) {
    const m = decodeMessage(ex.message);
    if (m.name !== 'hsmd_setup_channel') continue;
    const txid = display(m.funding_txid);
    const vout = m.funding_txout;
    const mined = chain.find((b) => b.block.transactions!.some((t) => t.getId() === txid))!.height;
    const spent = chain.find((b) => b.block.transactions!.some((t) => t.ins.some((i) => display(new Uint8Array(i.hash)) === txid && i.index === vout)))!.height;
    funded.set(outpointKey(m.funding_txid, vout), { key: outpointKey(m.funding_txid, vout), txid, vout, mined, spent });
  }
  return [...funded.values()];
}
