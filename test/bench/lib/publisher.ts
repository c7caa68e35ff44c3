/**
 * The benchmark's MQTT publisher: one TCP connection speaking just enough MQTT 3.1.1 (CONNECT,
 * then QoS 0 PUBLISH packets written straight to the socket). It costs a fraction of what a full
 * client costs per message, so on a small machine the publisher is not what saturates, and a
 * publish timestamp is taken right before the bytes go to the kernel.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { bounded, sleep } from '../../support/wait.js';

function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

export function publishPacket(topic: string, payload: string | Buffer): Buffer {
  const t = Buffer.from(topic);
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const len = remainingLength(2 + t.length + body.length);
  const out = Buffer.allocUnsafe(1 + len.length + 2 + t.length + body.length);
  let o = 0;
  out[o++] = 0x30; // PUBLISH, QoS 0, no retain
  for (const b of len) out[o++] = b;
  out.writeUInt16BE(t.length, o);
  o += 2;
  o += t.copy(out, o);
  body.copy(out, o);
  return out;
}

function connectPacket(clientId: string): Buffer {
  const id = Buffer.from(clientId);
  const variable = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 0]); // "MQTT", v3.1.1, clean session, keepalive 0
  const rest = Buffer.concat([variable, Buffer.from([id.length >> 8, id.length & 0xff]), id]);
  return Buffer.concat([Buffer.from([0x10, ...remainingLength(rest.length)]), rest]);
}

export class Publisher {
  sent = 0;

  private constructor(private readonly sock: Socket) {}

  static async connect(port: number, clientId = `bench_pub_${process.pid}_${Math.random().toString(36).slice(2, 8)}`): Promise<Publisher> {
    const sock = connect({ host: '127.0.0.1', port, noDelay: true });
    sock.on('error', () => undefined);
    await bounded(new Promise<void>((res, rej) => sock.once('connect', res).once('error', rej)), 'publisher connect');
    sock.write(connectPacket(clientId));
    const ack = await bounded(new Promise<Buffer>((res) => sock.once('data', res)), 'CONNACK');
    if (ack[0] !== 0x20 || ack[3] !== 0) throw new Error(`broker refused the publisher: ${ack.toString('hex')}`);
    sock.on('data', () => undefined);
    return new Publisher(sock);
  }

  /** Write one message; returns the time (performance.now()) it was handed to the socket. */
  publish(topic: string, payload: string | Buffer): number {
    const packet = publishPacket(topic, payload);
    const t = performance.now();
    this.sock.write(packet);
    this.sent++;
    return t;
  }

  /** Write several messages in one socket write. */
  publishMany(packets: Buffer[]): void {
    this.sock.write(packets.length === 1 ? packets[0]! : Buffer.concat(packets));
    this.sent += packets.length;
  }

  /** Bytes queued in user space because the kernel buffer is full. */
  get backlog(): number {
    return this.sock.writableLength;
  }

  async drained(timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.sock.writableLength > 0 && Date.now() < end) await sleep(5);
  }

  close(): void {
    this.sock.end(Buffer.from([0xe0, 0])); // DISCONNECT
    this.sock.destroySoon?.();
  }
}

export interface PaceOptions {
  /** Messages per second. */
  rate: number;
  /** Stop after this many messages... */
  count?: number;
  /** ...or after this long (ms), whichever comes first. */
  durationMs?: number;
  /** Don't write while this many bytes wait in user space (backpressure); default 4 MB. */
  maxBacklog?: number;
  /** Timer granularity, ms; default 2. */
  tickMs?: number;
}

/**
 * Publish at `rate` until `count` messages or `durationMs`: each tick writes the messages that
 * are due (one socket write). `packet(i)` builds message i (0-based). Resolves with what was sent.
 */
export async function pace(pub: Publisher, opts: PaceOptions, packet: (i: number) => Buffer): Promise<{ sent: number; ms: number }> {
  const count = opts.count ?? Number.MAX_SAFE_INTEGER;
  const durationMs = opts.durationMs ?? (count / opts.rate) * 1000 + 60_000;
  const maxBacklog = opts.maxBacklog ?? 4 * 1024 * 1024;
  const tick = opts.tickMs ?? 2;
  const t0 = performance.now();
  let sent = 0;
  for (;;) {
    const elapsed = performance.now() - t0;
    if (sent >= count || elapsed >= durationMs) break;
    if (pub.backlog < maxBacklog) {
      const due = Math.min(count, Math.floor((elapsed / 1000) * opts.rate) + 1) - sent;
      if (due > 0) {
        const batch: Buffer[] = [];
        for (let n = 0; n < due && batch.length < 2000; n++) batch.push(packet(sent++));
        pub.publishMany(batch);
      }
    }
    await sleep(tick);
  }
  return { sent, ms: performance.now() - t0 };
}
