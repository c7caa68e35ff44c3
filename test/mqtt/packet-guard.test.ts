import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { PacketGuard, type SkippedPublish } from '../../src/mqtt/packet-guard.js';

const LIMIT = 1000;

function encode(p: Record<string, unknown>): Buffer {
  return mqttPacket.generate(p as unknown as Packet);
}

function publish(topic: string, bytes: number, qos: 0 | 1 | 2 = 0, messageId?: number): Record<string, unknown> {
  return { cmd: 'publish', topic, payload: Buffer.alloc(bytes, 0x61), qos, retain: false, dup: false, messageId };
}

/** What the broker might send: acks, small and oversized publishes of every QoS, a ping. */
const STREAM = [
  { cmd: 'connack', returnCode: 0, sessionPresent: false },
  { cmd: 'suback', messageId: 1, granted: [0, 1] },
  publish('bms/a', 10),
  publish('bms/huge0', 5000),
  publish('bms/b', 200, 1, 7),
  publish('bms/huge1', 3000, 1, 8),
  publish('bms/c', 0),
  publish('bms/huge2', 20_000, 2, 9),
  { cmd: 'pingresp' },
  publish('bms/edge', LIMIT - 2 - 'bms/edge'.length), // remaining length exactly the limit
  publish('bms/over', LIMIT - 1 - 'bms/over'.length), // one byte over
  publish('bms/d', 300, 2, 10),
];

function parseAll(bufs: Buffer[]): Packet[] {
  const parser = mqttPacket.parser();
  const packets: Packet[] = [];
  parser.on('packet', (p) => packets.push(p));
  parser.on('error', (e) => assert.fail(e));
  for (const b of bufs) parser.parse(b);
  return packets;
}

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function run(chunks: Buffer[]): { out: Packet[]; skipped: SkippedPublish[]; replies: Buffer[] } {
  const skipped: SkippedPublish[] = [];
  const replies: Buffer[] = [];
  const guard = new PacketGuard(LIMIT, { onSkip: (s) => skipped.push(s), reply: (r) => replies.push(r) });
  const parts: Buffer[] = [];
  for (const c of chunks) parts.push(...guard.filter(c));
  return { out: parseAll(parts), skipped, replies };
}

const wire = Buffer.concat(STREAM.map(encode));
const expected = parseAll([
  Buffer.concat(STREAM.filter((p) => !String(p.topic ?? '').includes('huge') && p.topic !== 'bms/over').map(encode)),
]);

test('oversized publishes are skipped and everything else passes unchanged, however the bytes are cut', () => {
  const rnd = mulberry32(42);
  for (let round = 0; round < 200; round++) {
    const chunks: Buffer[] = [];
    // Cuts from a single byte up to a few kilobytes, so headers, topics and ids are split everywhere.
    for (let at = 0; at < wire.length;) {
      const size = 1 + Math.floor(rnd() ** 3 * (round % 3 === 0 ? 8 : 4096));
      chunks.push(wire.subarray(at, at + size));
      at += size;
    }
    const { out, skipped, replies } = run(chunks);
    assert.deepEqual(out, expected, `round ${round}`);
    assert.deepEqual(
      skipped.map((s) => [s.topic, s.qos]),
      [
        ['bms/huge0', 0],
        ['bms/huge1', 1],
        ['bms/huge2', 2],
        ['bms/over', 0],
      ],
    );
    assert.equal(skipped[2]!.bytes, 2 + 'bms/huge2'.length + 2 + 20_000);
    // The broker gets the acknowledgement it waits for: PUBACK 8 for QoS 1, PUBREC 9 for QoS 2.
    assert.deepEqual(replies, [Buffer.from([0x40, 2, 0, 8]), Buffer.from([0x50, 2, 0, 9])]);
  }
});

test('a chunk of small packets is handed on as it is, without a copy', () => {
  const small = Buffer.concat([encode(publish('a', 5)), encode(publish('b', 6))]);
  const guard = new PacketGuard(LIMIT, { onSkip: () => assert.fail('nothing to skip'), reply: () => assert.fail('no reply') });
  const parts = guard.filter(small);
  assert.equal(parts.length, 1);
  assert.equal(parts[0], small);
});

test('a remaining length of more than four bytes is a protocol error', () => {
  const guard = new PacketGuard(LIMIT, { onSkip: () => {}, reply: () => {} });
  assert.throws(() => guard.filter(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), /malformed MQTT packet/);
});

test('a consumer that keeps up never has the socket paused (a flood drains at full speed)', async () => {
  const { PassThrough, Writable } = await import('node:stream');
  const { guardStream } = await import('../../src/mqtt/packet-guard.js');
  const raw = new PassThrough();
  let pauses = 0;
  const pause = raw.pause.bind(raw);
  raw.pause = () => {
    pauses++;
    return pause();
  };
  const guarded = guardStream(raw, LIMIT, () => assert.fail('nothing to skip'));
  let received = 0;
  guarded.pipe(
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        received += chunk.length;
        cb();
      },
    }),
  );
  // The socket's reads: 64 KB of small publishes each, as a flood arrives.
  const packet = encode(publish('bms/flood', 200));
  const read = Buffer.concat(Array.from({ length: Math.floor(65536 / packet.length) }, () => packet));
  for (let i = 0; i < 50; i++) {
    raw.write(read);
    await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setImmediate(r));
  assert.equal(received, 50 * read.length);
  assert.equal(pauses, 0, 'the socket was paused although the consumer kept up');
  guarded.destroy();
});
