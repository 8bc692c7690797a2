/**
 * Where the broker's servers listen (the status page, the embedded MQTT server's listeners),
 * and the file under SPHINX_DATA_DIR that tells the operator. A default port gives way to a
 * free one when taken, as it is for a second node on the same machine; a port the operator
 * set does not (they chose it): its error goes to the caller, which says what to set.
 */
import { writeFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';

/**
 * Listens on host:port; when that port is in use and `givesWay`, on a free port of the same
 * host instead. Rejects with the listen error otherwise.
 */
export function listenOrGiveWay(server: Server, port: number, host: string, givesWay: boolean): Promise<{ port: number; gaveWay: boolean }> {
  return new Promise((resolve, reject) => {
    let gaveWay = false;
    const onError = (e: NodeJS.ErrnoException): void => {
      if (e.code === 'EADDRINUSE' && givesWay && !gaveWay) {
        gaveWay = true;
        server.listen(0, host);
        return;
      }
      server.off('listening', onListening);
      reject(e);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve({ port: (server.address() as AddressInfo).port, gaveWay });
    };
    server.on('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** `host:port` as a URL writes it (IPv6 in brackets). */
export const hostPort = (host: string, port: number): string => `${host.includes(':') ? `[${host}]` : host}:${port}`;

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
