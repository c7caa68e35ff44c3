/** The demo's embedded MQTT broker, driven by a real client (mqtt.js) and by raw packets. */
import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { generate, parser, type Packet } from 'mqtt-packet';
import { DemoBroker, filterMatches } from '../../src/demo/broker.js';
import { bounded, sleep, waitFor } from '../support/wait.js';

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
  qos: number;
}

let broker: DemoBroker;
const clients: MqttClient[] = [];
const sockets: Socket[] = [];

before(async () => {
  broker = await DemoBroker.start();
});
after(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  for (const s of sockets) s.destroy();
  await broker.close();
});

async function client(opts: mqtt.IClientOptions = {}): Promise<{ c: MqttClient; got: Received[] }> {
  const c = mqtt.connect(broker.url, { reconnectPeriod: 0, connectTimeout: 3000, ...opts });
  clients.push(c);
  c.on('error', () => undefined);
  const got: Received[] = [];
  c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos }));
  await bounded(new Promise<void>((resolve) => c.once('connect', () => resolve())), 'mqtt connect');
  return { c, got };
}

describe('DemoBroker', () => {
  test('listens on 127.0.0.1 only, on a free port by default', () => {
    assert.equal(broker.host, '127.0.0.1');
    assert.ok(broker.port > 0);
    assert.match(broker.url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
  });

  test('refuses a non-loopback address', async () => {
    await assert.rejects(DemoBroker.start({ host: '0.0.0.0' }), /loopback/);
  });

  test('says which port is taken', async () => {
    await assert.rejects(DemoBroker.start({ port: broker.port }), /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
  });

  test('subscribe with + and #, publish at QoS 0 and 1 (PUBACK), no cross-talk', async () => {
    const { c: sub, got } = await client();
    const granted = await sub.subscribeAsync({ 'bms/+/state': { qos: 1 }, 'other/#': { qos: 0 } });
    assert.deepEqual(
      granted.map((g) => [g.topic, g.qos]),
      [
        ['bms/+/state', 1],
        ['other/#', 0],
      ],
    );
    const { c: pub } = await client();
    await pub.publishAsync('bms/1/state', 'a', { qos: 0 });
    await pub.publishAsync('bms/2/state', 'b', { qos: 1 }); // mqtt.js resolves on the PUBACK
    await pub.publishAsync('bms/1/other', 'not matched', { qos: 1 });
    await pub.publishAsync('other', 'c', { qos: 1 }); // "other/#" matches "other" itself
    await pub.publishAsync('other/x/y', 'd', { qos: 1 });
    await waitFor(() => got.length >= 4, 'four messages');
    await sleep(50);
    assert.deepEqual(
      got.map((m) => [m.topic, m.payload, m.qos, m.retain]),
      [
        ['bms/1/state', 'a', 0, false],
        ['bms/2/state', 'b', 1, false],
        ['other', 'c', 0, false],
        ['other/x/y', 'd', 0, false],
      ],
    );
  });

  test('overlapping subscriptions deliver a message once', async () => {
    const { c: sub, got } = await client();
    await sub.subscribeAsync(['dup/#', 'dup/+', 'dup/x']);
    const { c: pub } = await client();
    await pub.publishAsync('dup/x', 'once', { qos: 1 });
    await waitFor(() => got.length >= 1, 'message');
    await sleep(100);
    assert.equal(got.length, 1);
  });

  test('retained messages: replayed to new subscribers with the retain flag; empty payload clears', async () => {
    const { c: pub } = await client();
    await pub.publishAsync('ret/a', 'first', { qos: 1, retain: true });
    await pub.publishAsync('ret/a', 'latest', { qos: 1, retain: true });
    await pub.publishAsync('ret/b', 'bee', { qos: 0, retain: true });
    const { c: sub, got } = await client();
    await sub.subscribeAsync('ret/#', { qos: 1 });
    await waitFor(() => got.length >= 2, 'retained messages');
    assert.deepEqual(got.map((m) => [m.topic, m.payload, m.retain]).sort(), [
      ['ret/a', 'latest', true],
      ['ret/b', 'bee', true],
    ]);
    // Live messages to an existing subscription go out without the flag (MQTT-3.3.1-9).
    await pub.publishAsync('ret/a', 'live', { qos: 1, retain: true });
    await waitFor(() => got.length >= 3, 'live message');
    assert.deepEqual([got[2]!.payload, got[2]!.retain], ['live', false]);

    await pub.publishAsync('ret/b', '', { qos: 1, retain: true }); // clear
    const { c: late, got: lateGot } = await client();
    await late.subscribeAsync('ret/#');
    await waitFor(() => lateGot.length >= 1, 'retained after clear');
    await sleep(100);
    assert.deepEqual(
      lateGot.map((m) => [m.topic, m.payload]),
      [['ret/a', 'live']],
    );
  });

  test('unsubscribe stops delivery', async () => {
    const { c: sub, got } = await client();
    await sub.subscribeAsync('unsub/#');
    const { c: pub } = await client();
    await pub.publishAsync('unsub/1', 'x', { qos: 1 });
    await waitFor(() => got.length === 1, 'first message');
    await sub.unsubscribeAsync('unsub/#');
    await pub.publishAsync('unsub/2', 'y', { qos: 1 });
    await sleep(150);
    assert.equal(got.length, 1);
  });

  test('wildcards at the first level do not match $ topics', () => {
    assert.equal(filterMatches('#', '$SYS/broker'), false);
    assert.equal(filterMatches('+/broker', '$SYS/broker'), false);
    assert.equal(filterMatches('$SYS/#', '$SYS/broker'), true);
    assert.equal(filterMatches('a/+/c', 'a/b/c'), true);
    assert.equal(filterMatches('a/+/c', 'a/b/c/d'), false);
    assert.equal(filterMatches('a/#', 'a'), true);
  });

  test('raw protocol: PUBACK carries the message id; an invalid filter gets 0x80 in SUBACK', async () => {
    const raw = await rawClient();
    raw.send({ cmd: 'connect', clientId: 'raw-ack', protocolVersion: 4, protocolId: 'MQTT', clean: true, keepalive: 30 });
    await raw.next();
    raw.send({ cmd: 'publish', topic: 'ack/x', payload: 'y', qos: 1, messageId: 7, retain: false, dup: false });
    const ack = await raw.next();
    assert.deepEqual([ack.cmd, ack.messageId], ['puback', 7]);
    raw.send({
      cmd: 'subscribe',
      messageId: 8,
      subscriptions: [
        { topic: 'bad/#/x', qos: 0 },
        { topic: 'good/+', qos: 1 },
      ],
    });
    const suback = await raw.next();
    assert.equal(suback.cmd, 'suback');
    assert.deepEqual([suback.messageId, (suback as { granted: number[] }).granted], [8, [0x80, 1]]);
    assert.equal(raw.socket.destroyed, false);
  });

  test('raw protocol: CONNACK, PINGREQ/PINGRESP, DISCONNECT; a PUBLISH before CONNECT closes', async () => {
    const raw = await rawClient();
    raw.send({ cmd: 'connect', clientId: 'raw-1', protocolVersion: 4, protocolId: 'MQTT', clean: true, keepalive: 30 });
    assert.deepEqual(await raw.next(), { cmd: 'connack', returnCode: 0, sessionPresent: false });
    raw.send({ cmd: 'pingreq' });
    assert.equal((await raw.next()).cmd, 'pingresp');
    raw.send({ cmd: 'disconnect' });
    await raw.closed;

    const bad = await rawClient();
    bad.send({ cmd: 'publish', topic: 'x', payload: 'y', qos: 0, retain: false, dup: false });
    await bad.closed;
  });

  test('MQTT 5 is refused with return code 1 (unacceptable protocol version)', async () => {
    const raw = await rawClient();
    raw.send({ cmd: 'connect', clientId: 'raw-5', protocolVersion: 5, protocolId: 'MQTT', clean: true, keepalive: 30 });
    const p = await raw.next();
    assert.equal(p.cmd, 'connack');
    assert.equal((p as { returnCode?: number }).returnCode, 1);
    await raw.closed;
  });

  test('the last will is published when a client vanishes, not after DISCONNECT', async () => {
    const { c: sub, got } = await client();
    await sub.subscribeAsync('will/#');
    const gone = await rawClient();
    gone.send({
      cmd: 'connect',
      clientId: 'will-1',
      protocolVersion: 4,
      protocolId: 'MQTT',
      clean: true,
      keepalive: 30,
      will: { topic: 'will/1', payload: Buffer.from('offline'), qos: 0, retain: false },
    });
    await gone.next();
    gone.socket.destroy();
    await waitFor(() => got.length === 1, 'the will');
    assert.deepEqual([got[0]!.topic, got[0]!.payload], ['will/1', 'offline']);

    const polite = await rawClient();
    polite.send({
      cmd: 'connect',
      clientId: 'will-2',
      protocolVersion: 4,
      protocolId: 'MQTT',
      clean: true,
      keepalive: 30,
      will: { topic: 'will/2', payload: Buffer.from('offline'), qos: 0, retain: false },
    });
    await polite.next();
    polite.send({ cmd: 'disconnect' });
    await polite.closed;
    await sleep(100);
    assert.equal(got.length, 1);
  });

  test('a second connection with the same client id replaces the first', async () => {
    const first = await rawClient();
    first.send({ cmd: 'connect', clientId: 'same', protocolVersion: 4, protocolId: 'MQTT', clean: true, keepalive: 30 });
    await first.next();
    const second = await rawClient();
    second.send({ cmd: 'connect', clientId: 'same', protocolVersion: 4, protocolId: 'MQTT', clean: true, keepalive: 30 });
    await second.next();
    await first.closed;
    assert.equal(second.socket.destroyed, false);
  });

  test('close() drops clients and stops listening', async () => {
    const b = await DemoBroker.start();
    const c = mqtt.connect(b.url, { reconnectPeriod: 0 });
    c.on('error', () => undefined);
    await bounded(new Promise<void>((r) => c.once('connect', () => r())), 'connect');
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    await b.close();
    await bounded(closed, 'client closed');
    c.end(true);
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = createConnection({ host: '127.0.0.1', port: b.port });
        s.once('connect', () => {
          s.destroy();
          resolve(undefined);
        });
        s.once('error', reject);
      }),
      /ECONNREFUSED/,
    );
  });
});

/** A client speaking packets directly, to test what mqtt.js would never send. */
async function rawClient(): Promise<{ socket: Socket; send(p: Packet): void; next(): Promise<Packet>; closed: Promise<void> }> {
  const socket = createConnection({ host: '127.0.0.1', port: broker.port });
  sockets.push(socket);
  await bounded(new Promise<void>((r) => socket.once('connect', () => r())), 'raw connect');
  const p = parser();
  const packets: Packet[] = [];
  p.on('packet', (x: Packet) => packets.push(x));
  socket.on('data', (d: Buffer) => p.parse(d));
  socket.on('error', () => undefined);
  const closed = bounded(new Promise<void>((r) => socket.once('close', () => r())), 'broker closing the connection');
  closed.catch(() => undefined);
  return {
    socket,
    send: (x) => socket.write(generate(x)),
    async next() {
      await waitFor(() => packets.length > 0, 'a packet');
      const x = packets.shift()!;
      // Only the fields the broker decides.
      if (x.cmd === 'connack') return { cmd: 'connack', returnCode: x.returnCode, sessionPresent: x.sessionPresent } as Packet;
      return x;
    },
    closed,
  };
}
