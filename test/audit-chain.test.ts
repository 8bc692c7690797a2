/**
 * sphinx-audit on a device journal that followed the chain: l2's recorded session decided
 * through the write-ahead core with its recorded chain journaled as sourced "chain" records
 * (each block shown when the run mined it), then `sphinx-audit state` (a real process) must
 * print the device's tip and each funding outpoint confirmed and spent where bitcoinjs-lib
 * finds them in the recorded blocks.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { SignerCore } from '../core/signer-core.js';
import { openJournalFiles } from '../log/journal/journal.js';
import { NodeDir } from '../node/node-file.js';
import { decideChain, watchedOutpoints } from '../signer/chain/track.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import { Signer } from '../signer/signer.js';
import { blockUpdates } from './chain-session.js';
import { repoRoot } from './fixtures.js';
import { display, recordedChain, recordedSession, type RecordedBlock } from './recorded-chain.js';

test('sphinx-audit state shows the device tip and its outpoints confirmed and spent', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-chain-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { exchanges, hsmSecret } = recordedSession('l2');
  const chain = recordedChain();
  const { core } = SignerCore.open(openJournalFiles(new NodeDir(dir)), (state) => new Signer({ curve: nobleCurve, developer: false, readHsmSecret: () => hsmSecret }, state));
  const show = (b: RecordedBlock) => {
    const decision = decideChain(core.state, blockUpdates(b, watchedOutpoints(core.state)));
    assert.ok(decision.ok);
    core.commit('chain', decision.events, b.block.timestamp * 1000);
  };
  let next = 1;
  for (const ex of exchanges) {
    while (next < chain.length && (chain[next]!.block.timestamp + 1) * 1000 <= ex.at && core.signer.initialized) show(chain[next++]!);
    core.handle({ id: ex.id, client: ex.client, at: Math.floor(ex.at / 1000), message: ex.message });
  }
  while (next < chain.length) show(chain[next++]!);

  const run = spawnSync(process.execPath, [join(repoRoot, 'bin', 'sphinx-audit'), 'state', '--journal', dir], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`^chain \\(regtest\\): tip ${chain.length - 1} ${chain.at(-1)!.hash}, 111 headers kept$`, 'm'));
  const lines = run.stdout.split('\n').filter((l) => l.startsWith('  outpoint '));
  assert.equal(lines.length, 2);
  for (const line of lines) {
    const [, txid, vout, confirmed, spent] = /^ {2}outpoint ([0-9a-f]{64}):(\d+): confirmed at (\d+) \(\d+ sat\), spent at (\d+) by [0-9a-f]{64}$/.exec(line)!;
    assert.equal(Number(confirmed), chain.findIndex((b) => b.block.transactions!.some((t) => t.getId() === txid)));
    assert.equal(Number(spent), chain.findIndex((b) => b.block.transactions!.some((t) => t.ins.some((i) => display(new Uint8Array(i.hash)) === txid && i.index === Number(vout)))));
  }
  // Each channel's timeline names its funding outpoint as bitcoind does: one bitcoinjs-lib finds in the chain.
  const audit = (...args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'bin', 'sphinx-audit'), ...args, '--json'], { encoding: 'utf8' });
  const channels = Object.keys(JSON.parse(audit('state', '--journal', dir).stdout).state.channels);
  assert.equal(channels.length, 2);
  for (const channel of channels) {
    const { fromJournal } = JSON.parse(audit('channel', channel, '--journal', dir).stdout) as { fromJournal: { kind: string; fundingOutpoint?: string }[] };
    const [txid, vout] = fromJournal.find((e) => e.kind === 'set-up')!.fundingOutpoint!.split(':');
    assert.ok(chain.some((b) => b.block.transactions!.some((t) => t.getId() === txid && t.outs.length > Number(vout))), `${channel}: funding ${txid}:${vout} is a transaction of the chain`);
  }
});
