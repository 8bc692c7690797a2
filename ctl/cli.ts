/**
 * bin/sphinx-ctl: the owner's signed control of a device, through the broker's status page
 * (POST /control, docs/remote-protocol.md "Control"). Commands are signed with the owner's
 * key (never the node's) and a nonce that strictly increases (microseconds of the clock by
 * default); the device's answer must be signed by the device's key and name the command,
 * else it is rejected: the broker in between can neither forge nor replay.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageVersion } from '../node/package-version.js';
import { fromHex, toHex } from '../signer/bytes.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import { commandBody, type CommandName } from '../signer/control/commands.js';
import { bodyObject, ControlError, openMessage, signedDigest, signMessage } from '../signer/control/wire.js';

const USAGE = `usage:
  sphinx-ctl keygen --key FILE
      create the owner's key in FILE (mode 0600) and print its public key: provision the device
      with it (write it to owner.pub in the device's data directory, then restart the device)
  sphinx-ctl --help | --version
  sphinx-ctl [options] COMMAND
      status                               the device's policy, velocity used, pending approvals
      policy set KEY=VALUE...              e.g. maxChannelValueSat=1000000 warnOnly=policy-htlc-count
      policy set --file FILE               settings from a JSON object (as the device's policy.json)
      allowlist add ADDRESS...             addresses in the network's format (bc1…, bcrt1…, 1…, 3…, m…, 2…) or hex scripts
      allowlist remove ADDRESS...
      limits set [--sat N] [--window SECONDS] [--payee NODE_ID]...
                                           payment velocity: N sat per window; payees paid beyond it
      approve PAYMENT_HASH|INVOICE         let one payment above the velocity limit through
      sign COMMAND...                      print the signed command instead of sending it
      send FILE                            send a command printed by sign
options:
  --key FILE         the owner's private key (sphinx-ctl keygen)            (SPHINX_CTL_KEY)
  --device ID        the device's id: its node id, which sphinx-signer prints (SPHINX_CTL_DEVICE)
  --broker URL       the broker's status page, default http://127.0.0.1:8735/ (SPHINX_CTL_BROKER)
  --broker-dir DIR   or: the broker's SPHINX_DATA_DIR, whose status-url names it
  --nonce N          the command's nonce (default: the clock in microseconds; must exceed the last one)
exit status: 0 accepted, 1 refused by the device or an answer that does not verify, 2 usage or connection errors`;

class UsageError extends Error {}

interface Options {
  key?: string;
  device?: string;
  broker?: string;
  brokerDir?: string;
  nonce?: string;
  file?: string;
  sat?: string;
  window?: string;
  payees: string[];
  rest: string[];
}

function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv): Options {
  const o: Options = { key: env.SPHINX_CTL_KEY, device: env.SPHINX_CTL_DEVICE, broker: env.SPHINX_CTL_BROKER, payees: [], rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--key') o.key = value();
    else if (a === '--device') o.device = value();
    // On the command line the later of --broker and --broker-dir wins; either beats SPHINX_CTL_BROKER.
    else if (a === '--broker') [o.broker, o.brokerDir] = [value(), undefined];
    else if (a === '--broker-dir') [o.brokerDir, o.broker] = [value(), undefined];
    else if (a === '--nonce') o.nonce = value();
    else if (a === '--file') o.file = value();
    else if (a === '--sat') o.sat = value();
    else if (a === '--window') o.window = value();
    else if (a === '--payee') o.payees.push(value());
    else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
    else o.rest.push(a);
  }
  return o;
}

/** A file the user named, as text, or a usage error saying which and why. */
function readNamed(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** JSON text from a file the user named, or a usage error saying which and why. */
function parseNamed(text: string, path: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${what} ${path} is not JSON: ${(e as Error).message}`);
  }
}

function readKey(path: string | undefined): Uint8Array {
  if (!path) throw new UsageError('--key FILE is needed: the owner key (create one with sphinx-ctl keygen --key FILE)');
  if (!existsSync(path)) throw new UsageError(`no key file ${path}: create one with sphinx-ctl keygen --key ${path}`);
  const hex = readNamed(path, 'owner key').trim();
  if (!/^[0-9a-f]{64}$/.test(hex) || !nobleCurve.isPrivateKey(fromHex(hex))) throw new UsageError(`${path} does not hold a private key (64 hex digits)`);
  return fromHex(hex);
}

/** A setting's value from KEY=VALUE: JSON if it parses (numbers, lists), a comma list for list keys, else the text. */
function settingValue(key: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return ['warnOnly', 'off', 'allowlist', 'payeeAllowlist'].includes(key) ? text.split(',').filter(Boolean) : text;
  }
}

/** The command and its arguments from the words after the options. */
function commandOf(words: readonly string[], o: Options): { command: CommandName; args: Record<string, unknown> } {
  const [first, second, ...rest] = words;
  const phrase = `${first ?? ''} ${second ?? ''}`.trim();
  if (first === 'status' && words.length === 1) return { command: 'status', args: {} };
  if (phrase === 'policy set') {
    if (o.file) return { command: 'policy-set', args: { settings: parseNamed(readNamed(o.file, 'policy file'), o.file, 'policy file') } };
    if (rest.length === 0) throw new UsageError('policy set needs KEY=VALUE settings or --file FILE');
    const settings: Record<string, unknown> = {};
    for (const kv of rest) {
      const eq = kv.indexOf('=');
      if (eq < 1) throw new UsageError(`policy set: ${JSON.stringify(kv)} is not KEY=VALUE`);
      settings[kv.slice(0, eq)] = settingValue(kv.slice(0, eq), kv.slice(eq + 1));
    }
    return { command: 'policy-set', args: { settings } };
  }
  if (phrase === 'allowlist add' || phrase === 'allowlist remove') {
    if (rest.length === 0) throw new UsageError(`${phrase} needs one or more addresses`);
    return { command: phrase === 'allowlist add' ? 'allowlist-add' : 'allowlist-remove', args: { entries: rest } };
  }
  if (phrase === 'limits set') {
    const args: Record<string, unknown> = {};
    if (o.sat !== undefined) args.velocityLimitSat = o.sat;
    // Not a whole number: sent as typed, so the device's refusal quotes it.
    if (o.window !== undefined) args.velocityWindowSec = /^\d+$/.test(o.window) ? Number(o.window) : o.window;
    if (o.payees.length > 0) args.payeeAllowlist = o.payees;
    if (Object.keys(args).length === 0) throw new UsageError('limits set needs --sat N, --window SECONDS or --payee NODE_ID');
    return { command: 'limits-set', args };
  }
  if (first === 'approve' && words.length === 2) {
    if (/^[0-9a-f]{64}$/i.test(second!)) return { command: 'approve', args: { paymentHash: second!.toLowerCase() } };
    if (/^[0-9a-f]+$/i.test(second!)) throw new UsageError(`approve: ${second} is neither a payment hash (64 hex digits) nor an invoice`);
    return { command: 'approve', args: { invoice: second } };
  }
  throw new UsageError(`unknown command ${JSON.stringify(words.join(' '))}`);
}

function brokerUrl(o: Options): string {
  if (o.broker) return o.broker;
  if (o.brokerDir) {
    const file = join(o.brokerDir, 'status-url');
    if (!existsSync(file)) throw new UsageError(`no ${file}: is the broker running with its status page (SPHINX_HTTP_PORT not 0)?`);
    return readFileSync(file, 'utf8').trim();
  }
  return 'http://127.0.0.1:8735/';
}

function controlUrl(o: Options): string {
  const base = brokerUrl(o);
  let url: URL;
  try {
    url = new URL('control', base);
  } catch {
    throw new UsageError(`${JSON.stringify(base)} is not a URL: give the broker's status page, e.g. --broker http://127.0.0.1:8735/`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`${base} is not the broker's status page: --broker takes its http:// URL (SPHINX_DATA_DIR/status-url), not the MQTT address`);
  return url.toString();
}

export interface CtlIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

/** Runs sphinx-ctl; the exit status. */
export async function runCtl(argv: readonly string[], io: CtlIo): Promise<number> {
  try {
    if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
      io.out(USAGE);
      return argv.length === 0 ? 2 : 0;
    }
    if (argv.includes('--version')) {
      io.out(`sphinx-ctl ${packageVersion()}`);
      return 0;
    }
    const o = parseArgs(argv, io.env);
    if (o.rest[0] === 'keygen') {
      if (!o.key) throw new UsageError('keygen needs --key FILE: where to write the new key');
      if (existsSync(o.key)) throw new UsageError(`${o.key} exists: not overwriting an owner key`);
      let priv: Uint8Array;
      do priv = new Uint8Array(randomBytes(32));
      while (!nobleCurve.isPrivateKey(priv));
      try {
        writeFileSync(o.key, toHex(priv) + '\n', { mode: 0o600 });
      } catch (e) {
        throw new UsageError(`cannot write ${o.key}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      io.out(toHex(nobleCurve.publicKey(priv)));
      return 0;
    }
    const key = readKey(o.key);
    const device = o.device?.toLowerCase();
    if (!device) throw new UsageError('--device ID is needed: the device id (its node id, 66 hex digits) that sphinx-signer prints at start');
    if (!/^0[23][0-9a-f]{64}$/.test(device)) throw new UsageError(`--device ${o.device} is not a node id (66 hex digits starting 02 or 03): give the id sphinx-signer prints at start`);
    let payload: Uint8Array;
    let body: string;
    if (o.rest[0] === 'send') {
      if (o.rest.length !== 2) throw new UsageError('send needs FILE: a command printed by sphinx-ctl sign');
      const text = readNamed(o.rest[1]!, 'signed command');
      const signed = parseNamed(text, o.rest[1]!, 'signed command') as { body?: unknown } | null;
      if (typeof signed?.body !== 'string') throw new UsageError(`${o.rest[1]} is not a command printed by sphinx-ctl sign`);
      payload = new TextEncoder().encode(text);
      body = signed.body;
    } else {
      const sign = o.rest[0] === 'sign';
      const { command, args } = commandOf(sign ? o.rest.slice(1) : o.rest, o);
      if (o.nonce !== undefined && !/^\d+$/.test(o.nonce)) throw new UsageError(`--nonce ${o.nonce} is not a whole number`);
      const nonce = o.nonce !== undefined ? BigInt(o.nonce) : BigInt(Date.now()) * 1000n + BigInt(process.hrtime.bigint() % 1000n);
      body = commandBody({ device, nonce, command, args });
      payload = signMessage(nobleCurve, key, 'command', body);
      if (sign) {
        io.out(new TextDecoder().decode(payload));
        return 0;
      }
    }
    const request = toHex(signedDigest('command', body));
    const answer = await post(controlUrl(o), payload);
    return verifyAnswer(answer, device, request, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`sphinx-ctl: ${e.message}\n(sphinx-ctl --help)`);
      return 2;
    }
    if (e instanceof ConnectionError) {
      io.err(`sphinx-ctl: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

class ConnectionError extends Error {}

async function post(url: string, payload: Uint8Array): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', body: payload, headers: { 'content-type': 'application/json' } });
  } catch (e) {
    throw new ConnectionError(`cannot reach the broker at ${url}: ${(e as Error).cause ?? (e as Error).message} (is sphinx-hsmd running with its status page? --broker URL)`);
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200) throw new ConnectionError(`the broker answered ${res.status}: ${new TextDecoder().decode(bytes).trim()}`);
  return bytes;
}

/** Checks the device's signature and that the answer is to this command; prints the result. */
export function verifyAnswer(answer: Uint8Array, device: string, request: string, io: Pick<CtlIo, 'out' | 'err'>): number {
  let body: Record<string, unknown>;
  try {
    body = bodyObject(openMessage(nobleCurve, answer, 'response', device).body);
  } catch (e) {
    if (!(e instanceof ControlError)) throw e;
    io.err(`sphinx-ctl: the answer does not verify (${e.refusal}: ${e.message}); it did not come from device ${device}, do not trust it`);
    return 1;
  }
  if (body.device !== device || body.request !== request) {
    io.err(`sphinx-ctl: the answer is signed by the device but for another command (request ${String(body.request)}, sent ${request}): a replayed answer, ignored`);
    return 1;
  }
  if (body.ok !== true) {
    const hint = body.refusal === 'wrong-key'
      ? ": --key is not the owner key this device was provisioned with; use that one, or put this key's public key (sphinx-ctl keygen printed it) in the device's owner.pub and restart the device"
      : '';
    io.err(`sphinx-ctl: refused by the device (${String(body.refusal)}): ${String(body.error)}${hint}`);
    return 1;
  }
  io.out(JSON.stringify(body.result, null, 2));
  return 0;
}

/** The bin/sphinx-ctl entry point. */
export async function main(argv: readonly string[]): Promise<void> {
  process.exitCode = await runCtl(argv, {
    out: (t) => process.stdout.write(t + '\n'),
    err: (t) => process.stderr.write(t + '\n'),
    env: process.env,
  });
}

