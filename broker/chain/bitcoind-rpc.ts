/**
 * A small JSON-RPC client for bitcoind (fetch, HTTP basic auth), with the few calls the
 * chain follower makes. Auth is a user/password or the cookie file bitcoind writes at
 * start; the cookie is read again after a 401 (bitcoind writes a new one each start).
 * Errors: RpcError (bitcoind answered with an error object), BitcoindUnreachable (no
 * answer, or not a JSON-RPC one), each naming the URL and what to check.
 */
import { readFileSync } from 'node:fs';

export type RpcAuth = { readonly user: string; readonly password: string } | { readonly cookieFile: string };

export interface BitcoindEndpoint {
  readonly url: string;
  readonly auth: RpcAuth;
}

export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(readonly method: string, readonly code: number, message: string) {
    super(`bitcoind ${method}: ${message} (code ${code})`);
  }
}

export class BitcoindUnreachable extends Error {
  override readonly name = 'BitcoindUnreachable';
}

/** RPC_INVALID_PARAMETER (out of range) and RPC_INVALID_ADDRESS_OR_KEY (not found), rpc/protocol.h. */
export const RPC_INVALID_PARAMETER = -8;
export const RPC_INVALID_ADDRESS_OR_KEY = -5;

export class BitcoindRpc {
  #id = 0;
  #authHeader: string | undefined;

  constructor(readonly endpoint: BitcoindEndpoint) {}

  #credentials(): string {
    const { auth } = this.endpoint;
    if ('user' in auth) return `${auth.user}:${auth.password}`;
    try {
      return readFileSync(auth.cookieFile, 'utf8').trim();
    } catch (e) {
      throw new BitcoindUnreachable(`cannot read bitcoind's cookie file ${auth.cookieFile} (${(e as Error).message}): is bitcoind running with that datadir?`);
    }
  }

  async call<T>(method: string, params: readonly unknown[] = []): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      this.#authHeader ??= `Basic ${Buffer.from(this.#credentials()).toString('base64')}`;
      let response: Response;
      try {
        response = await fetch(this.endpoint.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: this.#authHeader },
          body: JSON.stringify({ jsonrpc: '1.0', id: ++this.#id, method, params }),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (e) {
        const cause = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
        throw new BitcoindUnreachable(`bitcoind at ${this.endpoint.url} does not answer ${method} (${cause})`);
      }
      if (response.status === 401) {
        this.#authHeader = undefined; // a restarted bitcoind wrote a new cookie
        if (attempt === 0 && 'cookieFile' in this.endpoint.auth) continue;
        throw new BitcoindUnreachable(`bitcoind at ${this.endpoint.url} refused our credentials (HTTP 401): check SPHINX_BITCOIND_USER/PASSWORD or the cookie file`);
      }
      let body: { result?: T; error?: { code: number; message: string } | null };
      try {
        body = (await response.json()) as typeof body;
      } catch {
        throw new BitcoindUnreachable(`bitcoind at ${this.endpoint.url} answered ${method} with HTTP ${response.status} and no JSON-RPC body: is that bitcoind's RPC port?`);
      }
      if (body.error) throw new RpcError(method, body.error.code, body.error.message);
      return body.result as T;
    }
  }

  getBestBlockHash = (): Promise<string> => this.call('getbestblockhash');
  getBlockHash = (height: number): Promise<string> => this.call('getblockhash', [height]);
  getBlockCount = (): Promise<number> => this.call('getblockcount');
  getBlockchainInfo = (): Promise<{ chain: string; blocks: number; bestblockhash: string }> => this.call('getblockchaininfo');
  /** The 80-byte header, hex. */
  getBlockHeaderHex = (hash: string): Promise<string> => this.call('getblockheader', [hash, false]);
  /** The raw block, hex. */
  getBlockHex = (hash: string): Promise<string> => this.call('getblock', [hash, 0]);
  getTxOutProof = (txids: readonly string[], blockHash: string): Promise<string> => this.call('gettxoutproof', [txids, blockHash]);
  /** The unspent output, or null when it is spent or unknown. */
  getTxOut = (txid: string, vout: number): Promise<{ confirmations: number; bestblock: string } | null> => this.call('gettxout', [txid, vout, false]);
}
