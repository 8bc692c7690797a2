/**
 * test/fake-bitcoind.ts on a worker thread, for tests whose simulated lightningd blocks the
 * main thread while it waits for hsmd's reply (test/sync-wire.ts reads synchronously): a
 * relay that asks bitcoind during a request (broker/chain/catch-up.ts) needs bitcoind to
 * answer meanwhile. The test moves the tip and takes the server down and up by message.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { FakeBitcoind } from './fake-bitcoind.js';

type Command = { op: 'tip'; tip: number } | { op: 'down' } | { op: 'up' };

export class FakeBitcoindThread {
  #tip: number;

  private constructor(readonly worker: Worker, readonly url: string, readonly user: string, readonly password: string, tip: number) {
    this.#tip = tip;
  }

  static async start(options: { tip: number }): Promise<FakeBitcoindThread> {
    const worker = new Worker(new URL(import.meta.url), { workerData: { fakeBitcoind: options } });
    const started = await new Promise<{ url: string; user: string; password: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    return new FakeBitcoindThread(worker, started.url, started.user, started.password, options.tip);
  }

  get tip(): number {
    return this.#tip;
  }

  async setTip(tip: number): Promise<void> {
    await this.#send({ op: 'tip', tip });
    this.#tip = tip;
  }

  down = (): Promise<void> => this.#send({ op: 'down' });
  up = (): Promise<void> => this.#send({ op: 'up' });

  async stop(): Promise<void> {
    await this.worker.terminate();
  }

  #send(command: Command): Promise<void> {
    return new Promise((resolve) => {
      this.worker.once('message', () => resolve());
      this.worker.postMessage(command);
    });
  }
}

if (!isMainThread && (workerData as { fakeBitcoind?: { tip: number } } | null)?.fakeBitcoind) {
  const bitcoind = await FakeBitcoind.start({ tip: (workerData as { fakeBitcoind: { tip: number } }).fakeBitcoind.tip });
  parentPort!.on('message', (command: Command) => {
    const done = () => parentPort!.postMessage('done');
    if (command.op === 'tip') {
      bitcoind.tip = command.tip;
      done();
    } else void bitcoind[command.op]().then(done);
  });
  parentPort!.postMessage({ url: bitcoind.url, user: bitcoind.user, password: bitcoind.password });
}
