/**
 * Headless Chromium for tests (Debian package `chromium`), without a driver library: one
 * process per call with `--dump-dom` (the DOM after parsing and scripts) or `--screenshot`.
 * Background networking, component updates and sync are off (without them it hangs on a
 * network it cannot reach); `--log-net-log` records every URL the page made it request.
 * A missing browser is a test failure that says how to install it, never a skip.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const CHROMIUM = '/usr/bin/chromium';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--hide-scrollbars'];

export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install it with \`apt-get install -y chromium\` (.ci/run does)`);
}

/**
 * URLs of the requests a page started, from a net log: URL_REQUEST_START_JOB events whose
 * initiator is an origin (a file:// page's is "null"); the browser's own requests (time
 * sync, accounts) say "not an origin".
 */
function pageRequests(netLog: string): string[] {
  if (!existsSync(netLog)) throw new Error(`chromium wrote no net log at ${netLog}`);
  const log = JSON.parse(readFileSync(netLog, 'utf8')) as {
    constants: { logEventTypes: Record<string, number> };
    events: { type: number; params?: { url?: string; initiator?: string } }[];
  };
  const start = log.constants.logEventTypes['URL_REQUEST_START_JOB'];
  const urls = log.events.filter((e) => e.type === start && e.params?.url !== undefined && e.params.initiator !== 'not an origin').map((e) => e.params!.url!);
  return [...new Set(urls)];
}

export interface ChromiumRun {
  /** The serialized DOM (with `dumpDom`), else ''. */
  readonly dom: string;
  /** URLs of the requests the page's load made (from the net log), besides the page itself. */
  readonly requested: string[];
}

/**
 * Loads `target` (an HTML file's path, or an http URL) and returns its DOM and the URLs it
 * requested; `screenshot` also writes a PNG there; `virtualTimeMs` lets timers run that long first.
 */
export function loadInChromium(target: string, opts: { dumpDom?: boolean; screenshot?: string; windowSize?: string; virtualTimeMs?: number } = {}): ChromiumRun {
  requireChromium();
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  const netLog = join(profile, 'net-log.json');
  const page = /^https?:\/\//.test(target) ? target : pathToFileURL(target).href;
  try {
    const args = [...FLAGS, `--user-data-dir=${profile}`, `--log-net-log=${netLog}`, `--window-size=${opts.windowSize ?? '1000,1400'}`,
      ...(opts.virtualTimeMs ? [`--virtual-time-budget=${opts.virtualTimeMs}`] : []),
      ...(opts.dumpDom ? ['--dump-dom'] : []), ...(opts.screenshot ? [`--screenshot=${opts.screenshot}`] : []), page];
    const run = spawnSync(CHROMIUM, args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
    if (run.error) throw new Error(`chromium: ${run.error.message}`);
    if (run.status !== 0) throw new Error(`chromium exited ${run.status}: ${run.stderr}`);
    return { dom: run.stdout, requested: pageRequests(netLog).filter((u) => u !== page) };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
