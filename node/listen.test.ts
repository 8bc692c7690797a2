/**
 * Where a default port goes (node/listen.ts), on real sockets: the port asked for, this
 * broker's port of last time, or a free one; and the port read back from an address file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { listenOrGiveWay, recordedPort, writeAddressFile } from './listen.js';

const HOST = '127.0.0.1';

/** A server listening on a free port: the port is then "in use". */
async function occupied(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer();
  const { port } = await listenOrGiveWay(server, 0, HOST, false);
  return { port, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * `n` distinct ports that were free a moment ago: held together while they are picked, so the
 * system cannot hand one out twice (nor one a server of the test still holds).
 */
async function freePorts(n: number): Promise<number[]> {
  const servers = [];
  for (let i = 0; i < n; i++) servers.push(await occupied());
  await Promise.all(servers.map((s) => s.close()));
  return servers.map((s) => s.port);
}

async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

async function listenOnce(port: number, givesWay: boolean, previous?: number) {
  const server = net.createServer();
  try {
    return await listenOrGiveWay(server, port, HOST, givesWay, previous);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

test('a default port: asked for when free; when in use, a free one', async () => {
  const port = await freePort();
  assert.deepEqual(await listenOnce(port, true), { port, took: 'asked' });
  const taken = await occupied();
  try {
    const result = await listenOnce(taken.port, true);
    assert.equal(result.took, 'free');
    assert.notEqual(result.port, taken.port);
  } finally {
    await taken.close();
  }
});

test("a default port keeps this broker's port of last time while it is free, whether the default is free or not", async () => {
  const [port, previous] = await freePorts(2);
  assert.deepEqual(await listenOnce(port, true, previous), { port: previous, took: 'previous' });
  const taken = await occupied();
  try {
    assert.deepEqual(await listenOnce(taken.port, true, previous), { port: previous, took: 'previous' });
    // Its old port now held by someone else: the default, and then any free port. The default
    // is picked while `taken` is held (a port freed earlier may since have become `taken`'s).
    const defaultPort = await freePort();
    assert.deepEqual(await listenOnce(defaultPort, true, taken.port), { port: defaultPort, took: 'asked' });
    const defaultTaken = await occupied();
    try {
      const result = await listenOnce(defaultTaken.port, true, taken.port);
      assert.equal(result.took, 'free');
      assert.ok(result.port !== taken.port && result.port !== defaultTaken.port);
    } finally {
      await defaultTaken.close();
    }
  } finally {
    await taken.close();
  }
});

test('a port the operator set: never another one, the previous one ignored, EADDRINUSE when taken', async () => {
  const [previous, port] = await freePorts(2);
  assert.deepEqual(await listenOnce(port, false, previous), { port, took: 'asked' });
  const taken = await occupied();
  try {
    await assert.rejects(listenOnce(taken.port, false, previous), (e: NodeJS.ErrnoException) => e.code === 'EADDRINUSE');
  } finally {
    await taken.close();
  }
});

test('recordedPort reads back what writeAddressFile wrote, by scheme; a missing file or a line it cannot read is no port', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-listen-'));
  try {
    assert.equal(recordedPort(dir, 'mqtt-url', 'mqtt'), undefined, 'no file yet');
    writeAddressFile(dir, 'mqtt-url', ['mqtt://127.0.0.1:41883', 'mqtts://<this host>:48883'], () => assert.fail('written'));
    assert.equal(recordedPort(dir, 'mqtt-url', 'mqtt'), 41883);
    assert.equal(recordedPort(dir, 'mqtt-url', 'mqtts'), 48883);
    writeAddressFile(dir, 'status-url', ['http://[::1]:18735/'], () => assert.fail('written'));
    assert.equal(recordedPort(dir, 'status-url', 'http'), 18735);
    writeFileSync(join(dir, 'mqtt-url'), 'mqtt://127.0.0.1:99999\nmqtt://127.0.0.1:0\nnot a url\nmqtts://host:x\n');
    assert.equal(recordedPort(dir, 'mqtt-url', 'mqtt'), undefined, 'ports out of range');
    assert.equal(recordedPort(dir, 'mqtt-url', 'mqtts'), undefined, 'no digits');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
