/**
 * Configuration: `SPHINX_*` settings from the environment and from `sphinx.conf` in the
 * working directory (under lightningd: the network directory). The environment wins.
 * `sphinx.conf` holds `KEY=value` lines with the same keys (values may be quoted, see
 * parseConfLine); `#` at the start of a line or after a space starts a comment.
 * Every mistake is an error that names the key and says what would be accepted.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fromHex } from '../signer/bytes.js';
import { parseDecimalU64 } from '../signer/remote/decimal-u64.js';
import { isPolicyName, POLICIES, type PolicyName } from '../signer/policy/catalog.js';
import { chainSourceOf, ChainSourceError, type ChainSourceChoice } from './chain/source.js';
import { LOCAL_POLICY as DEFAULT_POLICY, type PolicyConfig } from '../signer/policy/policy.js';

export const CONFIG_FILE = 'sphinx.conf';

/** SPHINX_WARM_UP_MS's default: about 5,000 echoes on a machine where broker and device share it (docs/performance.md "Warm start"). */
export const DEFAULT_WARM_UP_MS = 1000;

/** Settings keys, with what each means (for --help and for typo detection). */
export const SETTINGS = {
  SPHINX_SIGNER: 'where signing happens: remote (default: a device over MQTT) or local (in this process)',
  SPHINX_DATA_DIR: "the state directory (default ./sphinx, in lightningd's network directory): broker log, broker-id, pinned-devices; the local signer's journal",
  SPHINX_MQTT_PORT: 'remote: port of the embedded MQTT server\'s plain listener. Default 1883, or a free port when 1883 is taken (a second node on the machine; logged UNUSUAL), and then that port again at the next start while it is free; the device URLs are written to SPHINX_DATA_DIR/mqtt-url. A port set here that is taken stops the broker',
  SPHINX_MQTT_HOST: 'remote: address of the plain listener (default 127.0.0.1). Plain MQTT carries device tokens and every request in the clear: an address beyond loopback needs SPHINX_MQTT_PLAIN_REMOTE=1; devices on the network should use TLS',
  SPHINX_MQTT_PLAIN_REMOTE: 'remote: 1 to allow SPHINX_MQTT_HOST beyond loopback (plain MQTT on the network)',
  SPHINX_MQTT_URL: 'remote: mqtt://host:port or mqtts://host:port of an external MQTT server to use instead of the embedded one (it then does device auth and ACLs)',
  SPHINX_MQTT_CA: "remote, with an mqtts:// SPHINX_MQTT_URL: PEM file of the CA that signed the external server's certificate (default: the system's CAs)",
  SPHINX_DEVICE_KEYS: 'remote: comma-separated hex public keys (node ids) of the devices allowed to connect; with none, the first device that authenticates is pinned in SPHINX_DATA_DIR/pinned-devices',
  SPHINX_ACCEPT_DEVICE_ROLLBACK: `remote: DEVICE_ID:LAST_ID: accept that device although its journal ends at LAST_ID, below what the broker log shows answered (it lost its journal; it may then sign from lost state: docs/broker-log.md "The operator's way out")`,
  SPHINX_ACCEPT_NEW_BROKER_LOG: `remote: 1 to start a new broker log although SPHINX_DATA_DIR shows one existed (it was deleted, or moved aside because it is damaged: docs/broker-log.md "The operator's way out")`,
  SPHINX_TLS_CERT: 'remote: PEM certificate file for the embedded server\'s TLS listener (with SPHINX_TLS_KEY)',
  SPHINX_TLS_KEY: 'remote: PEM private key file for the TLS listener',
  SPHINX_MQTT_TLS_PORT: 'remote: port of the TLS listener (with SPHINX_TLS_GENERATE=1, or SPHINX_TLS_CERT and SPHINX_TLS_KEY). Default 8883, or a free port when 8883 is taken, as SPHINX_MQTT_PORT',
  SPHINX_MQTT_TLS_HOST: 'remote: address of the TLS listener (default 0.0.0.0: every interface, for devices on Wi-Fi)',
  SPHINX_TLS_GENERATE: 'remote: 1 to make a private CA and a server certificate in SPHINX_DATA_DIR/tls on first start (kept; the server certificate is made again by the same CA when a name is missing) and open the TLS listener; the CA fingerprint is logged (sphinx-signer --ca or --ca-fingerprint)',
  SPHINX_TLS_NAMES: 'remote: extra host names and IP addresses, comma-separated, that devices use to reach this machine (the generated certificate always covers localhost, this host name and its addresses)',
  SPHINX_HTTP_PORT: 'port of the status page and JSON API (/, /api/status, /api/views); 0 turns it off. Default 8735, or a free port when 8735 is taken (a second node on the machine), and then that port again at the next start while it is free; the URL is written to SPHINX_DATA_DIR/status-url',
  SPHINX_HTTP_HOST: 'address the status page listens on (default 127.0.0.1; it is read-only but shows what was signed: keep it local)',
  SPHINX_CLN_VERSION: "the version to report; default: ask the parent lightningd ($(readlink /proc/$PPID/exe) --version)",
  SPHINX_LOG_STDERR: '1: also write every log line to stderr',
  SPHINX_POLICY_WARN_ONLY: 'local signer only: comma-separated policy names to demote to logged warnings (default: none; all enforced)',
  SPHINX_POLICY_MIN_FEERATE: `local signer only: lowest feerate of commitments and of HTLC transactions without anchors, sat/kw (default ${DEFAULT_POLICY.minFeeratePerKw})`,
  SPHINX_POLICY_MAX_FEERATE: `local signer only: highest feerate, sat/kw (default ${DEFAULT_POLICY.maxFeeratePerKw})`,
  SPHINX_POLICY_MIN_TO_SELF_DELAY: `local signer only: shortest to_self_delay, blocks (default ${DEFAULT_POLICY.minToSelfDelay})`,
  SPHINX_POLICY_MAX_TO_SELF_DELAY: `local signer only: longest to_self_delay, blocks (default ${DEFAULT_POLICY.maxToSelfDelay})`,
  SPHINX_POLICY_MAX_HTLCS: `local signer only: most HTLCs on one commitment (default ${DEFAULT_POLICY.maxHtlcs})`,
  SPHINX_POLICY_MAX_HTLC_VALUE_SAT: `local signer only: most value in HTLCs on one commitment, sat (default ${DEFAULT_POLICY.maxHtlcValueSat})`,
  SPHINX_POLICY_MAX_CHANNEL_VALUE_SAT: `local signer only: largest channel, sat (default ${DEFAULT_POLICY.maxChannelValueSat})`,
  SPHINX_ACCEPT_JOURNAL_ROLLBACK: 'local: 1 to sign from a journal that ends below its high-water mark (deleted, cut back or restored from an older copy); only once the newest journal is lost for good',
  SPHINX_POLICY_ALLOWLIST: 'local signer only: comma-separated hex scriptPubKeys that closes and sweeps may also pay to',
  SPHINX_POLICY_MAX_HTLC_CLTV_DELTA: `local signer only: policy-htlc-cltv-range: blocks an HTLC may expire above the chain tip (default ${DEFAULT_POLICY.maxHtlcCltvDelta})`,
  SPHINX_POLICY_HTLC_EXPIRED_GRACE: `local signer only: policy-htlc-cltv-range: blocks an HTLC may have expired below the chain tip (default ${DEFAULT_POLICY.htlcExpiredGraceBlocks})`,
  SPHINX_POLICY_MIN_FORGET_DEPTH: `local signer only: policy-forget-channel-closed: depth the funding spend needs before forget_channel (default ${DEFAULT_POLICY.minForgetDepth})`,
  SPHINX_POLICY_MAX_UNCONFIRMED_HTLC_SAT: `local signer only: policy-funding-confirmed: HTLC value allowed before the funding is seen confirmed, sat (default ${DEFAULT_POLICY.maxUnconfirmedHtlcSat})`,
  SPHINX_WARM_UP_MS: 'remote: at most this many milliseconds the first hello of each device waits while the broker warms the MQTT path to it with echoes, so the first requests run at full speed (default 1000; 0 turns it off): docs/remote-protocol.md "Warm start"',
  SPHINX_CHAIN: 'remote: on (default: follow bitcoind when its RPC can be found, docs/chain.md) or off',
  SPHINX_BITCOIND_URL: "remote: bitcoind's RPC address, http://host:port (default: from lightningd's bitcoin-rpcconnect/bitcoin-rpcport options)",
  SPHINX_BITCOIND_USER: 'remote: bitcoind RPC user (default: lightningd\'s bitcoin-rpcuser)',
  SPHINX_BITCOIND_PASSWORD: 'remote: bitcoind RPC password (default: lightningd\'s bitcoin-rpcpassword)',
  SPHINX_BITCOIND_COOKIE: "remote: bitcoind's .cookie file (default: in lightningd's bitcoin-datadir, or ~/.bitcoin)",
  SPHINX_BITCOIND_POLL_MS: 'remote: milliseconds between polls of bitcoind (default 2000)',
} as const;

export type SettingKey = keyof typeof SETTINGS;
export type Settings = Partial<Record<SettingKey, string>>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * sphinx.conf (if present) overlaid with the environment's SPHINX_* variables. A key
 * sphinx.conf does not know is an error; an unknown SPHINX_* variable only a warning (the
 * environment is shared with other programs).
 */
export function loadSettings(
  env: NodeJS.ProcessEnv,
  dir: string = process.cwd(),
  warn: (text: string) => void = () => {},
): Settings {
  const settings: Settings = {};
  const path = join(dir, CONFIG_FILE);
  if (existsSync(path)) {
    readFileSync(path, 'utf8')
      .split('\n')
      .forEach((raw, i) => {
        const entry = parseConfLine(raw);
        if (entry === null) return;
        const where = `${path}:${i + 1}: "${raw.trim()}"`;
        if ('error' in entry) throw new ConfigError(`${where}: ${entry.error}`);
        if (!isSettingKey(entry.key)) throw new ConfigError(`${where}: ${unknownKey(entry.key)}`);
        settings[entry.key] = entry.value;
      });
  }
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith('SPHINX_') || value === undefined) continue;
    if (isSettingKey(key)) settings[key] = value;
    else warn(`ignoring unknown setting ${key} in the environment${didYouMean(key)} (sphinx-hsmd --help lists the settings)`);
  }
  return settings;
}

/** What is wrong with a sphinx.conf key that is not a setting (the caller points to --help). */
function unknownKey(key: string): string {
  if (/^export\s/.test(key)) return `write ${key.replace(/^export\s+/, '')}=… without "export"`;
  return `unknown key ${key}${didYouMean(key)}`;
}

/** ": did you mean K?" for the setting K within a few typos of `key` (case aside), else "". */
function didYouMean(key: string): string {
  let best: { key: SettingKey; distance: number } | undefined;
  for (const known of Object.keys(SETTINGS) as SettingKey[]) {
    const distance = editDistance(key.toUpperCase(), known);
    if (distance <= 3 && (!best || distance < best.distance)) best = { key: known, distance };
  }
  return best ? `: did you mean ${best.key}?` : '';
}

/** Levenshtein distance, with a swap of two neighbours counted as one edit. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

/**
 * One sphinx.conf line as an EnvironmentFile reader would take it (systemd, `set -a; . file`):
 * `KEY=value`, `KEY="value"` or `KEY='value'`; blank lines and `#` comments skipped. A quoted
 * value keeps `#` and spaces; in double quotes `\"` and `\\` escape. Null for no entry.
 */
export function parseConfLine(raw: string): { key: string; value: string } | { error: string } | null {
  const line = raw.trim();
  if (line === '' || line.startsWith('#')) return null;
  const eq = line.indexOf('=');
  if (eq < 0) return { error: 'expected KEY=value' };
  const key = line.slice(0, eq).trim();
  const rest = line.slice(eq + 1).trim();
  const quote = rest[0];
  // As the shell reads it: `#` starts a comment only after a space, so a password's `#` stays.
  if (quote !== '"' && quote !== "'") return { key, value: line.slice(eq + 1).replace(/\s#.*$/, '').trim() };
  let value = '';
  for (let at = 1; at < rest.length; at++) {
    const c = rest[at]!;
    if (c === quote) {
      const after = rest.slice(at + 1).trim();
      if (after !== '' && !after.startsWith('#')) return { error: `unexpected ${JSON.stringify(after)} after the closing ${quote}` };
      return { key, value };
    }
    if (quote === '"' && c === '\\' && (rest[at + 1] === '"' || rest[at + 1] === '\\')) value += rest[++at];
    else value += c;
  }
  return { error: `no closing ${quote}` };
}

const isSettingKey = (key: string): key is SettingKey => Object.hasOwn(SETTINGS, key);

export const dataDirOf = (s: Settings): string => resolve(s.SPHINX_DATA_DIR || 'sphinx');

/** The in-process signer's validation policy the settings ask for; local defaults where they say nothing. */
export function policyOf(s: Settings): PolicyConfig {
  const warnOnly = new Set<PolicyName>();
  for (const name of list(s.SPHINX_POLICY_WARN_ONLY)) {
    if (!isPolicyName(name))
      throw new ConfigError(`SPHINX_POLICY_WARN_ONLY: unknown policy "${name}"; known: ${Object.keys(POLICIES).join(', ')}`);
    warnOnly.add(name);
  }
  const allowlist = list(s.SPHINX_POLICY_ALLOWLIST).map((script) => {
    if (!/^([0-9a-f]{2})+$/i.test(script))
      throw new ConfigError(`SPHINX_POLICY_ALLOWLIST: "${script}" is not a hex scriptPubKey (e.g. 0014<20-byte key hash>)`);
    return fromHex(script);
  });
  return {
    ...DEFAULT_POLICY,
    warnOnly,
    allowlist,
    minFeeratePerKw: int(s, 'SPHINX_POLICY_MIN_FEERATE', DEFAULT_POLICY.minFeeratePerKw),
    maxFeeratePerKw: int(s, 'SPHINX_POLICY_MAX_FEERATE', DEFAULT_POLICY.maxFeeratePerKw),
    minToSelfDelay: int(s, 'SPHINX_POLICY_MIN_TO_SELF_DELAY', DEFAULT_POLICY.minToSelfDelay),
    maxToSelfDelay: int(s, 'SPHINX_POLICY_MAX_TO_SELF_DELAY', DEFAULT_POLICY.maxToSelfDelay),
    maxHtlcs: int(s, 'SPHINX_POLICY_MAX_HTLCS', DEFAULT_POLICY.maxHtlcs),
    maxHtlcValueSat: sats(s, 'SPHINX_POLICY_MAX_HTLC_VALUE_SAT', DEFAULT_POLICY.maxHtlcValueSat),
    maxChannelValueSat: sats(s, 'SPHINX_POLICY_MAX_CHANNEL_VALUE_SAT', DEFAULT_POLICY.maxChannelValueSat),
    maxHtlcCltvDelta: int(s, 'SPHINX_POLICY_MAX_HTLC_CLTV_DELTA', DEFAULT_POLICY.maxHtlcCltvDelta),
    htlcExpiredGraceBlocks: int(s, 'SPHINX_POLICY_HTLC_EXPIRED_GRACE', DEFAULT_POLICY.htlcExpiredGraceBlocks),
    minForgetDepth: int(s, 'SPHINX_POLICY_MIN_FORGET_DEPTH', DEFAULT_POLICY.minForgetDepth),
    maxUnconfirmedHtlcSat: sats(s, 'SPHINX_POLICY_MAX_UNCONFIRMED_HTLC_SAT', DEFAULT_POLICY.maxUnconfirmedHtlcSat),
  };
}

/** Which signer the settings ask for (SPHINX_SIGNER; remote by default). */
export function signerKindOf(s: Settings): 'remote' | 'local' {
  const kind = s.SPHINX_SIGNER || 'remote';
  if (kind !== 'remote' && kind !== 'local') throw new ConfigError(`SPHINX_SIGNER=${kind}: expected remote (the default) or local`);
  return kind;
}

/** The remote signer's settings (broker/remote/open-remote.ts), checked. */
export function remoteOf(s: Settings) {
  const policy = (Object.keys(s) as SettingKey[]).filter((k) => k.startsWith('SPHINX_POLICY_') && s[k] !== undefined && s[k] !== '');
  if (policy.length > 0)
    throw new ConfigError(
      `${policy.join(', ')} set, but with SPHINX_SIGNER=remote the policy belongs to the device, which decides on its own: ` +
        `remove ${policy.length > 1 ? 'them' : 'it'} here and set the policy on the device instead, in policy.json in its data directory ` +
        `(e.g. {"maxChannelValueSat": 1000}) or with sphinx-ctl (sphinx-ctl policy set maxChannelValueSat=1000); docs/policies.md. ` +
        `(SPHINX_SIGNER=local keeps the policy settings here.)`,
    );
  if (flag(s, 'SPHINX_ACCEPT_JOURNAL_ROLLBACK'))
    throw new ConfigError('SPHINX_ACCEPT_JOURNAL_ROLLBACK is for SPHINX_SIGNER=local: with a device the journal is its own ' +
      '(sphinx-signer --accept-journal-rollback); for a device whose journal is behind the broker log, SPHINX_ACCEPT_DEVICE_ROLLBACK');
  const port = (key: SettingKey, fallback: number): number => {
    const value = int(s, key, fallback);
    if (value > 65535) throw new ConfigError(`${key}=${value}: expected a TCP port (0..65535)`);
    return value;
  };
  const url = s.SPHINX_MQTT_URL || undefined;
  if (url !== undefined && !/^mqtts?:\/\/[^/]+/.test(url))
    throw new ConfigError(`SPHINX_MQTT_URL=${url}: expected mqtt://host:port or mqtts://host:port`);
  const deviceKeys = list(s.SPHINX_DEVICE_KEYS);
  for (const key of deviceKeys)
    if (!/^0[23][0-9a-fA-F]{64}$/.test(key))
      throw new ConfigError(`SPHINX_DEVICE_KEYS: "${key}" is not a compressed public key in hex (66 digits starting 02 or 03)`);
  const [certFile, keyFile] = [s.SPHINX_TLS_CERT || undefined, s.SPHINX_TLS_KEY || undefined];
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new ConfigError('SPHINX_TLS_CERT and SPHINX_TLS_KEY go together: set both for the TLS listener, or neither');
  let chain: ChainSourceChoice;
  try {
    chain = chainSourceOf(s);
  } catch (e) {
    if (e instanceof ChainSourceError) throw new ConfigError(e.message);
    throw e;
  }
  const generate = flag(s, 'SPHINX_TLS_GENERATE');
  if (generate && certFile !== undefined)
    throw new ConfigError('SPHINX_TLS_GENERATE=1 makes its own certificate: unset SPHINX_TLS_CERT and SPHINX_TLS_KEY, or SPHINX_TLS_GENERATE');
  const mqttHost = s.SPHINX_MQTT_HOST || '127.0.0.1';
  if (!isLoopback(mqttHost) && !flag(s, 'SPHINX_MQTT_PLAIN_REMOTE'))
    throw new ConfigError(`SPHINX_MQTT_HOST=${mqttHost} would take plain MQTT (device tokens and requests in the clear) from beyond this machine. ` +
      'Devices on the network should use TLS: SPHINX_TLS_GENERATE=1 (listener on SPHINX_MQTT_TLS_HOST, default every interface). ' +
      'To allow plain MQTT there anyway, also set SPHINX_MQTT_PLAIN_REMOTE=1');
  const tlsHost = s.SPHINX_MQTT_TLS_HOST || '0.0.0.0';
  // A default port gives way to a free one when taken (a second node on this machine); a set one does not.
  const tlsListener = { port: port('SPHINX_MQTT_TLS_PORT', 8883), host: tlsHost, givesWay: !s.SPHINX_MQTT_TLS_PORT };
  const ca = s.SPHINX_MQTT_CA || undefined;
  if (ca !== undefined && !url?.startsWith('mqtts://'))
    throw new ConfigError(`SPHINX_MQTT_CA=${ca}: only for an external server over TLS (SPHINX_MQTT_URL=mqtts://host:port)`);
  return {
    chain,
    dataDir: dataDirOf(s),
    acceptRollback: acceptRollbackOf(s.SPHINX_ACCEPT_DEVICE_ROLLBACK),
    acceptNewLog: flag(s, 'SPHINX_ACCEPT_NEW_BROKER_LOG'),
    warmUpMs: int(s, 'SPHINX_WARM_UP_MS', DEFAULT_WARM_UP_MS),
    mqttPort: port('SPHINX_MQTT_PORT', 1883),
    mqttPortGivesWay: !s.SPHINX_MQTT_PORT,
    mqttHost,
    mqttUrl: url,
    mqttCaFile: ca && resolve(ca),
    deviceKeys: deviceKeys.join(','),
    tls: certFile && keyFile ? { certFile: resolve(certFile), keyFile: resolve(keyFile), ...tlsListener } : undefined,
    generateTls: generate ? { ...tlsListener, names: list(s.SPHINX_TLS_NAMES) } : undefined,
  };
}

function acceptRollbackOf(value: string | undefined): { device: string; lastId: bigint } | undefined {
  if (value === undefined || value === '') return undefined;
  const match = /^(0[23][0-9a-f]{64}):(\d{1,20})$/.exec(value);
  const lastId = match ? parseDecimalU64('lastId', match[2]) : undefined;
  if (!match || lastId instanceof Error || lastId === undefined)
    throw new ConfigError(`SPHINX_ACCEPT_DEVICE_ROLLBACK=${value}: expected DEVICE_ID:LAST_ID, the device id (66 hex digits, lower case) and the last id its hello says, as the refusal in the log names them`);
  return { device: match[1]!, lastId };
}

/**
 * The status page's address (broker/status-page.ts), or undefined when SPHINX_HTTP_PORT=0.
 * `fixed` is false for the default port, which gives way to a free one when taken.
 */
export function statusPageOf(s: Settings): { host: string; port: number; fixed: boolean } | undefined {
  const port = int(s, 'SPHINX_HTTP_PORT', 8735);
  if (port > 65535) throw new ConfigError(`SPHINX_HTTP_PORT=${port}: expected a TCP port (1..65535), or 0 to turn the status page off`);
  return port === 0 ? undefined : { host: s.SPHINX_HTTP_HOST || '127.0.0.1', port, fixed: !!s.SPHINX_HTTP_PORT };
}

/** 127.0.0.0/8, ::1 and localhost: reachable from this machine only. */
export const isLoopback = (host: string): boolean =>
  /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1' || host === 'localhost';

/** A 0/1 setting; anything else is a ConfigError (not a silent off). */
export function flag(s: Settings, key: SettingKey): boolean {
  const value = s[key] || '0';
  if (value !== '0' && value !== '1') throw new ConfigError(`${key}=${value}: expected 1 (on) or 0 (off, the default)`);
  return value === '1';
}

/** A URL for logs and pages: without its password. */
export function redactedUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

const list = (value: string | undefined): string[] =>
  (value ?? '').split(',').map((x) => x.trim()).filter((x) => x.length > 0);

function int(s: Settings, key: SettingKey, fallback: number): number {
  const value = s[key];
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new ConfigError(`${key}=${value}: expected a whole number (default ${fallback})`);
  return Number(value);
}

function sats(s: Settings, key: SettingKey, fallback: bigint): bigint {
  const value = s[key];
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value)) throw new ConfigError(`${key}=${value}: expected a whole number of satoshis (default ${fallback})`);
  return BigInt(value);
}
