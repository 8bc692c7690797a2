/**
 * The local hsmd's warm start goes through the code lightningd's requests take, not only the
 * signer's (docs/performance.md "Warm start"): traced, the code a fresh hsmd kept compiling
 * through its first ten sessions was mostly this serving path (the Router, the Connection's
 * loop, the group commit, the sockets' streams). Each client of the recorded session gets a
 * socketpair inside this process, registered as hsmd_client_hsmfd would; its requests are
 * written as lightningd writes them (frames.ts), read and answered by a Connection and a
 * Router, and handled by the port over the pass's throwaway core (node/warm-up.ts). Nothing of
 * it reaches lightningd: no status line, no log line, no descriptor passed.
 */
import net from 'node:net';
import type { SignerCore } from '../core/signer-core.js';
import { toHex } from '../signer/bytes.js';
import type { ClientContext } from '../signer/envelope.js';
import type { WarmUpPass } from '../node/warm-up.js';
import { type Client, ClientRegistry } from './clients.js';
import { Connection } from './connection.js';
import { FrameReader, frame } from './frames.js';
import { newClientSocketpair } from './hsmfd.js';
import { Router } from './router.js';
import type { SignerPort } from './signer-port.js';

/** lightningd's end of one client's socketpair. */
interface ClientEnd {
  readonly socket: net.Socket;
  readonly replies: FrameReader;
}

const contextKey = (c: ClientContext): string => `${c.dbid}/${c.permissions}/${toHex(c.peer)}`;

/** A pass takes ~0.1 s; one that takes this long is stuck (a request left without reply), and ends. */
const PASS_TIMEOUT_MS = 10_000;

/**
 * A warm-up pass through the serving path, with `portOver` making the signer port the hsmd
 * serves from a core (the local signer's group commit). A client request the Router refuses
 * (a policy stricter than the recording needs) closes that client, as it would close
 * lightningd's daemon, and its next request comes on a new connection; a fatal (the master
 * refused), or a request left without reply, ends the pass with the reason.
 */
export function servingPass(portOver: (core: SignerCore) => SignerPort): WarmUpPass {
  return async (core, envelopes) => {
    let fail!: (e: Error) => void;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    failed.catch(() => {}); // raced below; a failure after the last reply is not an error
    const timer = setTimeout(() => fail(new Error(`a request got no reply within ${PASS_TIMEOUT_MS} ms`)), PASS_TIMEOUT_MS);
    const port = portOver(core);
    const router = new Router({
      port,
      status: { clientBadRequest: () => {} },
      log: { tracing: false, log: () => {} },
      masterFd: -1,
      now: () => Math.floor(Date.now() / 1000),
      startClient: () => fail(new Error('hsmd_client_hsmfd is not part of the warm-up')),
      fatal: async (_reason, description) => fail(new Error(description)),
    });
    const registry = new ClientRegistry();
    const ends = new Map<string, ClientEnd>();
    const sockets: net.Socket[] = [];
    const serving: Promise<unknown>[] = [];
    const endFor = (context: ClientContext): ClientEnd => {
      const key = contextKey(context);
      let end = ends.get(key);
      if (end) return end;
      const { ours, theirs } = newClientSocketpair();
      const conn = new Connection(ours);
      // The recording starts with lightningd's hsmd_init: the first client is the master.
      const client: Client = sockets.length === 0 ? registry.addMaster(() => conn.close()) : registry.add(context, () => conn.close());
      serving.push(conn.serve((message) => router.handle(client, conn, message)).then(() => registry.remove(client)));
      const socket = new net.Socket({ fd: theirs, readable: true, writable: true });
      sockets.push(socket);
      end = { socket, replies: new FrameReader(socket) };
      ends.set(key, end);
      return end;
    };
    try {
      for (const env of envelopes) {
        const end = endFor(env.client);
        end.socket.write(frame(env.message));
        const reply = await Promise.race([end.replies.read(), failed]);
        if (reply === null) ends.delete(contextKey(env.client)); // refused: that client was closed
      }
      return envelopes.length;
    } finally {
      clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await Promise.all(serving);
      await port.close();
    }
  };
}
