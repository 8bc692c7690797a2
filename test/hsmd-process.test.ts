/**
 * The hsmd process face, end to end: a real bin/sphinx-hsmd spawned as lightningd spawns
 * it, real socketpairs, real SCM_RIGHTS. These requests are all answered (or refused) by
 * the broker itself, so they need no signer. docs/hsmd-protocol.md#framing to docs/hsmd-protocol.md#status-channel, hsmd.c, common/status.c.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type TestContext, test } from 'node:test';
import type { StatusMessage } from '../broker/status-wire.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { Closed, type SyncConnection } from './sync-wire.js';

const VERSION = 'v25.12.1';
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Buffer => Buffer.from(h, 'hex');
/** Node ids from the recorded sessions: ours (secret 0x01×32) and a peer. */
const OUR_ID = bytes('026f61d7ee82f937f9697f4f3e44bfaaa25849cc4f526b3a57326130eba6346002');
const PEER = bytes('02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5');
/** CLN exits 0x80 | (0xFFF2 & 0xFF) after any status_fail (common/status.c status_send_fatal). */
const EXIT_FATAL = 242;

async function start(t: TestContext, args: string[] = []): Promise<SimLightningd> {
  const ld = await SimLightningd.start({ env: { SPHINX_CLN_VERSION: VERSION, SPHINX_SIGNER: 'local' }, args, timeoutMs: 5000 });
  t.after(() => ld.cleanup());
  await ld.waitForStatus((m) => m.kind === 'version');
  return ld;
}

const badRequestFor = (ld: SimLightningd, msg: string): Promise<StatusMessage> =>
  ld.waitForStatus((m) => m.kind === 'badRequest' && hex(m.msg) === msg);

/** O_NONBLOCK (octal 04000) in /proc/self/fdinfo: set on the open file description. */
function isNonBlocking(fd: number): boolean {
  const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!;
  return (parseInt(flags, 8) & 0o4000) !== 0;
}

/** Proves hsmd still serves the master: a new client fd arrives. */
function assertMasterServes(ld: SimLightningd, dbid: bigint): SyncConnection {
  return ld.hsmfd(PEER, dbid, 0x18n);
}

test('status_version is the first message on fd 0 and carries the configured version', async (t) => {
  const ld = await start(t);
  assert.deepEqual(ld.statusMessages[0], { kind: 'version', version: VERSION });
});

test('hsmd_client_hsmfd: reply 109 (empty), then a blocking client fd that reaches hsmd', async (t) => {
  const ld = await start(t);
  const reply = ld.master.request(bytes('0009' + hex(OUR_ID) + '0000000000000000' + '0000000000000001'));
  assert.equal(hex(reply), '006d');
  const connectd = ld.adoptClientFd(ld.master.receiveFd());
  // Subdaemons use blocking wire_sync_*; EAGAIN would be a failure for them (docs/hsmd-protocol.md#framing).
  assert.equal(isNonBlocking(connectd.fd), false);
  // The fd is hsmd's client (our id, dbid 0, ECDH only): sign_message is refused on it.
  connectd.send('0017000161');
  assert.equal(connectd.waitClosed(), true);
  const bad = await badRequestFor(ld, '0017000161');
  assert.equal(bad.kind === 'badRequest' && hex(bad.id), hex(OUR_ID));
});

test('a bad request closes only that client and is reported on fd 0 (hsmd.c bad_req_fmt)', async (t) => {
  const ld = await start(t);
  const bystander = ld.hsmfd(PEER, 40n, 0x1bfn);
  const cases = [
    { perms: 0x1n, dbid: 0n, peer: OUR_ID, msg: '0017000568656c6c6f', type: '23' }, // sign_message, ECDH only
    { perms: 0x3n, dbid: 0n, peer: OUR_ID, msg: '0064' + '00'.repeat(32), type: '100' }, // a reply type
    { perms: 0x1bfn, dbid: 41n, peer: PEER, msg: '270f', type: '9999' }, // unknown
    { perms: 0x18n, dbid: 42n, peer: PEER, msg: '00', type: '-1' }, // shorter than a type: peektype -1
  ];
  const clients = cases.map((c) => ld.hsmfd(c.peer, c.dbid, c.perms));
  clients.forEach((client, i) => client.send(cases[i]!.msg));
  for (const [i, client] of clients.entries()) {
    const c = cases[i]!;
    assert.equal(client.waitClosed(), true, `client ${i} closed`);
    const bad = await badRequestFor(ld, c.msg);
    assert.deepEqual(
      bad.kind === 'badRequest' && [hex(bad.id), bad.description],
      [hex(c.peer), `client does not have capability to run ${c.type}`],
    );
    await ld.waitForStatus(
      (m) => m.kind === 'log' && m.level === 6 && m.entry === `${hex(c.peer)}: client does not have capability to run ${c.type}`,
    );
  }
  assert.equal(bystander.waitClosed(200), false, 'other clients stay open');
  assertMasterServes(ld, 43n);
  assert.equal(ld.statusMessages.filter((m) => m.kind === 'fail').length, 0);
});

test('a frame length at WIRE_LEN_LIMIT closes that client with a clear log; hsmd lives on', async (t) => {
  const ld = await start(t);
  const client = ld.hsmfd(PEER, 7n, 0x1bfn);
  client.writeAll(bytes('08000000')); // 1<<27
  assert.equal(client.waitClosed(), true);
  await ld.waitForStatus((m) => m.kind === 'log' && /client 1 \(dbid 7\).*WIRE_LEN_LIMIT/.test(m.entry));
  assertMasterServes(ld, 8n);
});

test('a new client with the same nonzero dbid closes the old connection', async (t) => {
  const ld = await start(t);
  const old = ld.hsmfd(PEER, 5n, 0x1bfn);
  const replacement = ld.hsmfd(PEER, 5n, 0x1bfn);
  assert.equal(old.waitClosed(), true);
  assert.equal(replacement.waitClosed(200), false);
});

test('more than three dbid 0 clients: CLN would abort; we log it and serve on', async (t) => {
  const ld = await start(t);
  ld.hsmfd(OUR_ID, 0n, 0x1n);
  ld.hsmfd(OUR_ID, 0n, 0x3n);
  ld.hsmfd(OUR_ID, 0n, 0x1n);
  await ld.waitForStatus((m) => m.kind === 'log' && m.level === 6 && /beyond CLN's 3/.test(m.entry));
  assertMasterServes(ld, 9n);
});

test('the master closing ends hsmd with exit code 2 (master_gone)', async (t) => {
  const ld = await start(t);
  ld.master.close();
  assert.deepEqual(await ld.exited(), { code: 2, signal: null });
});

test('a bad request on the master: status_fail MASTER_IO, then exit 242', async (t) => {
  const ld = await start(t);
  ld.master.send('270f');
  assert.deepEqual(await ld.exited(), { code: EXIT_FATAL, signal: null });
  const fail = ld.statusMessages.find((m) => m.kind === 'fail');
  // master_badmsg: "Error parsing %u: %s" with the type and the whole message in hex.
  assert.deepEqual(fail, { kind: 'fail', reason: 0, desc: 'Error parsing 9999: 270f' });
  const broken = ld.statusMessages.find((m) => m.kind === 'log' && m.level === 6);
  assert.equal(broken?.kind === 'log' && broken.entry, 'client does not have capability to run 9999');
});

test('a truncated hsmd_client_hsmfd on the master is a bad request ("could not parse request")', async (t) => {
  const ld = await start(t);
  ld.master.send('0009' + hex(OUR_ID));
  assert.equal((await ld.exited()).code, EXIT_FATAL);
  const fail = ld.statusMessages.find((m) => m.kind === 'fail');
  assert.deepEqual(fail, { kind: 'fail', reason: 0, desc: `Error parsing 9: 0009${hex(OUR_ID)}` });
  assert.ok(ld.statusMessages.some((m) => m.kind === 'log' && m.level === 6 && m.entry === 'could not parse request'));
});

test('hsmd_client_hsmfd with an invalid node id: status_failed INTERNAL_ERROR (new_client)', async (t) => {
  const ld = await start(t);
  const invalid = '02' + '00'.repeat(32);
  ld.master.send('0009' + invalid + '0000000000000001' + '0000000000000018');
  assert.equal((await ld.exited()).code, EXIT_FATAL);
  const fail = ld.statusMessages.find((m) => m.kind === 'fail');
  assert.deepEqual(fail, { kind: 'fail', reason: 3, desc: `Invalid node id ${invalid}` });
});

test('descriptors run out (clients held open up to RLIMIT_NOFILE): the next client_hsmfd is a loud status_fail, not silence', async (t) => {
  const ld = await SimLightningd.start({ env: { SPHINX_CLN_VERSION: VERSION, SPHINX_SIGNER: 'local' }, timeoutMs: 5000, nofile: 64 });
  t.after(() => ld.cleanup());
  await ld.waitForStatus((m) => m.kind === 'version');
  const held: SyncConnection[] = [];
  let ended: unknown;
  for (let dbid = 1n; dbid <= 200n && ended === undefined; dbid++) {
    try {
      held.push(ld.hsmfd(PEER, dbid, 0x18n)); // kept open: each is a live client in hsmd
    } catch (e) {
      ended = e;
    }
  }
  assert.ok(held.length > 0, 'some clients were created before the limit');
  assert.ok(ended instanceof Closed, `the master was closed, not left without a reply (got ${String(ended)})`);
  assert.equal((await ld.exited()).code, EXIT_FATAL);
  const fail = ld.statusMessages.find((m) => m.kind === 'fail');
  assert.ok(fail?.kind === 'fail' && fail.reason === 3, 'status_fail INTERNAL_ERROR');
  assert.match(fail.desc, /^creating fds: .*(EMFILE|too many open files)/i);
});
