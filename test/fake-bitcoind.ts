/**
 * A JSON-RPC server that answers as bitcoind does (legacy JSON-RPC 1.0 over HTTP with basic
 * auth: HTTP 401 without the right credentials, errors as {result: null, error: {code,
 * message}} with HTTP 500, or 404 for an unknown method) from the recorded regtest blocks.
 * The test moves its tip block by block, replaces blocks (a reorg), and takes it down and
 * up again on the same port. Only the calls the chain follower makes are served.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Block } from 'bitcoinjs-lib';
import { recordedChain, txoutProof } from './recorded-chain.js';

type RpcResult = { result: unknown } | { error: { code: number; message: string }; status?: number };

export class FakeBitcoind {
  /** The active chain, by height. */
  blocks: Block[];
  tip: number;
  calls = 0;
  #server: Server;
  #port = 0;

  private constructor(readonly user: string, readonly password: string, tip: number) {
    this.blocks = recordedChain().map((b) => b.block);
    this.tip = tip;
    this.#server = this.#makeServer();
  }

  static async start(options: { tip: number; user?: string; password?: string }): Promise<FakeBitcoind> {
    const f = new FakeBitcoind(options.user ?? 'rpcuser', options.password ?? 'rpcpass', options.tip);
    await f.#listen(0);
    return f;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/`;
  }

  /** Replaces the blocks from `height` on with `branch` (its tip becomes the tip). */
  reorg(height: number, branch: readonly Block[]): void {
    this.blocks = [...this.blocks.slice(0, height), ...branch];
    this.tip = height + branch.length - 1;
  }

  async down(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
  }

  async up(): Promise<void> {
    this.#server = this.#makeServer();
    await this.#listen(this.#port);
  }

  stop = (): Promise<void> => this.down();

  #listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => {
        this.#port = (this.#server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  #makeServer(): Server {
    return createServer((req, res) => {
      const expected = `Basic ${Buffer.from(`${this.user}:${this.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="jsonrpc"' }).end();
        return;
      }
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        let id: unknown = null;
        let out: RpcResult;
        try {
          const call = JSON.parse(body) as { id: unknown; method: string; params?: unknown[] };
          id = call.id;
          this.calls++;
          out = this.#answer(call.method, call.params ?? []);
        } catch {
          out = { error: { code: -32700, message: 'Parse error' } };
        }
        const status = 'error' in out ? (out.status ?? 500) : 200;
        const payload = 'error' in out ? { result: null, error: out.error, id } : { result: out.result, error: null, id };
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
      });
    });
  }

  #ids = new WeakMap<Block, { hash: string; txids: string[]; spends: string[] }>();

  /** A block's hash, txids and spent outpoints ("txid:vout"), computed once per block. */
  #idsOf(b: Block) {
    let ids = this.#ids.get(b);
    if (!ids) {
      const txs = b.transactions!;
      ids = { hash: b.getId(), txids: txs.map((t) => t.getId()), spends: txs.flatMap((t) => t.ins.map((i) => `${Buffer.from(i.hash).reverse().toString('hex')}:${i.index}`)) };
      this.#ids.set(b, ids);
    }
    return ids;
  }

  #active = (): Block[] => this.blocks.slice(0, this.tip + 1);

  #byHash(hash: unknown): { block: Block; height: number } | undefined {
    const height = this.#active().findIndex((b) => this.#idsOf(b).hash === hash);
    return height < 0 ? undefined : { block: this.blocks[height]!, height };
  }

  #answer(method: string, params: unknown[]): RpcResult {
    const notFound = { error: { code: -5, message: 'Block not found' } };
    switch (method) {
      case 'getblockcount':
        return { result: this.tip };
      case 'getbestblockhash':
        return { result: this.blocks[this.tip]!.getId() };
      case 'getblockchaininfo':
        return { result: { chain: 'regtest', blocks: this.tip, headers: this.tip, bestblockhash: this.blocks[this.tip]!.getId() } };
      case 'getblockhash': {
        const h = params[0];
        if (typeof h !== 'number' || h < 0 || h > this.tip) return { error: { code: -8, message: 'Block height out of range' } };
        return { result: this.#idsOf(this.blocks[h]!).hash };
      }
      case 'getblockheader': {
        const found = this.#byHash(params[0]);
        if (!found) return notFound;
        if (params[1] === false) return { result: found.block.toHex(true) };
        return { result: { hash: found.block.getId(), height: found.height, confirmations: this.tip - found.height + 1 } };
      }
      case 'getblock': {
        const found = this.#byHash(params[0]);
        if (!found) return notFound;
        if (params[1] !== 0) return { error: { code: -8, message: 'this test server serves verbosity 0 only' } };
        return { result: found.block.toHex() };
      }
      case 'gettxoutproof': {
        const [txids, blockhash] = params as [string[], string];
        const found = this.#byHash(blockhash);
        if (!found) return notFound;
        const ids = this.#idsOf(found.block).txids;
        if (!txids.every((t) => ids.includes(t))) return { error: { code: -5, message: 'Not all transactions found in specified or retrieved block' } };
        return { result: Buffer.from(txoutProof(found.block, txids)).toString('hex') };
      }
      case 'gettxout': {
        const [txid, vout] = params as [string, number];
        const active = this.#active();
        const height = active.findIndex((b) => this.#idsOf(b).txids.includes(txid));
        if (height < 0) return { result: null };
        const spent = active.some((b) => this.#idsOf(b).spends.includes(`${txid}:${vout}`));
        const out = active[height]!.transactions![this.#idsOf(active[height]!).txids.indexOf(txid)]!.outs[vout];
        if (spent || !out) return { result: null };
        return { result: { bestblock: active[this.tip]!.getId(), confirmations: this.tip - height + 1, value: Number(out.value) / 1e8 } };
      }
      default:
        return { error: { code: -32601, message: 'Method not found' }, status: 404 };
    }
  }
}
