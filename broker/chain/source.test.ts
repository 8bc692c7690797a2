/**
 * Where the broker finds bitcoind (docs/chain.md "Configuration"), over real files: the
 * SPHINX_BITCOIND_* settings; else lightningd's own options, from its command line and the
 * config files of its lightning-dir (`config`, then `<network>/config`), the command line
 * winning; else bitcoind's default cookie; else off, saying why. Mistakes name the fix.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { chainSourceOf, ChainSourceError, type ChainSourceChoice, type LightningdContext } from './source.js';

/** A lightning-dir with a regtest network directory (where lightningd runs hsmd) and a home. */
function layout(t: test.TestContext): { lightningDir: string; networkDir: string; home: string } {
  const root = mkdtempSync(join(tmpdir(), 'sphinx-chain-source-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const lightningDir = join(root, 'lightning');
  const networkDir = join(lightningDir, 'regtest');
  const home = join(root, 'home');
  mkdirSync(networkDir, { recursive: true });
  mkdirSync(home);
  return { lightningDir, networkDir, home };
}

const sourceOf = (choice: ChainSourceChoice) => {
  assert.ok('source' in choice, `expected a source, got off: ${'off' in choice ? choice.off : ''}`);
  return choice.source;
};

test('SPHINX_BITCOIND_URL with a password or a cookie wins; SPHINX_CHAIN=off turns it off; mistakes name the fix', (t) => {
  const { networkDir, home } = layout(t);
  const ctx: LightningdContext = { cwd: networkDir, args: [], home };
  const url = 'http://10.0.0.2:18443/';
  assert.deepEqual(sourceOf(chainSourceOf({ SPHINX_BITCOIND_URL: url, SPHINX_BITCOIND_USER: 'u', SPHINX_BITCOIND_PASSWORD: 'p' }, ctx)).endpoint, { url, auth: { user: 'u', password: 'p' } });
  assert.deepEqual(sourceOf(chainSourceOf({ SPHINX_BITCOIND_URL: url, SPHINX_BITCOIND_COOKIE: '/c/.cookie' }, ctx)).endpoint, { url, auth: { cookieFile: '/c/.cookie' } });
  assert.deepEqual(chainSourceOf({ SPHINX_CHAIN: 'off', SPHINX_BITCOIND_URL: url }, ctx), { off: 'SPHINX_CHAIN=off' });
  assert.throws(() => chainSourceOf({ SPHINX_BITCOIND_URL: url }, ctx), (e: Error) => e instanceof ChainSourceError && /SPHINX_BITCOIND_COOKIE .* or SPHINX_BITCOIND_USER and SPHINX_BITCOIND_PASSWORD/.test(e.message));
  assert.throws(() => chainSourceOf({ SPHINX_BITCOIND_URL: '10.0.0.2:18443' }, ctx), /expected http:\/\/host:port/);
  assert.throws(() => chainSourceOf({ SPHINX_CHAIN: 'yes' }, ctx), /expected on .* or off/);
  assert.throws(() => chainSourceOf({ SPHINX_BITCOIND_POLL_MS: '5' }, ctx), /at least 10/);
  // Whole milliseconds in decimal, as every numeric setting; empty is the default (2000), as for the others.
  for (const poll of ['1e3', '0x20', ' 50', '2000.5']) assert.throws(() => chainSourceOf({ SPHINX_BITCOIND_POLL_MS: poll }, ctx), /at least 10; default 2000/, poll);
  const withUrl = { SPHINX_BITCOIND_URL: url, SPHINX_BITCOIND_COOKIE: '/c/.cookie' };
  assert.equal(sourceOf(chainSourceOf({ ...withUrl, SPHINX_BITCOIND_POLL_MS: '' }, ctx)).pollMs, 2000);
  assert.equal(sourceOf(chainSourceOf({ ...withUrl, SPHINX_BITCOIND_POLL_MS: '250' }, ctx)).pollMs, 250);
});

test('lightningd\'s options: lightning-dir/config, then <network>/config, then its command line; the network\'s port by default', (t) => {
  const { lightningDir, networkDir, home } = layout(t);
  writeFileSync(join(lightningDir, 'config'), '# lightningd config\nnetwork=regtest\nbitcoin-rpcuser=alice\nbitcoin-rpcpassword=secret\nlog-level=debug\n');
  const fromFile = sourceOf(chainSourceOf({}, { cwd: networkDir, args: [], home }));
  assert.deepEqual(fromFile.endpoint, { url: 'http://127.0.0.1:18443/', auth: { user: 'alice', password: 'secret' } }, 'regtest\'s RPC port');
  assert.match(fromFile.origin, new RegExp(`lightningd's options \\(${join(lightningDir, 'config')}\\)`));

  writeFileSync(join(networkDir, 'config'), 'bitcoin-rpcconnect=192.168.1.9\nbitcoin-rpcport=19001\n');
  assert.equal(sourceOf(chainSourceOf({}, { cwd: networkDir, args: [], home })).endpoint.url, 'http://192.168.1.9:19001/', 'the network\'s config adds to the first');

  const args = [`--lightning-dir=${lightningDir}`, '--network=regtest', '--bitcoin-rpcport', '19002', '--bitcoin-rpcpassword=fromargs', '--daemon'];
  const fromArgs = sourceOf(chainSourceOf({}, { cwd: networkDir, args, home }));
  assert.deepEqual(fromArgs.endpoint, { url: 'http://192.168.1.9:19002/', auth: { user: 'alice', password: 'fromargs' } }, 'the command line wins');
  assert.match(fromArgs.origin, /command line/);
});

test('a cookie: in lightningd\'s bitcoin-datadir, or bitcoind\'s default; nothing found is off, naming where it looked', (t) => {
  const { lightningDir, networkDir, home } = layout(t);
  const off = chainSourceOf({}, { cwd: networkDir, args: [], home });
  assert.ok('off' in off);
  assert.match(off.off, new RegExp(`no SPHINX_BITCOIND_URL, no bitcoin-rpcuser/bitcoin-rpcpassword or bitcoin-datadir in lightningd's options \\(no config file\\), and no ${join(home, '.bitcoin', 'regtest', '.cookie')}`));

  mkdirSync(join(home, '.bitcoin', 'regtest'), { recursive: true });
  writeFileSync(join(home, '.bitcoin', 'regtest', '.cookie'), '__cookie__:abc');
  assert.deepEqual(sourceOf(chainSourceOf({}, { cwd: networkDir, args: [], home })).endpoint, { url: 'http://127.0.0.1:18443/', auth: { cookieFile: join(home, '.bitcoin', 'regtest', '.cookie') } });

  writeFileSync(join(lightningDir, 'config'), 'bitcoin-datadir=/srv/bitcoin\n');
  assert.deepEqual(sourceOf(chainSourceOf({}, { cwd: networkDir, args: [], home })).endpoint.auth, { cookieFile: '/srv/bitcoin/regtest/.cookie' });

  // Mainnet: the lightning-dir itself (no network directory name), port 8332, the cookie at the datadir's top.
  const mainnet = sourceOf(chainSourceOf({}, { cwd: lightningDir, args: ['--mainnet'], home }));
  assert.deepEqual(mainnet.endpoint, { url: 'http://127.0.0.1:8332/', auth: { cookieFile: '/srv/bitcoin/.cookie' } });
});
