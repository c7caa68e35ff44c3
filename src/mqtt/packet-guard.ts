/**
 * Keeps an oversized MQTT PUBLISH from ever being buffered whole. mqtt.js (through mqtt-packet)
 * collects a packet's every byte before anyone can look at its size, so a 50 MB publish on a
 * subscribed topic would cost 50 MB of memory before the input stage could drop it. MQTT 3.1.1
 * has no way to ask the broker for a maximum packet size, so the guard sits on the byte stream
 * from the broker: it reads each packet's fixed header, passes packets within the limit through
 * untouched, and skips the bytes of a larger PUBLISH as they arrive, keeping only its topic and
 * packet id (to log it and to acknowledge it, so the broker does not hold it in flight forever).
 */
import { Duplex } from 'node:stream';

/** What the guard tells about a PUBLISH it skipped. */
export interface SkippedPublish {
  topic: string;
  /** The packet's remaining length: its topic, id and payload. */
  bytes: number;
  qos: number;
}

export interface PacketGuardHooks {
  onSkip(skipped: SkippedPublish): void;
  /** Bytes the guard must send to the broker itself (the PUBACK or PUBREC of a skipped packet). */
  reply(packet: Buffer): void;
}

const PUBLISH = 3;
const PUBACK = 0x40;
const PUBREC = 0x50;

const enum State {
  Header,
  Pass,
  SkipHead,
  Skip,
}

/** Longest topic kept for a log line; the rest of a long topic is skipped like the payload. */
const MAX_LOGGED_TOPIC = 200;

/**
 * A state machine over the incoming bytes. `filter(chunk)` returns the parts of the chunk to hand
 * on, in order, as views into it (a header split across two chunks is the only copy).
 */
export class PacketGuard {
  private state = State.Header;
  /** Bytes left in the packet being passed or skipped. */
  private left = 0;
  /** The fixed header being read: its first byte, how many bytes are read, the remaining length so far. */
  private first = 0;
  private headerBytes = 0;
  private length = 0;
  /** Fixed-header bytes from earlier chunks, held back until the packet's size is known. */
  private carry: number[] = [];
  /** The variable header of a skipped PUBLISH: topic length, topic, packet id. */
  private head: number[] = [];
  private headNeed = 2;

  constructor(
    /** A PUBLISH whose remaining length is over this is skipped. */
    private readonly maxRemaining: number,
    private readonly hooks: PacketGuardHooks,
  ) {}

  filter(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    const n = chunk.length;
    let i = 0;
    let runStart = 0; // the first byte of this chunk not yet handed on or skipped
    let headerStart = this.headerBytes > 0 ? -1 : 0; // where the fixed header being read began; -1: in an earlier chunk
    while (i < n) {
      if (this.state === State.Pass || this.state === State.Skip) {
        const k = Math.min(this.left, n - i);
        i += k;
        this.left -= k;
        if (this.left > 0) break;
        if (this.state === State.Skip) runStart = i;
        this.state = State.Header;
        continue;
      }
      if (this.state === State.SkipHead) {
        i = this.readSkippedHead(chunk, i);
        if (this.state !== State.SkipHead) runStart = i;
        continue;
      }
      // State.Header: one byte of a fixed header.
      const b = chunk[i]!;
      if (this.headerBytes === 0) {
        headerStart = i;
        this.first = b;
        this.length = 0;
      } else {
        this.length += (b & 0x7f) * 128 ** (this.headerBytes - 1);
      }
      this.headerBytes++;
      i++;
      if (this.headerBytes === 1 || b & 0x80) {
        if (this.headerBytes === 5) throw new Error('malformed MQTT packet from the broker: its remaining length has over 4 bytes');
        continue;
      }
      // The fixed header is complete: pass the packet on, or skip an oversized PUBLISH.
      this.headerBytes = 0;
      this.left = this.length;
      if (this.first >> 4 !== PUBLISH || this.length <= this.maxRemaining) {
        if (headerStart < 0) out.push(Buffer.from(this.carry)); // its start, held back from the last chunk
        this.state = this.left > 0 ? State.Pass : State.Header;
      } else {
        if (headerStart > runStart) out.push(chunk.subarray(runStart, headerStart));
        runStart = n; // the rest of this chunk is skipped unless the skip ends in it
        this.state = State.SkipHead;
        this.head = [];
        this.headNeed = 2;
      }
      this.carry = [];
    }
    if (this.headerBytes > 0) {
      // A fixed header is cut by the chunk's end: hold it back until its packet's size is known.
      const from = headerStart < 0 ? 0 : headerStart;
      for (let j = from; j < n; j++) this.carry.push(chunk[j]!);
      if (from > runStart) out.push(chunk.subarray(runStart, from));
    } else if (runStart < n && (this.state === State.Pass || this.state === State.Header)) {
      out.push(runStart === 0 ? chunk : chunk.subarray(runStart));
    }
    return out;
  }

  /** Reads the topic (and packet id) of a skipped PUBLISH; returns the next index. */
  private readSkippedHead(chunk: Buffer, i: number): number {
    const qos = (this.first >> 1) & 3;
    while (i < chunk.length && this.left > 0 && this.head.length < this.headNeed) {
      const b = chunk[i++]!;
      this.left--;
      this.head.push(b);
      if (this.head.length === 2) this.headNeed = 2 + ((this.head[0]! << 8) | b) + (qos > 0 ? 2 : 0);
    }
    if (this.head.length < this.headNeed && this.left > 0) return i; // the chunk ended first
    const topicLength = this.head.length >= 2 ? (this.head[0]! << 8) | this.head[1]! : 0;
    const topic = Buffer.from(this.head.slice(2, 2 + Math.min(topicLength, MAX_LOGGED_TOPIC))).toString('utf8');
    this.hooks.onSkip({ topic, bytes: this.length, qos });
    if (qos > 0 && this.head.length === this.headNeed) {
      const id = this.head.slice(this.headNeed - 2);
      this.hooks.reply(Buffer.from([qos === 1 ? PUBACK : PUBREC, 2, id[0]!, id[1]!]));
    }
    this.head = [];
    this.state = this.left > 0 ? State.Skip : State.Header;
    return i;
  }
}

/**
 * The broker connection as mqtt.js sees it: the raw socket's bytes through a PacketGuard, writes
 * straight through. Errors, end and close pass on as they are.
 */
export function guardStream(raw: Duplex, maxRemaining: number, onSkip: (s: SkippedPublish) => void): Duplex {
  const guard = new PacketGuard(maxRemaining, { onSkip, reply: (p) => raw.write(p) });
  const guarded = new Duplex({
    // Above the socket's 64 KB reads: with the default 16 KB every read paused the socket, and a flood
    // drained at a few MB/s with the CPU idle (bench: 34 s instead of 5 s for 80k payloads).
    readableHighWaterMark: 256 * 1024,
    read() {
      raw.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      raw.write(chunk, cb);
    },
    final(cb) {
      raw.end(cb);
    },
    destroy(err, cb) {
      raw.destroy();
      cb(err);
    },
  });
  raw.on('data', (chunk: Buffer) => {
    let parts: Buffer[];
    try {
      parts = guard.filter(chunk);
    } catch (err) {
      guarded.destroy(err as Error);
      return;
    }
    for (const part of parts) if (!guarded.push(part)) raw.pause();
  });
  raw.on('end', () => guarded.push(null));
  raw.on('error', (err) => guarded.destroy(err));
  raw.on('close', () => guarded.destroy());
  return guarded;
}
