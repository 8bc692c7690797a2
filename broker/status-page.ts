/**
 * The broker's status page: an HTTP server on SPHINX_HTTP_HOST:
 * SPHINX_HTTP_PORT (127.0.0.1:8735 by default; port 0 turns it off) serving
 * - `/`: the operator's panel (broker/status-panel.ts: a banner saying what to do, the facts
 *   asked first, internals folded away) over the audit report (audit/report.ts) of the live
 *   views; its script polls `/api/status` every second and swaps in a fresh report when the
 *   views moved on;
 * - `/api/status`: the panel's facts (status-panel.ts statusOf);
 * - `/api/views`: the report's views as JSON (bigints as strings, bytes hex).
 * Read-only (GET and HEAD only). On a loopback address, requests must name a loopback Host
 * (a web page elsewhere cannot reach it by DNS rebinding). The default port gives way to a
 * free one when taken (node/listen.ts); if it cannot listen at all, it says so at UNUSUAL and
 * the broker carries on: lightningd dies with its hsmd.
 */
import { RelayError } from './remote/control-relay.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostPort, listenOrGiveWay, recordedPort, writeAddressFile } from '../node/listen.js';
import { renderReport } from '../audit/report.js';
import { toJsonValue } from '../audit/views-json.js';
import type { SignerPort } from './signer-port.js';
import { panelHtml, type PanelOptions, statusOf } from './status-panel.js';
import { LiveViews } from './status-views.js';

export const DEFAULT_HTTP_PORT = 8735;
export const DEFAULT_HTTP_HOST = '127.0.0.1';

export interface StatusPageOptions extends PanelOptions {
  readonly host: string;
  readonly port: number;
  /** False for the default port: when it is taken (another node's broker), a free one is used. */
  readonly fixed: boolean;
  readonly log: (level: 'info' | 'unusual' | 'broken', text: string) => void;
}

const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/i;
const isLoopback = (host: string): boolean => host === '127.0.0.1' || host === '::1' || host === 'localhost';

/** The file under SPHINX_DATA_DIR that holds the status page's URL while it runs. */
export const STATUS_URL_FILE = 'status-url';

/**
 * Listens on the configured port. The default one (8735) keeps this broker's port of last time
 * and gives way to a free port when taken (node/listen.ts); a port the operator set does not, and then the page is off, said at
 * UNUSUAL: CLN treats BROKEN as a bug, and a busy port is the operator's to settle. The URL
 * goes to the log and to SPHINX_DATA_DIR/status-url.
 */
function listen(server: http.Server, options: StatusPageOptions): void {
  const wanted = hostPort(options.host, options.port);
  const recorded = recordedPort(options.dataDir, STATUS_URL_FILE, 'http');
  listenOrGiveWay(server, options.port, options.host, !options.fixed, recorded).then(({ took }) => {
    const address = server.address() as AddressInfo;
    const url = `http://${hostPort(address.address, address.port)}/`;
    writeAddressFile(options.dataDir, STATUS_URL_FILE, [url], (level, text) => options.log(level, `status page: ${text}`));
    options.log('info', `status page on ${url} (JSON: /api/status, /api/views)` + (took === 'asked' ? ''
      : took === 'previous' ? `: this broker's port last time, not the default ${wanted}; set SPHINX_HTTP_PORT for a fixed one`
      : `: ${wanted} is in use (another node's broker?), so a free port was taken; set SPHINX_HTTP_PORT for a fixed one`));
    server.on('error', (e) => options.log('unusual', `status page: ${e.message}`));
  }, (e: NodeJS.ErrnoException) => {
    options.log('unusual', `status page: cannot listen on ${wanted} (${e.code ?? e.message}): running without it; ` +
      'set SPHINX_HTTP_PORT to a free port, or 0 to turn it off');
  });
}

const MAX_CONTROL_BYTES = 64 * 1024;

/**
 * POST /control (docs/remote-protocol.md "Control"): a signed command from sphinx-ctl,
 * relayed to its device; the device's signed answer is the response body.
 */
function relayControl(port: SignerPort, req: http.IncomingMessage, answer: (code: number, body: string) => void): void {
  if (!port.control) return answer(404, 'control commands go to a remote device: this broker signs locally (SPHINX_SIGNER=local)\n');
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= MAX_CONTROL_BYTES) chunks.push(c);
  });
  req.on('end', () => {
    if (size > MAX_CONTROL_BYTES) return answer(413, `a control command is at most ${MAX_CONTROL_BYTES} bytes\n`);
    port.control!(new Uint8Array(Buffer.concat(chunks))).then(
      (response) => answer(200, new TextDecoder().decode(response)),
      (e: Error) => answer(e instanceof RelayError ? e.status : 500, `${e.message}\n`),
    );
  });
}

/** Starts the status page for `signer`; returns the port to use in its place (closing it closes the page). */
export function withStatusPage(signer: SignerPort, options: StatusPageOptions): SignerPort {
  const live = new LiveViews();
  const port = live.attach(signer, (text) => options.log('broken', text));
  const send = (res: http.ServerResponse, code: number, type: string, body: string): void => {
    res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY' });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  };
  const server = http.createServer((req, res) => {
    try {
      if (isLoopback(options.host) && !LOOPBACK_HOST.test(req.headers.host ?? '')) return send(res, 421, 'text/plain', 'use http://127.0.0.1 or localhost\n');
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (req.method === 'POST' && path === '/control') return relayControl(port, req, (code, body) => send(res, code, code === 200 ? 'application/json' : 'text/plain', body));
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'read-only: GET or HEAD (POST only to /control)\n');
      const json = (value: unknown): void => send(res, 200, 'application/json', JSON.stringify(value));
      if (path === '/api/status') return json(statusOf(live, port, options));
      if (path === '/api/views') return json(toJsonValue(live.views));
      if (path === '/') {
        return send(res, 200, 'text/html; charset=utf-8', renderReport(live.views, {
          title: 'sphinx-key broker status',
          source: options.mode === 'remote' ? `the broker log${options.logDir ? ` ${options.logDir}` : ''}` : 'this process (local signer: no broker log)',
          generatedAt: Date.now(),
          live: { panelHtml: panelHtml(statusOf(live, port, options)), statusUrl: '/api/status', pageUrl: '/' },
        }));
      }
      return send(res, 404, 'text/plain', 'not found: /, /api/status, /api/views\n');
    } catch (e) {
      options.log('broken', `status page: ${req.url}: ${(e as Error).stack ?? String(e)}`);
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
    }
  });
  listen(server, options);
  server.unref();
  return {
    ...port,
    close: async () => {
      server.close();
      server.closeAllConnections();
      await port.close();
    },
  };
}
