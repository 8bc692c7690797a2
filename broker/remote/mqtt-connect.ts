/**
 * An mqtt.js client whose every socket has TCP_NODELAY (docs/remote-protocol.md
 * "Connecting"): mqtt.js builds its TCP and TLS streams without it, and with Nagle on a
 * request/reply round trip waits for delayed ACKs (tens of ms instead of a fraction of one).
 * The stream builder runs again on every reconnect, so reconnects get it too. Node-side,
 * used by the broker's own client and by Node devices.
 */
import net from 'node:net';
import tls from 'node:tls';
import { type IClientOptions, MqttClient } from 'mqtt';

export interface ConnectOptions extends IClientOptions {
  /** For mqtts://: trusted CA certificates (PEM); the system's if absent. */
  readonly ca?: string | Buffer;
}

/** Connects to `url` (mqtt://host:port or mqtts://host:port, optionally user:pass@). */
export function connectMqtt(url: string, options: ConnectOptions = {}): MqttClient {
  const parsed = new URL(url);
  const secure = parsed.protocol === 'mqtts:';
  if (!secure && parsed.protocol !== 'mqtt:') throw new Error(`${url}: expected an mqtt:// or mqtts:// URL`);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const port = Number(parsed.port || (secure ? 8883 : 1883));
  const fromUrl: IClientOptions = {};
  if (parsed.username) fromUrl.username = decodeURIComponent(parsed.username);
  if (parsed.password) fromUrl.password = decodeURIComponent(parsed.password);
  const build = (): net.Socket => {
    const socket = secure
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ca: options.ca, rejectUnauthorized: options.rejectUnauthorized ?? true })
      : net.createConnection({ host, port });
    socket.setNoDelay(true);
    return socket;
  };
  return new MqttClient(build, { protocolVersion: 4, ...fromUrl, ...options });
}

/** Whether Nagle is off on `socket` (Node records setNoDelay's last value under this symbol). */
export function hasNoDelay(socket: unknown): boolean {
  if (typeof socket !== 'object' || socket === null) return false;
  const symbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'kSetNoDelay');
  return symbol !== undefined && (socket as Record<symbol, unknown>)[symbol] === true;
}
