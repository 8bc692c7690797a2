/**
 * The follower against a JSON-RPC server serving the recorded regtest blocks as bitcoind
 * would (test/fake-bitcoind.ts), showing an in-process device core (decideChain on its
 * state) what it finds: the device follows block by block, through a 2-block reorg and an
 * outage of bitcoind. Heights of confirmations and spends come from bitcoinjs-lib.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { reorgScenario } from '../../test/chain-session.js';
import { FakeBitcoind } from '../../test/fake-bitcoind.js';
import { display, recordedChain, recordedSession } from '../../test/recorded-chain.js';
import { nobleCurve } from '../../signer/crypto/noble.js';
import { chainStatusOf } from '../../signer/chain/status.js';
import { decideChain } from '../../signer/chain/track.js';
import { tipOf } from '../../signer/chain/view.js';
import { Signer } from '../../signer/signer.js';
import type { SignerState } from '../../signer/state.js';
import { BitcoindRpc, BitcoindUnreachable } from './bitcoind-rpc.js';
import { nextChainMessage } from './follower.js';

const chain = recordedChain();

/** Runs the follower until it has nothing new; returns the device's state and how many messages it took. */
async function catchUp(rpc: BitcoindRpc, signer: Signer): Promise<number> {
  for (let messages = 0; ; messages++) {
    const next = await nextChainMessage(rpc, chainStatusOf(signer.state));
    assert.equal(next.problem, undefined);
    if (next.updates.length === 0) return messages;
    const decision = decideChain(signer.state, next.updates);
    assert.ok(decision.ok, decision.ok ? '' : `${decision.refusal.name}: ${decision.refusal.detail}`);
    signer.apply(decision.events);
  }
}

const rpcOf = (f: FakeBitcoind) => new BitcoindRpc({ url: f.url, auth: { user: f.user, password: f.password } });

for (const node of ['l1', 'l2'] as const) {
  test(`${node}: the follower takes the device along the recorded chain block by block; fundings confirm and are spent at their heights`, async () => {
    const bitcoind = await FakeBitcoind.start({ tip: 0 });
    try {
      const rpc = rpcOf(bitcoind);
      const { exchanges, hsmSecret } = recordedSession(node);
      const signer = new Signer({ curve: nobleCurve, developer: false, readHsmSecret: () => hsmSecret });
      const confirmed = new Map<string, number>();
      const spent = new Map<string, number>();
      const note = (state: SignerState) => {
        for (const [k, s] of state.chain?.outpoints ?? []) {
          if (s.confirmed && !confirmed.has(k)) confirmed.set(k, s.confirmed.height);
          if (s.spent && !spent.has(k)) spent.set(k, s.spent.height);
        }
      };
      for (const ex of exchanges) {
        // bitcoind mines what the run mined before this request (block times, to the second).
        while (bitcoind.tip + 1 < chain.length && (chain[bitcoind.tip + 1]!.block.timestamp + 1) * 1000 <= ex.at && signer.initialized) {
          bitcoind.tip++;
          await catchUp(rpc, signer);
          assert.equal(display(tipOf(signer.state.chain!).hash), chain[bitcoind.tip]!.hash);
          note(signer.state);
        }
        signer.handle({ id: ex.id, client: ex.client, at: Math.floor(ex.at / 1000), message: ex.message });
      }
      bitcoind.tip = chain.length - 1;
      await catchUp(rpc, signer);
      assert.equal(display(tipOf(signer.state.chain!).hash), chain.at(-1)!.hash);
      // Each funding: mined and spent where bitcoinjs-lib finds it in the recorded blocks.
      assert.equal(confirmed.size, 2);
      for (const [key, height] of confirmed) {
        const [txid, vout] = [display(new Uint8Array(Buffer.from(key.split(':')[0]!, 'hex'))), Number(key.split(':')[1])];
        assert.equal(height, chain.findIndex((b) => b.block.transactions!.some((t) => t.getId() === txid)));
        assert.equal(spent.get(key), chain.findIndex((b) => b.block.transactions!.some((t) => t.ins.some((i) => display(new Uint8Array(i.hash)) === txid && i.index === vout))));
      }
    } finally {
      await bitcoind.stop();
    }
  });
}

test('a 2-block reorg at bitcoind: the follower finds the fork and the device moves to the new branch', async () => {
  const { state, branch, funding } = reorgScenario();
  const bitcoind = await FakeBitcoind.start({ tip: 104 });
  try {
    const rpc = rpcOf(bitcoind);
    const signer = new Signer({ curve: nobleCurve, developer: false, readHsmSecret: () => recordedSession('l1').hsmSecret }, state);
    assert.equal(await catchUp(rpc, signer), 0);
    bitcoind.reorg(103, branch);
    assert.equal(await catchUp(rpc, signer), 1);
    const view = signer.state.chain!;
    assert.equal(display(tipOf(view).hash), branch[2]!.getId());
    const status = chainStatusOf(signer.state).watched.find((w) => w.outpoint === `${funding.getId()}:0`)!;
    assert.deepEqual(status, { outpoint: `${funding.getId()}:0`, confirmed: 104, spent: null });
  } finally {
    await bitcoind.stop();
  }
});

test('bitcoind unreachable: the follower says so by name, and catches up when it is back', async () => {
  const bitcoind = await FakeBitcoind.start({ tip: 50 });
  try {
    const rpc = rpcOf(bitcoind);
    const signer = new Signer({ curve: nobleCurve, developer: false, readHsmSecret: () => recordedSession('l1').hsmSecret });
    signer.handle({ ...recordedSession('l1').exchanges[0]!, at: 0 });
    await catchUp(rpc, signer);
    await bitcoind.down();
    await assert.rejects(nextChainMessage(rpc, chainStatusOf(signer.state)), (e: Error) => e instanceof BitcoindUnreachable && e.message.includes(bitcoind.url));
    bitcoind.tip = 120;
    await bitcoind.up();
    await catchUp(rpc, signer);
    assert.equal(display(tipOf(signer.state.chain!).hash), chain[120]!.hash);
  } finally {
    await bitcoind.stop();
  }
});

test('credentials: a cookie file works, a wrong password is refused with the fix named', async (t) => {
  const bitcoind = await FakeBitcoind.start({ tip: 5 });
  try {
    const cookieDir = mkdtempSync(join(tmpdir(), 'cookie-'));
    t.after(() => rmSync(cookieDir, { recursive: true, force: true }));
    const cookieFile = join(cookieDir, '.cookie');
    writeFileSync(cookieFile, `${bitcoind.user}:${bitcoind.password}`);
    assert.equal(await new BitcoindRpc({ url: bitcoind.url, auth: { cookieFile } }).getBlockCount(), 5);
    const wrong = new BitcoindRpc({ url: bitcoind.url, auth: { user: bitcoind.user, password: 'nope' } });
    await assert.rejects(wrong.getBlockCount(), /HTTP 401.*SPHINX_BITCOIND_USER/);
    await assert.rejects(rpcOf(bitcoind).call('nosuchcall'), /Method not found \(code -32601\)/);
  } finally {
    await bitcoind.stop();
  }
});
