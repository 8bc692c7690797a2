/**
 * Chain tracking beside a remote signer: starts the relay (relay.ts) on its own MQTT
 * client when a chain source is configured, says in the log why not otherwise, and stops
 * it with the signer. The status page reads the relay's status through `inspect`. A request
 * whose decision reads the chain view first lets the relay catch the device it goes to up
 * with bitcoind (relay.ts catchUp).
 */
import type { MqttClient } from 'mqtt';
import type { SignerPort } from '../signer-port.js';
import { BitcoindRpc } from './bitcoind-rpc.js';
import { readsChain } from './catch-up.js';
import { unreachableFix } from './outage.js';
import { ChainRelay, type RelayLog } from './relay.js';
import type { ChainSourceChoice } from './source.js';

export async function withChainRelay(signer: SignerPort, choice: ChainSourceChoice | undefined, connect: () => MqttClient, log: RelayLog): Promise<SignerPort> {
  if (!choice || 'off' in choice) {
    log('info', `chain: tracking off (${choice ? choice.off : 'not configured'}): the device's chain policies see no chain (docs/chain.md)`);
    return signer;
  }
  const { endpoint, pollMs, origin } = choice.source;
  const relay = new ChainRelay({ mqtt: connect(), rpc: new BitcoindRpc(endpoint), describe: `${endpoint.url} (from ${origin})`, fix: unreachableFix(origin), pollMs, log });
  await relay.start();
  return {
    request: async (envelope) => {
      if (readsChain(envelope.message)) {
        const active = signer.inspect?.().devices.find((d) => d.active)?.id;
        await relay.catchUp(active === undefined ? undefined : [active]);
      }
      return signer.request(envelope);
    },
    close: async () => {
      await relay.close();
      await signer.close();
    },
    inspect: signer.inspect && (() => ({ ...signer.inspect!(), chain: relay.status })),
    brokerLog: signer.brokerLog,
    control: signer.control?.bind(signer),
  };
}
