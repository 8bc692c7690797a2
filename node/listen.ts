/**
 * Where the broker's servers listen (the status page, the embedded MQTT server's listeners),
 * and the file under SPHINX_DATA_DIR that tells the operator. A default port gives way when
 * taken, as it is for a second node on the same machine; and a broker keeps the port it had
 * last time (its address file) while that one is free, so a device set to it finds this
 * broker again whichever node starts first. A port the operator set does not give way (they
 * chose it): its error goes to the caller, which says what to set.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';

/** Which port a listener took: the one asked for, its port last time, or any free one. */
export type PortTaken = 'asked' | 'previous' | 'free';

/**
 * Listens on host:port, or when `givesWay` (a default port): first on `previous` (its port
 * last time, from its address file), then the default, then any free port, each if the one
 * before is in use. Rejects with the listen error otherwise.
 */
export function listenOrGiveWay(server: Server, port: number, host: string, givesWay: boolean, previous?: number): Promise<{ port: number; took: PortTaken }> {
  type Try = { port: number; took: PortTaken };
  const tries: Try[] = !givesWay ? [{ port, took: 'asked' }]
    : [...(previous === undefined || previous === port ? [] : [{ port: previous, took: 'previous' } as Try]), { port, took: 'asked' }, { port: 0, took: 'free' }];
  return new Promise((resolve, reject) => {
    let current = tries.shift()!;
    const onError = (e: NodeJS.ErrnoException): void => {
      const next = tries.shift();
      if (e.code === 'EADDRINUSE' && next !== undefined) {
        current = next;
        server.listen(next.port, host);
        return;
      }
      server.off('listening', onListening);
      reject(e);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve({ port: (server.address() as AddressInfo).port, took: current.took });
    };
    server.on('error', onError);
    server.once('listening', onListening);
    server.listen(current.port, host);
  });
}

/** `host:port` as a URL writes it (IPv6 in brackets). */
export const hostPort = (host: string, port: number): string => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/**
 * The port of the first `scheme://…:port` line of SPHINX_DATA_DIR/`name` (written by
 * writeAddressFile last time), if the file and such a line exist.
 */
export function recordedPort(dataDir: string, name: string, scheme: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, name), 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const match = /^([a-z]+):\/\/.*:(\d{1,5})\/?$/.exec(line.trim());
    if (match?.[1] === scheme && Number(match[2]) > 0 && Number(match[2]) < 65536) return Number(match[2]);
  }
  return undefined;
}

/**
 * Writes `lines` to SPHINX_DATA_DIR/`name` (one a line) for the operator and tools; a failure
 * is logged UNUSUAL (the server runs anyway, and the log names its address).
 */
export function writeAddressFile(dataDir: string, name: string, lines: readonly string[], log: (level: 'unusual', text: string) => void): void {
  const file = join(dataDir, name);
  try {
    writeFileSync(file, lines.map((l) => l + '\n').join(''));
  } catch (e) {
    log('unusual', `cannot write ${file}: ${(e as Error).message}`);
  }
}
