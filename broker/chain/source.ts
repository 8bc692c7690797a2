/**
 * Where the chain comes from (docs/chain.md "Configuration"): bitcoind's RPC endpoint and
 * credentials, from, in order:
 * 1. SPHINX_BITCOIND_URL with SPHINX_BITCOIND_USER/SPHINX_BITCOIND_PASSWORD or
 *    SPHINX_BITCOIND_COOKIE (environment or sphinx.conf);
 * 2. the options lightningd itself was given for bitcoind (lightningd passes none to
 *    hsmd): its command line (/proc/<parent>/cmdline), then the config files of its
 *    lightning-dir (`config`, then `<network>/config`): bitcoin-rpcconnect, bitcoin-rpcport,
 *    bitcoin-rpcuser, bitcoin-rpcpassword, bitcoin-datadir (for the cookie), network;
 * 3. bitcoind's default cookie (~/.bitcoin/<network>/.cookie) when it exists.
 * Nothing found, or SPHINX_CHAIN=off: chain tracking is off, and the log says why.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { BitcoindEndpoint } from './bitcoind-rpc.js';

export interface ChainSource {
  readonly endpoint: BitcoindEndpoint;
  readonly pollMs: number;
  /** Where the settings came from, for the log. */
  readonly origin: string;
}

export type ChainSourceChoice = { readonly source: ChainSource } | { readonly off: string };

export interface ChainSourceSettings {
  readonly SPHINX_CHAIN?: string;
  readonly SPHINX_BITCOIND_URL?: string;
  readonly SPHINX_BITCOIND_USER?: string;
  readonly SPHINX_BITCOIND_PASSWORD?: string;
  readonly SPHINX_BITCOIND_COOKIE?: string;
  readonly SPHINX_BITCOIND_POLL_MS?: string;
}

export class ChainSourceError extends Error {
  override readonly name = 'ChainSourceError';
}

const NETWORKS: Readonly<Record<string, { port: number; subdir: string }>> = {
  bitcoin: { port: 8332, subdir: '' },
  testnet: { port: 18332, subdir: 'testnet3' },
  signet: { port: 38332, subdir: 'signet' },
  regtest: { port: 18443, subdir: 'regtest' },
};

/** Where lightningd runs hsmd: its network directory, inside lightning-dir. */
export interface LightningdContext {
  readonly cwd: string;
  /** lightningd's arguments (from /proc/<ppid>/cmdline), if readable. */
  readonly args: readonly string[];
  readonly home: string;
}

export function lightningdContext(): LightningdContext {
  let args: string[] = [];
  try {
    args = readFileSync(`/proc/${process.ppid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(1);
  } catch {
    // not Linux, or not readable: the config files may still say
  }
  return { cwd: process.cwd(), args, home: homedir() };
}

/** lightningd options as key → value from `--key=value`, `--key value` and `--flag` arguments. */
function optionsOfArgs(args: readonly string[]): Map<string, string> {
  const options = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) options.set(a.slice(2, eq), a.slice(eq + 1));
    else if (args[i + 1] !== undefined && !args[i + 1]!.startsWith('--') && a.startsWith('--bitcoin-')) options.set(a.slice(2), args[++i]!);
    else options.set(a.slice(2), '');
  }
  return options;
}

/** `key=value` lines of a lightningd config file (comments and flags as CLN reads them). */
function optionsOfFile(path: string): Map<string, string> {
  const options = new Map<string, string>();
  if (!existsSync(path)) return options;
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    options.set(eq < 0 ? line : line.slice(0, eq).trim(), eq < 0 ? '' : line.slice(eq + 1).trim());
  }
  return options;
}

function networkOf(options: ReadonlyMap<string, string>, cwd: string): string {
  const named = options.get('network');
  if (named) return named === 'mainnet' ? 'bitcoin' : named;
  for (const flag of ['regtest', 'testnet', 'signet']) if (options.has(flag)) return flag;
  if (options.has('mainnet')) return 'bitcoin';
  const dir = basename(cwd);
  return dir in NETWORKS ? dir : 'bitcoin';
}

export function chainSourceOf(s: ChainSourceSettings, ctx: LightningdContext = lightningdContext()): ChainSourceChoice {
  if (s.SPHINX_CHAIN === 'off') return { off: 'SPHINX_CHAIN=off' };
  if (s.SPHINX_CHAIN && s.SPHINX_CHAIN !== 'on') throw new ChainSourceError(`SPHINX_CHAIN=${s.SPHINX_CHAIN}: expected on (the default: follow bitcoind when it can be found) or off`);
  // Empty (`SPHINX_BITCOIND_POLL_MS=` in sphinx.conf) is the default, as for every setting (broker/config.ts int).
  const pollText = s.SPHINX_BITCOIND_POLL_MS || '2000';
  const pollMs = Number(pollText);
  if (!/^\d+$/.test(pollText) || !Number.isSafeInteger(pollMs) || pollMs < 10) throw new ChainSourceError(`SPHINX_BITCOIND_POLL_MS=${s.SPHINX_BITCOIND_POLL_MS}: expected milliseconds between polls (at least 10; default 2000)`);

  if (s.SPHINX_BITCOIND_URL) {
    const url = s.SPHINX_BITCOIND_URL;
    if (!/^https?:\/\/[^/]+/.test(url)) throw new ChainSourceError(`SPHINX_BITCOIND_URL=${url}: expected http://host:port (bitcoind's RPC address)`);
    if (s.SPHINX_BITCOIND_COOKIE) return { source: { endpoint: { url, auth: { cookieFile: resolve(s.SPHINX_BITCOIND_COOKIE) } }, pollMs, origin: 'SPHINX_BITCOIND_URL and SPHINX_BITCOIND_COOKIE' } };
    if (s.SPHINX_BITCOIND_USER === undefined || s.SPHINX_BITCOIND_PASSWORD === undefined) {
      throw new ChainSourceError('SPHINX_BITCOIND_URL needs credentials: SPHINX_BITCOIND_COOKIE (bitcoind\'s .cookie file) or SPHINX_BITCOIND_USER and SPHINX_BITCOIND_PASSWORD');
    }
    return { source: { endpoint: { url, auth: { user: s.SPHINX_BITCOIND_USER, password: s.SPHINX_BITCOIND_PASSWORD } }, pollMs, origin: 'SPHINX_BITCOIND_URL' } };
  }

  // lightningd's own view: command line first, then lightning-dir/config, lightning-dir/<network>/config.
  const argOptions = optionsOfArgs(ctx.args);
  const network0 = networkOf(argOptions, ctx.cwd);
  const lightningDir = argOptions.get('lightning-dir') ?? (basename(ctx.cwd) === network0 ? dirname(ctx.cwd) : ctx.cwd);
  const files = [join(lightningDir, 'config'), join(lightningDir, network0, 'config'), ...(argOptions.get('conf') ? [resolve(argOptions.get('conf')!)] : [])];
  const options = new Map<string, string>();
  for (const f of files) for (const [k, v] of optionsOfFile(f)) options.set(k, v);
  for (const [k, v] of argOptions) options.set(k, v);
  const network = networkOf(options, ctx.cwd);
  const params = NETWORKS[network];
  if (!params) return { off: `lightningd's network ${network} is not one bitcoind serves` };
  const host = options.get('bitcoin-rpcconnect') || '127.0.0.1';
  const url = `http://${host}:${options.get('bitcoin-rpcport') || params.port}/`;
  const where = `lightningd's options (${ctx.args.length > 0 ? 'command line, ' : ''}${files.filter(existsSync).join(', ') || 'no config file'})`;
  const user = options.get('bitcoin-rpcuser');
  const password = options.get('bitcoin-rpcpassword');
  if (user !== undefined && password !== undefined) return { source: { endpoint: { url, auth: { user, password } }, pollMs, origin: where } };
  const datadir = options.get('bitcoin-datadir') ?? join(ctx.home, '.bitcoin');
  const cookieFile = join(datadir, params.subdir, '.cookie');
  if (options.has('bitcoin-datadir') || existsSync(cookieFile)) return { source: { endpoint: { url, auth: { cookieFile } }, pollMs, origin: `${where}, cookie ${cookieFile}` } };
  return { off: `no SPHINX_BITCOIND_URL, no bitcoin-rpcuser/bitcoin-rpcpassword or bitcoin-datadir in ${where}, and no ${cookieFile}` };
}
