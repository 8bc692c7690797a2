/**
 * The broker's chain relay (docs/remote-protocol.md "Chain"): its own MQTT client reads
 * each device's `chain-state`, asks bitcoind (follower.ts) what the device has not seen,
 * and publishes that on the device's `chain` topic, one message in flight per device (the
 * device's next chain-state answers it; without an answer in `resendMs` it goes again).
 * bitcoind unreachable is logged loudly once per outage and retried every poll; requests
 * from lightningd never wait on any of this.
 */
import type { MqttClient } from 'mqtt';
import { decodeChainStatus, type DeviceChainStatus } from '../../signer/chain/status.js';
import { encodeChainUpdates } from '../../signer/chain/updates.js';
import { parseTopic, topic, TOPIC_ROOT } from '../../signer/remote/topics.js';
import { BitcoindUnreachable, RpcError } from './bitcoind-rpc.js';
import { nextChainMessage, type ChainRpc } from './follower.js';

export type RelayLog = (level: 'debug' | 'info' | 'unusual' | 'broken', text: string) => void;

export interface ChainRelayOptions {
  readonly mqtt: MqttClient;
  readonly rpc: ChainRpc;
  /** For the log: where bitcoind is. */
  readonly describe: string;
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
  #reachable = true;
  #bitcoindHeight: number | null = null;
  #closed = false;

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
      reachable: this.#reachable,
      devices: [...this.#devices].map(([id, d]) => ({ id, status: d.status })),
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
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
        if (!this.#reachable) {
          this.#reachable = true;
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
        if (this.#reachable) {
          this.#reachable = false;
          log('broken', `chain: ${e.message}; the broker goes on serving lightningd without chain updates and retries every ${this.options.pollMs} ms`);
        }
        return;
      }
    }
  }
}
