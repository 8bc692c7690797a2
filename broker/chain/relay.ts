/**
 * The broker's chain relay (docs/remote-protocol.md "Chain"): its own MQTT client reads
 * each device's `chain-state`, asks bitcoind (follower.ts) what the device has not seen,
 * and publishes that on the device's `chain` topic, one message in flight per device (the
 * device's next chain-state answers it; without an answer in `resendMs` it goes again).
 * bitcoind unreachable is logged UNUSUAL at once and BROKEN if it lasts (outage.ts), and
 * retried every poll. A request from lightningd waits on chain tracking only when its
 * decision reads the chain view, and then at most CATCH_UP_WAIT_MS (catchUp, catch-up.ts).
 */
import type { MqttClient } from 'mqtt';
import { decodeChainStatus, type DeviceChainStatus } from '../../signer/chain/status.js';
import { encodeChainUpdates } from '../../signer/chain/updates.js';
import { parseTopic, topic, TOPIC_ROOT } from '../../signer/remote/topics.js';
import { BitcoindUnreachable, RpcError } from './bitcoind-rpc.js';
import { CATCH_UP_WAIT_MS, waitsForDevice } from './catch-up.js';
import { nextChainMessage, type ChainRpc } from './follower.js';
import { outageAfterFailure, type Outage } from './outage.js';

export type RelayLog = (level: 'debug' | 'info' | 'unusual' | 'broken', text: string) => void;

export interface ChainRelayOptions {
  readonly mqtt: MqttClient;
  readonly rpc: ChainRpc;
  /** For the log: where bitcoind is. */
  readonly describe: string;
  /** For the log, when bitcoind does not answer: what to check (outage.ts unreachableFix). */
  readonly fix?: string;
  readonly pollMs: number;
  readonly resendMs?: number;
  readonly log: RelayLog;
}

/** What the status page shows of chain tracking. */
export interface ChainRelayStatus {
  readonly source: string;
  readonly bitcoindHeight: number | null;
  readonly reachable: boolean;
  readonly devices: readonly { readonly id: string; readonly status: DeviceChainStatus }[];
}

interface DeviceEntry {
  status: DeviceChainStatus;
  inFlightSince: number | undefined;
  problem: string | undefined;
}

export class ChainRelay {
  readonly #devices = new Map<string, DeviceEntry>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #outage: Outage | undefined;
  #bitcoindHeight: number | null = null;
  #closed = false;
  /** Called on every chain-state: catchUp's waits. */
  readonly #onStatus = new Set<() => void>();

  constructor(private readonly options: ChainRelayOptions) {}

  async start(): Promise<void> {
    const { mqtt, log } = this.options;
    mqtt.on('message', (name, payload) => this.#onMessage(name, new Uint8Array(payload)));
    await mqtt.subscribeAsync(`${TOPIC_ROOT}/+/chain-state`, { qos: 1 });
    log('info', `chain: following bitcoind at ${this.options.describe}, polling every ${this.options.pollMs} ms`);
    this.#timer = setInterval(() => this.#tick(), this.options.pollMs);
    this.#tick();
  }

  get status(): ChainRelayStatus {
    return {
      source: this.options.describe,
      bitcoindHeight: this.#bitcoindHeight,
      reachable: this.#outage === undefined,
      devices: [...this.#devices].map(([id, d]) => ({ id, status: d.status })),
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const wake of this.#onStatus) wake();
    await this.#running;
    await this.options.mqtt.endAsync();
  }

  #onMessage(name: string, payload: Uint8Array): void {
    const parsed = parseTopic(name);
    if (!parsed || parsed.suffix !== 'chain-state') return;
    let status: DeviceChainStatus;
    try {
      status = decodeChainStatus(payload);
    } catch (e) {
      this.options.log('unusual', `chain: device ${parsed.deviceId} sent a chain-state that does not parse (${(e as Error).message}); ignored`);
      return;
    }
    if (status.refused) {
      this.options.log('unusual', `chain: device ${parsed.deviceId} refused what it was shown: ${status.refused.name}: ${status.refused.detail}`);
    }
    const entry = this.#devices.get(parsed.deviceId);
    this.#devices.set(parsed.deviceId, { status, inFlightSince: undefined, problem: entry?.problem });
    this.#tick();
    for (const wake of this.#onStatus) wake();
  }

  /**
   * Before a request that reads the chain view: asks bitcoind its height and, if `deviceIds`
   * (default: every device) lag behind it, shows them what they miss now rather than at the
   * next poll and waits for their answer. Bounded by `maxWaitMs` in all; bitcoind not
   * answering, or a device not answering, lets the request go on as it would have.
   */
  async catchUp(deviceIds?: readonly string[], maxWaitMs = CATCH_UP_WAIT_MS): Promise<void> {
    if (this.#closed || this.#outage) return; // the poll finds out when bitcoind is back
    const deadline = Date.now() + maxWaitMs;
    const height = await this.#within(this.options.rpc.getBlockCount(), maxWaitMs).catch(() => undefined);
    if (height === undefined) return;
    this.#bitcoindHeight = height;
    const ids = deviceIds ?? [...this.#devices.keys()];
    const behind = () => ids.filter((id) => waitsForDevice(this.#devices.get(id), height));
    if (behind().length === 0) return;
    this.#tick(); // a message already in flight is answered first; the answer asks for the rest
    while (behind().length > 0) {
      const left = deadline - Date.now();
      if (left <= 0 || this.#closed) {
        this.options.log('debug', `chain: device ${behind().join(', ')} not caught up to bitcoind's height ${height} within ${maxWaitMs} ms; the request goes on`);
        return;
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#onStatus.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#onStatus.add(wake);
      });
    }
  }

  /** `promise`, or a rejection after `ms` (the RPC's own timeout is much longer). */
  #within<T>(promise: Promise<T>, ms: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('late')), ms)));
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
  }

  /** One pass over the devices; a pass asked for while one runs runs after it. */
  #tick(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#pass().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.#tick();
      }
    });
  }

  async #pass(): Promise<void> {
    const { log, mqtt, rpc } = this.options;
    const resendMs = this.options.resendMs ?? 30_000;
    for (const [id, d] of this.#devices) {
      if (d.inFlightSince !== undefined && Date.now() - d.inFlightSince < resendMs) continue;
      try {
        const next = await nextChainMessage(rpc, d.status);
        this.#bitcoindHeight = next.bitcoindHeight;
        if (this.#outage) {
          this.#outage = undefined;
          log('info', `chain: bitcoind at ${this.options.describe} answers again (height ${next.bitcoindHeight}); catching device ${id} up from ${d.status.tip?.height}`);
        }
        if (next.problem !== d.problem) {
          d.problem = next.problem;
          if (next.problem) log('unusual', `chain: device ${id}: ${next.problem}`);
        }
        if (next.updates.length === 0) continue;
        d.inFlightSince = Date.now();
        await mqtt.publishAsync(topic(id, 'chain'), Buffer.from(encodeChainUpdates(next.updates)), { qos: 1 });
      } catch (e) {
        if (!(e instanceof BitcoindUnreachable || e instanceof RpcError)) {
          d.inFlightSince = undefined;
          log('unusual', `chain: device ${id}: ${(e as Error).message}; trying again at the next poll`);
          continue;
        }
        const since = this.#outage?.since ?? Date.now();
        const { outage, level } = outageAfterFailure(this.#outage, Date.now());
        this.#outage = outage;
        const fix = this.options.fix ? `; ${this.options.fix}` : '';
        if (level === 'unusual') log(level, `chain: ${e.message}; the broker goes on serving lightningd without chain updates and retries every ${this.options.pollMs} ms${fix}`);
        if (level === 'broken') log(level, `chain: bitcoind at ${this.options.describe} has not answered for ${Math.round((Date.now() - since) / 1000)} s (${e.message}): the device's chain view falls behind${fix}`);
        return;
      }
    }
  }
}
