/**
 * The status page's operator view (broker/status-page.ts): what `/api/status` answers and the
 * panel at the top of `/`.
 * - A banner: red when no device is connected (lightningd's requests wait until one is),
 *   amber when a request has waited longer than WAIT_WARN_MS, green otherwise; with the
 *   command to run when something is wrong (attentionOf, pure).
 * - The facts an operator asks first: broker id, MQTT listeners, the device's id, firmware and
 *   last-seen time, where the broker log stands, what waits, latency in ms.
 * - Internals (requests published to a device, bytes on disk, the views' position, every
 *   device's state) behind a "details" fold.
 * The panel is a list of parts (PANEL_PARTS): a new section is one more function of the status.
 * Elements with `data-live="path"` are refilled from /api/status every second by the page's
 * script (audit/report.ts), `data-live-state="path"` sets their `data-state`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { esc, isoTime } from '../audit/report-html.js';
import { summarizeLatency } from '../projections/latency-histogram.js';
import type { ChainRelayStatus } from './chain/relay.js';
import type { SignerPort } from './signer-port.js';
import { type LiveViews, nearestRank, RECENT_REPLIES } from './status-views.js';

/** A request waiting longer than this turns the banner amber. */
export const WAIT_WARN_MS = 2000;

export interface PanelOptions {
  readonly mode: 'remote' | 'local';
  /** SPHINX_DATA_DIR: the broker id is read from its broker-id file. */
  readonly dataDir: string;
  /** Where devices connect (remote): the embedded server's listeners, or the external server's URL. */
  readonly mqtt?: readonly string[];
  /** The broker log's directory (remote), for its size on disk. */
  readonly logDir?: string;
}

export type AttentionLevel = 'ok' | 'warn' | 'bad';
export interface Attention {
  readonly level: AttentionLevel;
  readonly text: string;
  /** What to run, or '' when nothing needs doing. */
  readonly command: string;
}

/** The banner, from the facts (pure). */
export function attentionOf(f: {
  mode: 'remote' | 'local';
  connected: number | null;
  activeDevice: string | undefined;
  outstanding: number;
  waitingMs: number;
  deviceCommand: string;
}): Attention {
  const waiting = `${f.outstanding} request${f.outstanding === 1 ? '' : 's'} from lightningd`;
  if (f.mode === 'remote' && !f.connected) {
    return {
      level: 'bad',
      text: `No signing device is connected: ${f.outstanding ? `${waiting} ${f.outstanding === 1 ? 'waits' : 'wait'}` : "lightningd's next request will wait"} until one is. Start it:`,
      command: f.deviceCommand,
    };
  }
  if (f.outstanding > 0 && f.waitingMs > WAIT_WARN_MS) {
    const who = f.mode === 'remote' ? `device ${f.activeDevice ?? '?'}` : 'the in-process signer';
    return f.mode === 'remote'
      ? { level: 'warn', text: `${waiting} waiting, the oldest for ${f.waitingMs.toLocaleString('en-US')} ms, on ${who}. Look at its log; if it is stuck, restart it:`, command: f.deviceCommand }
      : { level: 'warn', text: `${waiting} waiting, the oldest for ${f.waitingMs.toLocaleString('en-US')} ms, on ${who}. Look at lightningd's log (hsmd lines).`, command: '' };
  }
  return {
    level: 'ok',
    text: f.mode === 'remote' ? `Signing: device ${f.activeDevice ?? '?'} connected.` : 'Signing in this process (SPHINX_SIGNER=local).',
    command: '',
  };
}

/** Bytes of the files in `dir` (LevelDB keeps a flat directory), or undefined if unreadable. */
function dirBytes(dir: string): number | undefined {
  try {
    return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  } catch {
    return undefined;
  }
}

function readBrokerId(dataDir: string): string | null {
  try {
    return readFileSync(join(dataDir, 'broker-id'), 'utf8').trim() || null;
  } catch {
    return null;
  }
}

const ms = (micros: number | undefined): number | null => (micros === undefined ? null : micros / 1000);

export function statusOf(live: LiveViews, signer: SignerPort, options: PanelOptions, now: number = Date.now()) {
  const recent = live.recentLatencies();
  const inspection = signer.inspect?.();
  const brokerId = options.mode === 'remote' ? readBrokerId(options.dataDir) : null;
  const devices = inspection?.devices ?? [];
  const active = devices.find((d) => d.active) ?? devices.find((d) => d.state === 'ready');
  const deviceId = active?.id ?? live.lastConnected?.deviceId;
  const heard = deviceId === undefined ? undefined : inspection?.heard?.get(deviceId);
  const lastSeenAt = heard?.lastSeenAt ?? live.lastReplyAt;
  const connected = inspection ? devices.filter((d) => d.state === 'ready').length : null;
  const waitingMs = live.waitingMs(now);
  const deviceCommand = options.mode === 'remote'
    ? `sphinx-signer --mqtt ${options.mqtt?.[0] ?? 'mqtt://127.0.0.1:1883'} --data DIR --broker-id ${brokerId ?? '(SPHINX_DATA_DIR/broker-id)'}` +
      '   # DIR holds this node\'s hsm_secret'
    : '';
  const p50 = nearestRank(recent, 0.5);
  const p99 = nearestRank(recent, 0.99);
  return {
    mode: options.mode,
    attention: attentionOf({ mode: options.mode, connected, activeDevice: deviceId, outstanding: live.outstanding, waitingMs, deviceCommand }),
    broker: { id: brokerId, mqtt: options.mqtt ?? [], dataDir: options.dataDir },
    device: {
      id: deviceId ?? null,
      firmware: heard?.firmware ?? null,
      /** The last id its journal holds (its hello, then its replies): compare with the broker log's last id. */
      journaledUpTo: heard?.journaledUpTo === undefined ? null : String(heard.journaledUpTo),
      /** The broker log's highest answered id: a device journaled below it has lost state (docs/remote-protocol.md "Rollback"). */
      answeredUpTo: inspection?.answeredUpTo === undefined ? null : String(inspection.answeredUpTo),
      lastSeenAt: lastSeenAt ?? null,
      /** When it was last heard from (remote), else when the signer last answered. */
      lastSeen: lastSeenAt === undefined ? null : `${isoTime(lastSeenAt)} (${Math.max(0, now - lastSeenAt).toLocaleString('en-US')} ms ago)`,
    },
    uptimeSeconds: Math.round(process.uptime()),
    devices: { connected, list: devices },
    requests: {
      /** lightningd's requests waiting for the signer. */
      outstanding: live.outstanding,
      /** How long the oldest of them has waited. */
      waitingMs,
      /** Published to a device and not answered (remote; init checks included). */
      atDevices: inspection?.outstanding ?? null,
      total: live.views.stats.requests,
    },
    latency: {
      recent: { replies: recent.length, p50Micros: p50 ?? null, p99Micros: p99 ?? null, p50Ms: ms(p50), p99Ms: ms(p99) },
      all: summarizeLatency(live.views.stats.latency),
    },
    log: signer.brokerLog
      ? { records: signer.brokerLog.end.toString(), bytes: options.logDir === undefined ? null : dirBytes(options.logDir) ?? null }
      : { records: null, bytes: null },
    views: { nextSeq: live.views.nextSeq.toString() },
    chain: chainSummary(inspection?.chain),
  };
}
export type Status = ReturnType<typeof statusOf>;

/** Chain tracking for the page: bitcoind's height and each device's tip and watched outpoints (docs/chain.md). */
function chainSummary(chain: ChainRelayStatus | undefined) {
  if (!chain) return { tracking: false, bitcoindHeight: null, deviceTip: null, watched: '–', devices: [] };
  const first = chain.devices[0]?.status;
  const watched = first?.watched.map((w) => `${w.outpoint.slice(0, 8)}…:${w.outpoint.split(':')[1]} ${w.spent !== null ? `spent@${w.spent}` : w.confirmed !== null ? `confirmed@${w.confirmed}` : 'unconfirmed'}`);
  return {
    tracking: true,
    source: chain.source,
    reachable: chain.reachable,
    bitcoindHeight: chain.bitcoindHeight,
    deviceTip: first?.tip?.height ?? null,
    watched: watched && watched.length > 0 ? watched.join(', ') : 'none',
    devices: chain.devices,
  };
}

/** One fact, refilled live from `path` in /api/status. */
const fact = (label: string, path: string, value: unknown, cls = ''): string =>
  `<div${cls ? ` class="${cls}"` : ''}><dt>${esc(label)}</dt><dd data-live="${esc(path)}">${esc(value ?? '–')}</dd></div>`;

const banner = (s: Status): string =>
  `<div id="attention" class="banner" data-state="${esc(s.attention.level)}" data-live-state="attention.level">` +
  `<b data-live="attention.text">${esc(s.attention.text)}</b> <code data-live="attention.command">${esc(s.attention.command)}</code></div>`;

const operatorFacts = (s: Status): string => '<dl class="facts live-facts">' + [
  ...(s.mode === 'remote' ? [
    fact('broker id', 'broker.id', s.broker.id, 'wide'),
    fact('MQTT', 'broker.mqtt', s.broker.mqtt.join(', ')),
    fact('devices connected', 'devices.connected', s.devices.connected),
    fact('device', 'device.id', s.device.id, 'wide'),
    fact('firmware', 'device.firmware', s.device.firmware),
    fact('device journal up to id', 'device.journaledUpTo', s.device.journaledUpTo),
    fact('broker log answered up to id', 'device.answeredUpTo', s.device.answeredUpTo),
  ] : [fact('signer', 'mode', 'local (in this process)')]),
  fact(s.mode === 'remote' ? 'last seen' : 'last reply', 'device.lastSeen', s.device.lastSeen),
  fact('waiting requests', 'requests.outstanding', s.requests.outstanding),
  fact('broker log position (records)', 'log.records', s.log.records),
  fact(`p50 ms (last ${RECENT_REPLIES})`, 'latency.recent.p50Ms', s.latency.recent.p50Ms),
  fact('p99 ms', 'latency.recent.p99Ms', s.latency.recent.p99Ms),
].join('') + '</dl>';

const details = (s: Status): string => '<details id="live-details"><summary>details</summary><dl class="facts">' + [
  fact('mode', 'mode', s.mode),
  fact('published to a device, not answered', 'requests.atDevices', s.requests.atDevices),
  fact('oldest waiting request, ms', 'requests.waitingMs', s.requests.waitingMs),
  fact('requests since start', 'requests.total', s.requests.total),
  fact('broker log bytes', 'log.bytes', s.log.bytes),
  fact('views folded up to', 'views.nextSeq', s.views.nextSeq),
  fact('data directory', 'broker.dataDir', s.broker.dataDir, 'wide'),
  fact('uptime s', 'uptimeSeconds', s.uptimeSeconds),
].join('') + `</dl>${s.devices.list.length ? `<p>devices: ${s.devices.list.map((d) =>
  `<code>${esc(d.id)}</code> ${esc(d.state)}${d.active ? ' (active)' : ''}`).join('; ')}</p>` : ''}</details>`;

const chainFacts = (s: Status): string => !s.chain.tracking ? '' : '<dl class="facts live-facts chain">' + [
  fact('bitcoind height', 'chain.bitcoindHeight', s.chain.bitcoindHeight),
  fact('device tip', 'chain.deviceTip', s.chain.deviceTip),
  fact('watched', 'chain.watched', s.chain.watched, 'wide'),
].join('') + '</dl>';

/** The panel's parts, top to bottom: add a section by adding a function. */
export const PANEL_PARTS: readonly ((s: Status) => string)[] = [banner, operatorFacts, chainFacts, details];

export const panelHtml = (s: Status): string =>
  `<section id="live" class="facts-live">${PANEL_PARTS.map((part) => part(s)).join('')}</section>`;
