/**
 * The embedded server keeps a stale device apart (mqtt-server.ts keepStaleApart,
 * docs/remote-protocol.md "Rollback"), with real aedes and mqtt.js clients: a device whose
 * token says a journal behind what the broker answered, connecting under the device's client
 * id while the active device holds that session, does not take it over; it is told why at once
 * (its `refused`, without subscribing) and may do nothing else; the active device is never
 * disconnected and still gets its requests. A token whose last id is current, a spare's client
 * id, and the operator's accepted rollback are not kept apart.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import type { MqttClient } from 'mqtt';
import { nobleCurve } from '../../signer/crypto/noble.js';
import { makeCredentials } from '../../signer/remote/auth-token.js';
import { decodeRefusal, encodeRefusal } from '../../signer/remote/refusal.js';
import { topic } from '../../signer/remote/topics.js';
import { attempt, BROKER_ID, ID_A, KEY_A, url, withServer } from '../../test/embedded-mqtt.js';
import { rollbackVerdict } from './hello.js';

const ANSWERED_UP_TO = 131n;
/** As remote-signer.ts gives it: the hello rule with the broker log's answered id, nothing accepted. */
const rule = (device: string, lastId: bigint) => {
  const verdict = rollbackVerdict(device, lastId, ANSWERED_UP_TO, undefined);
  return verdict?.accepted === false ? verdict : undefined;
};

/** Every message `client` gets, by topic suffix. */
function inbox(client: MqttClient): { suffix: string; payload: Buffer }[] {
  const got: { suffix: string; payload: Buffer }[] = [];
  client.on('message', (name, payload) => got.push({ suffix: name.split('/').at(-1)!, payload }));
  return got;
}

const until = async (check: () => boolean, ms = 5000): Promise<void> => {
  for (const end = Date.now() + ms; !check() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
};

test('a stale device does not take the active device\'s session: it is told why at once and can do nothing else; the active device stays on', async () => {
  await withServer([ID_A], async (server, lines) => {
    const kept: string[] = [];
    server.keepStaleApart(rule, (device, text) => kept.push(`${device}: ${text}`));
    let t = Date.now();
    const active = await attempt(url(server), ID_A, makeCredentials(nobleCurve, KEY_A, BROKER_ID, t++, ANSWERED_UP_TO));
    assert.equal(active.error, undefined);
    let activeClosed = 0;
    active.client.on('close', () => activeClosed++);
    await active.client.subscribeAsync(topic(ID_A, 'req'), { qos: 1 });
    const atActive = inbox(active.client);

    const own = server.localClient();
    const statuses: string[] = [];
    own.on('message', (name, payload) => void (name === topic(ID_A, 'status') && statuses.push(payload.toString())));
    await own.subscribeAsync([topic(ID_A, 'status')], { qos: 1 });
    // With a will, as a device connects: kept apart, it has none (the active device's status is not its to say).
    const will = { topic: topic(ID_A, 'status'), payload: Buffer.from('offline'), qos: 1 as const, retain: true };
    const stale = await attempt(url(server), ID_A, makeCredentials(nobleCurve, KEY_A, BROKER_ID, t++, 96n), { will });
    assert.equal(stale.error, undefined, 'let in, apart');
    const atStale = inbox(stale.client);
    await until(() => atStale.length > 0);
    assert.deepEqual(atStale.map((m) => ({ suffix: m.suffix, refusal: decodeRefusal(m.payload) })), [{ suffix: 'refused', refusal: { reason: 'rollback', lastId: 96n, answeredUpTo: ANSWERED_UP_TO } }]);
    assert.deepEqual(atStale[0]!.payload, Buffer.from(encodeRefusal({ reason: 'rollback', lastId: 96n, answeredUpTo: ANSWERED_UP_TO })));
    assert.deepEqual(kept, [`${ID_A}: ${rule(ID_A, 96n)!.text}`], 'reported once, with the hello rule\'s line');
    assert.ok(lines.includes(`info: MQTT: device ${ID_A} authenticated (client id ${ID_A}-refused, kept apart as stale: no will, told why on its refused topic)`));

    // No request reaches it, and it cannot say anything (a publish closes its connection).
    await assert.rejects(stale.client.subscribeAsync(topic(ID_A, 'req'), { qos: 1 }), /Subscribe error/);
    await own.publishAsync(topic(ID_A, 'req'), Buffer.from('request'), { qos: 1 });
    await until(() => atActive.length > 0);
    assert.deepEqual(atActive.map((m) => m.suffix), ['req'], 'the active device still holds the session');
    const staleClosed = new Promise<void>((r) => stale.client.once('close', () => r()));
    stale.client.publish(topic(ID_A, 'status'), 'offline', { qos: 1, retain: true });
    await staleClosed;
    stale.client.end(true);
    await new Promise((r) => setTimeout(r, 200)); // a will would be published after the close, asynchronously
    assert.equal(atStale.length, 1);
    assert.equal(activeClosed, 0, 'the active device was never disconnected');
    assert.deepEqual(statuses, [], 'no will of the stale device said the device went offline');

    // Not kept apart: a token at the answered id; a spare's own client id; the active device itself is still on.
    const current = await attempt(url(server), `${ID_A}-restore`, makeCredentials(nobleCurve, KEY_A, BROKER_ID, t++, 0n));
    assert.equal(current.error, undefined);
    await current.client.subscribeAsync(topic(ID_A, 'journal-dump'), { qos: 1 });
    await current.client.endAsync();
    assert.equal(kept.length, 1);
    await own.endAsync();
    await active.client.endAsync();
  });
});

test('the rule is the hello\'s: a journal at the answered id, or the operator\'s accepted rollback, is let in as the device', async () => {
  await withServer([ID_A], async (server, lines) => {
    const kept: string[] = [];
    server.keepStaleApart((device, lastId) => {
      const verdict = rollbackVerdict(device, lastId, ANSWERED_UP_TO, { device: ID_A, lastId: 7n });
      return verdict?.accepted === false ? verdict : undefined;
    }, (_device, text) => kept.push(text));
    let t = Date.now();
    for (const lastId of [ANSWERED_UP_TO, 7n]) {
      const device = await attempt(url(server), ID_A, makeCredentials(nobleCurve, KEY_A, BROKER_ID, t++, lastId));
      assert.equal(device.error, undefined);
      assert.deepEqual((await device.client.subscribeAsync(topic(ID_A, 'req'), { qos: 1 })).map((g) => g.qos), [1], `lastId ${lastId}: its own session`);
      await device.client.endAsync();
    }
    assert.ok(lines.some((l) => l === `info: MQTT: device ${ID_A} authenticated (client id ${ID_A})`));
    assert.deepEqual(kept, []);
  });
});
