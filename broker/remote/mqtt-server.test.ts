/**
 * The embedded MQTT server's doors (docs/remote-protocol.md "Connecting"), with real aedes,
 * real mqtt.js clients and LevelDB: a fresh token from a known key gets in; a forged
 * signature, an expired token, a reused token and an unknown key are refused; a device may
 * not publish or subscribe under another device's id; each refusal is logged with its
 * reason. TCP_NODELAY is on at both ends; the first device is pinned when none is configured;
 * the TLS listener authenticates the same way; the broker's own client inside the process
 * (local-client.ts) publishes and subscribes as a connected client would.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { nobleCurve } from '../../signer/crypto/noble.js';
import { type Credentials, makeCredentials } from '../../signer/remote/auth-token.js';
import { topic } from '../../signer/remote/topics.js';
import { fastCurve } from '../../node/curve-native.js';
import { KnownDevices } from './identity.js';
import { DEVICE_MAX_PACKET, type GateVerdict, MAX_CLIENT_ID_LENGTH, MAX_CONNECTIONS, MAX_WAITING, MqttGate, PRE_AUTH_BUDGET, PRE_AUTH_MAX_PACKET } from './mqtt-limits.js';
import { hasNoDelay } from './mqtt-connect.js';
import { attempt, BROKER_ID, floodBeforeAuth, ID_A, ID_B, KEY_A, KEY_B, now, otherSpelling, REFUSED_256_MIB, REPLAYED_RESPELLED, serverIn, url, withServer } from '../../test/embedded-mqtt.js';

test('a fresh token from a known key gets in; TCP_NODELAY on both sockets', async () => {
  await withServer([ID_A], async (server, lines) => {
    const { client, error } = await attempt(url(server), ID_A, makeCredentials(nobleCurve, KEY_A, BROKER_ID, now(), 0n));
    assert.equal(error, undefined);
    assert.ok(hasNoDelay(client.stream), 'client socket has TCP_NODELAY');
    assert.ok(server.sockets().length > 0 && server.sockets().every(hasNoDelay), 'accepted sockets have TCP_NODELAY');
    assert.ok(lines.some((l) => l.includes(`device ${ID_A} authenticated`)));
    await client.endAsync();
  });
});

test('the broker\'s local client: publishes at QoS 1 to a device, gets its messages once however often a filter is asked for, retained ones on subscribing (retain true), none after it ends', async () => {
  await withServer([ID_A], async (server) => {
    const own = server.localClient();
    const got: string[] = [];
    own.on('message', (name, payload, packet) => got.push(`${name.split('/').pop()} ${payload.toString()} retain=${packet.retain}`));
    const { client: device, error } = await attempt(url(server), ID_A, makeCredentials(nobleCurve, KEY_A, BROKER_ID, now(), 0n));
    assert.equal(error, undefined);
    await device.publishAsync(topic(ID_A, 'status'), 'online', { qos: 1, retain: true });
    await own.subscribeAsync(['sphinx/v1/+/status', 'sphinx/v1/+/res'], { qos: 1 });
    assert.deepEqual(got.splice(0), ['status online retain=true'], 'the retained status, as a subscribing client gets it');
    await own.subscribeAsync(['sphinx/v1/+/status'], { qos: 1 }); // another part asks for it too
    assert.deepEqual(got.splice(0), ['status online retain=true'], 'retained ones again, as a server sends them on every subscribe');
    const received = new Promise<[string, Buffer]>((resolve) => device.once('message', (name, payload) => resolve([name, payload])));
    await device.subscribeAsync(topic(ID_A, 'req'), { qos: 1 });
    await own.publishAsync(topic(ID_A, 'req'), Buffer.from('request'), { qos: 1 });
    assert.deepEqual(await received, [topic(ID_A, 'req'), Buffer.from('request')]);
    await device.publishAsync(topic(ID_A, 'res'), 'reply', { qos: 0 });
    await device.publishAsync(topic(ID_A, 'status'), 'offline', { qos: 1 });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(got.splice(0), ['res reply retain=false', 'status offline retain=false'], 'live messages once each, in order');
    await own.endAsync();
    await device.publishAsync(topic(ID_A, 'res'), 'late', { qos: 1 });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(got, [], 'nothing after endAsync');
    await assert.rejects(own.publishAsync(topic(ID_A, 'req'), Buffer.from('x'), { qos: 1 }), /ended/);
    await device.endAsync();
  });
});

test('refused, each with its reason logged: forged signature, expired token, reused token, unknown key', async () => {
  await withServer([ID_A], async (server, lines) => {
    const refusals: [string, Credentials, RegExp][] = [
      ['forged signature', { username: ID_A, password: makeCredentials(nobleCurve, KEY_B, BROKER_ID, now(), 0n).password }, /bad signature/],
      ['token for another broker', makeCredentials(nobleCurve, KEY_A, 'another-broker', now(), 0n), new RegExp(`bad signature: not signed over this broker's id ${BROKER_ID}; most likely the device was started with another --broker-id`)],
      ['expired token', makeCredentials(nobleCurve, KEY_A, BROKER_ID, now() - 6 * 60_000, 0n), /token expired: device clock 360 s behind this broker's \(limit 300 s old\): set the device clock right/],
      ['token from the future', makeCredentials(nobleCurve, KEY_A, BROKER_ID, now() + 120_000, 0n), /token from the future: device clock 120 s ahead of this broker's \(tolerance 30 s\)/],
      ['unknown key', makeCredentials(nobleCurve, KEY_B, BROKER_ID, now(), 0n), new RegExp(`unknown key ${ID_B}`)],
    ];
    for (const [what, creds, reason] of refusals) {
      const before = lines.length;
      const { error } = await attempt(url(server), creds.username, creds);
      assert.ok(error, `${what}: refused`);
      assert.match(error.message, /Bad username or password|Not authorized/, what);
      const logged = lines.slice(before).find((l) => l.startsWith('unusual: MQTT: refused connection'));
      assert.ok(logged, `${what}: logged`);
      assert.match(logged, reason, what);
    }

    const creds = makeCredentials(nobleCurve, KEY_A, BROKER_ID, now(), 0n);
    const first = await attempt(url(server), ID_A, creds);
    assert.equal(first.error, undefined, 'first use of the token');
    await first.client.endAsync();
    const before = lines.length;
    const again = await attempt(url(server), ID_A, creds);
    assert.ok(again.error, 'reused token refused');
    assert.match(lines.slice(before).join('\n'), /refused connection .*: token already used/);
  });
});

for (const [name, curve] of [['noble', nobleCurve], ['native', fastCurve()]] as const) {
  test(`a used token is refused in its other (high-S) spelling and after a server restart (${name} curve)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sphinx-replay-'));
    const lines: string[] = [];
    const refusals = () => lines.filter((l) => l.startsWith('unusual: MQTT: refused connection'));
    try {
      const creds = makeCredentials(nobleCurve, KEY_A, BROKER_ID, now(), 0n);
      let server = await serverIn(dir, [ID_A], lines, undefined, curve);
      const device = await attempt(url(server), ID_A, creds);
      assert.equal(device.error, undefined, 'the device logs in');
      await device.client.endAsync();
      const malleated = await attempt(url(server), ID_A, otherSpelling(creds));
      assert.ok(malleated.error, 'the high-S spelling of the used token is refused');
      assert.match(refusals().at(-1)!, REPLAYED_RESPELLED);
      assert.doesNotMatch(refusals().at(-1)!, /broker-id \(it must be/);
      await server.close();

      server = await serverIn(dir, [ID_A], lines, undefined, curve);
      try {
        for (const replay of [creds, otherSpelling(creds)]) {
          const again = await attempt(url(server), ID_A, replay);
          assert.ok(again.error, 'a restarted server still refuses the used token');
        }
        assert.match(refusals().at(-2)!, /: token already used/);
        assert.match(refusals().at(-1)!, REPLAYED_RESPELLED);
        const fresh = await attempt(url(server), ID_A, makeCredentials(nobleCurve, KEY_A, BROKER_ID, now() + 1, 0n));
        assert.equal(fresh.error, undefined, 'a fresh token still gets in');
        await fresh.client.endAsync();
      } finally {
        await server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a device may not publish or subscribe under another device\'s id; the refusals are logged', async () => {
  await withServer([ID_A, ID_B], async (server, lines) => {
    const { client } = await attempt(url(server), ID_A, makeCredentials(nobleCurve, KEY_A, BROKER_ID, now(), 0n));
    assert.deepEqual((await client.subscribeAsync(topic(ID_A, 'req'), { qos: 1 })).map((g) => g.qos), [1]);
    for (const filter of [topic(ID_B, 'req'), 'sphinx/v1/#', 'sphinx/v1/+/req']) {
      // SUBACK 0x80, which mqtt.js reports as an error.
      await assert.rejects(client.subscribeAsync(filter, { qos: 1 }), /Subscribe error/, filter);
      assert.ok(lines.some((l) => l.includes(`refused subscription from ${ID_A}`) && l.includes(`not to ${filter}`)), filter);
    }

    // Its own subtree is fine; another device's is refused and the client disconnected (MQTT 3.1.1 has no negative PUBACK).
    await client.publishAsync(topic(ID_A, 'res'), 'x', { qos: 1 });
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    client.publish(topic(ID_B, 'res'), 'forged reply', { qos: 1 });
    await closed;
    assert.ok(lines.some((l) => l.includes(`refused publish from ${ID_A}`) && l.includes(`not to ${topic(ID_B, 'res')}`)));
    client.end(true);

    // The broker's own client is exempt: it reads every device's replies.
    const own = await attempt(url(server), 'sphinx-broker-test', server.internalCredentials);
    assert.equal(own.error, undefined);
    assert.deepEqual((await own.client.subscribeAsync('sphinx/v1/+/res', { qos: 1 })).map((g) => g.qos), [1]);
    await own.client.endAsync();
    const wrong = await attempt(url(server), 'sphinx-broker-test', { username: server.internalCredentials.username, password: 'guess' });
    assert.ok(wrong.error);
  });
});

test('a device may not publish its own `refused` (only the broker refuses a device); the refusal is logged', async () => {
  await withServer([ID_A], async (server, lines) => {
    const { client } = await attempt(url(server), ID_A, makeCredentials(nobleCurve, KEY_A, BROKER_ID, now(), 0n));
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    client.publish(topic(ID_A, 'refused'), '{"v":1,"reason":"rollback","lastId":"0","answeredUpTo":"9"}', { qos: 1 });
    await closed;
    assert.ok(lines.some((l) => l.includes(`refused publish from ${ID_A}`) && l.includes(`may not publish ${topic(ID_A, 'refused')}`)));
    client.end(true);
  });
});

test('no key configured: the first device is pinned (durably, loudly); another is then unknown', async () => {
  await withServer([], async (server, lines, dir) => {
    const a = await attempt(url(server), ID_A, makeCredentials(nobleCurve, KEY_A, BROKER_ID, now(), 0n));
    assert.equal(a.error, undefined);
    assert.equal(readFileSync(join(dir, 'pinned-devices'), 'utf8'), `${ID_A}\n`);
    assert.ok(lines.some((l) => l.startsWith(`unusual: MQTT: PINNED DEVICE ${ID_A}`)));
    await a.client.endAsync();
    const b = await attempt(url(server), ID_B, makeCredentials(nobleCurve, KEY_B, BROKER_ID, now(), 0n));
    assert.ok(b.error);
    assert.ok(lines.some((l) => l.includes(`unknown key ${ID_B}: this broker lets in the device pinned in`)));
    const pinned = join(dir, 'pinned-devices');
    assert.deepEqual(new KnownDevices(dir, []).admit(ID_B), {
      known: false,
      reason: `unknown key ${ID_B}: this broker lets in the device pinned in ${pinned} (${ID_A}). A device's key is the node id of its hsm_secret, ` +
        "so this device holds another seed: most likely it was set up with another node's seed (give it this node's hsm_secret); " +
        `if it is this node's device and the pinned one is not (another seed's device connected first), stop sphinx-hsmd, delete ${pinned} (or set SPHINX_DEVICE_KEYS=${ID_B}) and start it again`,
    });
    // Configured keys, and lightningd's node id once init revealed it, are named instead.
    const configured = new KnownDevices(dir, [ID_A]);
    configured.learnInitNodeId(ID_A);
    const verdict = configured.admit(ID_B);
    assert.ok(!verdict.known);
    assert.match(verdict.reason, new RegExp(`^unknown key ${ID_B}: this broker lets in SPHINX_DEVICE_KEYS \\(${ID_A}\\), and lightningd's node id ${ID_A} \\(its init\\)\\. .*another node's seed.*; if it is this node's device after all, add ${ID_B} to SPHINX_DEVICE_KEYS$`));
  });
});

const openssl = spawnSync('sh', ['-c', 'command -v openssl']).status === 0;
test('the TLS listener authenticates devices the same way', { skip: !openssl && 'openssl is not installed' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-tls-'));
  const [certFile, keyFile] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', keyFile, '-out', certFile], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  try {
    await withServer([ID_A], async (server) => {
      assert.ok(server.tlsPort);
      const tlsUrl = `mqtts://localhost:${server.tlsPort}`;
      const ok = await attempt(tlsUrl, ID_A, makeCredentials(nobleCurve, KEY_A, BROKER_ID, now(), 0n), { ca: readFileSync(certFile) });
      assert.equal(ok.error, undefined);
      assert.ok(hasNoDelay(ok.client.stream));
      await ok.client.endAsync();
      const bad = await attempt(tlsUrl, ID_B, makeCredentials(nobleCurve, KEY_B, BROKER_ID, now(), 0n), { ca: readFileSync(certFile) });
      assert.ok(bad.error);
    }, { certFile, keyFile });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('memory before authentication: CONNECTs announcing 256 MiB are cut off, the server\'s RSS stays bounded', async () => {
  await withServer([ID_A], async (server, lines) => {
    global.gc?.();
    const before = process.memoryUsage().rss;
    const flooded = await floodBeforeAuth(server.port);
    const grown = (process.memoryUsage().rss - before) / 2 ** 20;
    assert.ok(grown < 48, `RSS grew by ${grown.toFixed(1)} MiB while 4 clients sent ${flooded.reduce((a, f) => a + f.sent, 0) / 2 ** 20} MiB`);
    assert.ok(flooded.every((f) => f.cutOff), 'each socket was closed by the server before it had sent its 32 MiB');
    assert.ok(lines.filter((l) => REFUSED_256_MIB.test(l)).length === 4, lines.join('\n'));
    // A device still gets in, and its packets may be larger than before authentication.
    const { client, error } = await attempt(url(server), ID_A, makeCredentials(nobleCurve, KEY_A, BROKER_ID, now(), 0n));
    assert.equal(error, undefined);
    await client.publishAsync(topic(ID_A, 'res'), Buffer.alloc(1024 * 1024), { qos: 1 });
    await client.endAsync();
  });
});

test('memory after authentication: a device publishing a reply above its packet limit is closed and named in the log; the server keeps serving others', async () => {
  await withServer([ID_A, ID_B], async (server, lines) => {
    const loud = await attempt(url(server), ID_A, makeCredentials(nobleCurve, KEY_A, BROKER_ID, now(), 0n));
    assert.equal(loud.error, undefined);
    loud.client.on('error', () => {}); // the server cuts the socket mid-publish
    const closed = new Promise<void>((r) => loud.client.once('close', () => r()));
    const payload = Buffer.alloc(5 * 1024 * 1024, 0x42);
    assert.ok(payload.length > DEVICE_MAX_PACKET);
    const acknowledged = new Promise<string>((r) => loud.client.publish(topic(ID_A, 'res'), payload, { qos: 1 }, (e) => void (e || r('acknowledged'))));
    assert.equal(await Promise.race([closed.then(() => 'closed'), acknowledged]), 'closed');
    loud.client.end(true);
    const refused = lines.filter((l) => l.startsWith('unusual: MQTT: refused connection') && l.includes(`of client ${ID_A}`));
    assert.equal(refused.length, 1, lines.join('\n'));
    const [, announced] = /: a packet of (\d+) bytes from a device \(limit (\d+)\)$/.exec(refused[0]!) ?? [];
    assert.ok(Number(announced) > payload.length, refused[0]);
    assert.ok(refused[0]!.endsWith(`(limit ${DEVICE_MAX_PACKET})`), refused[0]);

    // Another device gets in and round-trips a reply of 1 MiB (within the limit) through the server.
    const calm = await attempt(url(server), ID_B, makeCredentials(nobleCurve, KEY_B, BROKER_ID, now(), 0n));
    assert.equal(calm.error, undefined, 'the server still accepts devices');
    await calm.client.subscribeAsync(topic(ID_B, 'res'), { qos: 1 });
    const received = new Promise<Buffer>((r) => calm.client.once('message', (_t, message) => r(message)));
    const reply = Buffer.alloc(1024 * 1024, 0x43);
    await calm.client.publishAsync(topic(ID_B, 'res'), reply, { qos: 1 });
    assert.ok((await received).equals(reply), 'the reply came back whole');
    await calm.client.endAsync();
  });
});

test('the gate follows MQTT framing: lengths across chunks, the budget before authentication, the device limit after', () => {
  const gate = new MqttGate();
  const publish = (length: number): Uint8Array => {
    const header = [0x30];
    for (let n = length; ; ) {
      const byte = n % 128;
      n = Math.floor(n / 128);
      header.push(n > 0 ? byte | 0x80 : byte);
      if (n === 0) break;
    }
    return Uint8Array.from([...header, ...new Uint8Array(length)]);
  };
  const whole = publish(200);
  for (const byte of whole) assert.deepEqual(gate.feed(Uint8Array.of(byte)), { ok: true }); // one byte at a time
  assert.equal(new MqttGate().feed(publish(PRE_AUTH_MAX_PACKET + 1)).ok, false);
  const budget = new MqttGate();
  let verdict: GateVerdict = { ok: true };
  for (let i = 0; i < 10 && verdict.ok; i++) verdict = budget.feed(publish(PRE_AUTH_MAX_PACKET - 8));
  assert.deepEqual(verdict, { ok: false, reason: `more than ${PRE_AUTH_BUDGET} bytes before authenticating` });
  const device = new MqttGate();
  device.authenticated(DEVICE_MAX_PACKET);
  assert.equal(device.feed(publish(PRE_AUTH_BUDGET * 2)).ok, true);
  assert.equal(device.feed(publish(DEVICE_MAX_PACKET + 1).subarray(0, 5)).ok, false);
  assert.equal(new MqttGate().feed(Uint8Array.of(0x30, 0xff, 0xff, 0xff, 0xff, 0x01)).ok, false);
});

test('connection limits: idle sockets cannot keep a device out; the total is capped; a client id longer than a device id is refused', async () => {
  await withServer([ID_A], async (server, lines) => {
    const opened = async (n: number): Promise<net.Socket[]> => Promise.all(Array.from({ length: n }, () => new Promise<net.Socket>((resolve) => {
      const socket = net.connect(server.port, '127.0.0.1', () => resolve(socket));
      socket.on('error', () => {});
    })));
    const closed = (s: net.Socket): Promise<void> => new Promise((r) => (s.destroyed || s.closed ? r() : s.once('close', () => r())));
    // Idle sockets (nothing sent, never authenticating) beyond MAX_WAITING close the oldest.
    const idle = await opened(MAX_WAITING + 4);
    await Promise.all(idle.slice(0, 4).map(closed));
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(idle.map((s) => s.destroyed || s.closed), idle.map((_, i) => i < 4), 'the four oldest were closed, the rest wait');
    const made = (): string[] => lines.filter((l) => l.includes(`connections were waiting to authenticate, this the oldest`));
    assert.equal(made().length, 4);
    // A device still gets in (its socket makes room by closing the oldest idle one).
    const device = await attempt(url(server), ID_A, makeCredentials(nobleCurve, KEY_A, BROKER_ID, now(), 0n));
    assert.equal(device.error, undefined);
    assert.equal(made().length, 5);

    // Authenticated sockets count towards MAX_CONNECTIONS only: up to it, then refused by name.
    const own: MqttClient[] = [];
    const total = (): number => server.sockets().length;
    while (total() < MAX_CONNECTIONS) {
      const c = await attempt(url(server), `sphinx-broker-${own.length}`, server.internalCredentials);
      assert.equal(c.error, undefined);
      own.push(c.client);
    }
    const over = await opened(1);
    await closed(over[0]!);
    assert.ok(lines.some((l) => l.includes(`${MAX_CONNECTIONS} connections are open already`)), lines.slice(-3).join('\n'));
    for (const c of own) await c.endAsync();
    await device.client.endAsync();
    for (const s of idle) s.destroy();

    // A client id longer than a device id and its longest suffix is refused, even with a good token.
    const long = await attempt(url(server), 'x'.repeat(MAX_CLIENT_ID_LENGTH + 1), makeCredentials(nobleCurve, KEY_A, BROKER_ID, now(), 0n));
    assert.ok(long.error, 'refused');
    assert.ok(lines.some((l) => l.includes(`a client id of ${MAX_CLIENT_ID_LENGTH + 1} characters (at most ${MAX_CLIENT_ID_LENGTH})`)));
    const fits = await attempt(url(server), `${ID_A}-restore`, makeCredentials(nobleCurve, KEY_A, BROKER_ID, now() + 1000, 0n));
    assert.equal(fits.error, undefined);
    await fits.client.endAsync();
  });
});
