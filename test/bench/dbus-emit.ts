/**
 * D-Bus service speed, printed as JSON (run: node --import tsx bench/dbus-emit.ts):
 *   - itemsChanged70: mean CPU µs to emit one ItemsChanged of 70 changed paths, through
 *     apply() (coerce, compare, custom encoder, socket write) and, for comparison, the same
 *     signal built from Variants and sent with dbus-next's marshaller;
 *   - getItems200: GetItems round trip on 200 paths from a raw socket client (only service and
 *     daemon are measured), against our service and against a dbus-next-marshalled responder,
 *     plus the round trip seen by a dbus-next client (which adds its own reply parsing).
 * Starts and stops its own private dbus-daemon.
 */
import { createConnection, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Message, sessionBus, Variant, type MessageBus } from 'dbus-next';
import { startService, type ItemDefinition } from '../../src/dbus/index.js';
import { encodeMessage, MsgType, WireWriter } from '../../src/dbus/wire.js';
import type { Frame } from '../../src/venus/types.js';
import { startDbusDaemon } from '../support/dbus-daemon.js';

const NAME = 'com.victronenergy.battery.bench';
const IFACE = 'com.victronenergy.BusItem';
const TOTAL_PATHS = 200;
const CHANGED_PATHS = 70;

function items(): ItemDefinition[] {
  const defs: ItemDefinition[] = [
    { path: '/Mgmt/ProcessName', type: 's', value: 'vbat' },
    { path: '/Mgmt/ProcessVersion', type: 's', value: '0.1.0' },
    { path: '/Mgmt/Connection', type: 's', value: 'MQTT' },
    { path: '/DeviceInstance', type: 'i', value: 100 },
    { path: '/ProductId', type: 'i', value: 0xffff },
    { path: '/ProductName', type: 's', value: 'vbat' },
    { path: '/CustomName', type: 's', value: 'Bench', writable: true },
    { path: '/FirmwareVersion', type: 's', value: '1' },
    { path: '/HardwareVersion', type: 's', value: null },
    { path: '/Serial', type: 's', value: 'B1' },
    { path: '/Connected', type: 'i', value: 1 },
  ];
  for (let i = 1; defs.length < TOTAL_PATHS; i++) {
    defs.push({ path: `/Voltages/Cell${i}`, type: 'd', value: 3.3 });
  }
  return defs;
}

/** 70 changed cell voltages with their texts; `k` makes every frame differ from the last. */
function frame(k: number): Frame {
  const f: Frame = new Map();
  for (let i = 1; i <= CHANGED_PATHS; i++) {
    const v = 3.2 + ((i + k) % 100) / 1000;
    f.set(`/Voltages/Cell${i}`, { value: v, text: `${v.toFixed(3)}V` });
  }
  return f;
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function stats(samples: number[]): { median: number; p95: number; min: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => round(s[Math.min(s.length - 1, Math.floor(q * s.length))]!);
  return { median: at(0.5), p95: at(0.95), min: round(s[0]!) };
}

const round = (x: number): number => Math.round(x * 1000) / 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function benchItemsChanged(address: string): Promise<Record<string, number>> {
  const frames = Array.from({ length: 64 }, (_, k) => frame(k));

  // Ours: apply() = coerce + compare + encode + one socket write.
  const svc = await startService({ serviceName: NAME, busAddress: address, items: items() });
  const ours = timeCpu(4000, (k) => svc.apply(frames[k % 64]!));
  await sleep(200); // let the socket drain before closing
  await svc.close();

  // Without the encoder: the same signal built from Variants and sent with dbus-next
  // (what an Interface-based service would do; marshalling happens inside bus.send).
  const bus = await dbusNextBus(address);
  const dbusNext = timeCpu(400, (k) => {
    bus.send(Message.newSignal('/', IFACE, 'ItemsChanged', 'a{sa{sv}}', [variantDict(frames[k % 64]!)]));
  });
  await sleep(200);
  bus.disconnect();
  return { customEncoderCpuUs: round(ours), dbusNextCpuUs: round(dbusNext) };
}

type VariantDict = Record<string, Record<string, Variant>>;

function variantDict(entries: Iterable<[string, { value: unknown; text: string }]>): VariantDict {
  const o: VariantDict = {};
  for (const [p, s] of entries) {
    o[p] = { Value: s.value === null ? new Variant('ai', []) : new Variant('d', s.value), Text: new Variant('s', s.text) };
  }
  return o;
}

async function dbusNextBus(address: string): Promise<MessageBus> {
  const bus = sessionBus({ busAddress: address });
  await new Promise<void>((res, rej) => bus.once('connect', res).once('error', rej));
  return bus;
}

/** A bare D-Bus client: EXTERNAL auth, Hello, then calls; replies are framed, not parsed. */
class RawClient {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: ((msg: Buffer) => void) | undefined;
  private serial = 1;
  private readonly w = new WireWriter();

  private constructor(private readonly sock: Socket) {}

  static async connect(socketPath: string): Promise<RawClient> {
    const sock = createConnection(socketPath);
    await new Promise<void>((res, rej) => sock.once('connect', res).once('error', rej));
    const uid = Buffer.from(String(process.getuid?.() ?? 0)).toString('hex');
    sock.write(`\0AUTH EXTERNAL ${uid}\r\n`);
    const line = await new Promise<string>((res) => sock.once('data', (d) => res(d.toString())));
    if (!line.startsWith('OK')) throw new Error(`auth failed: ${line}`);
    sock.write('BEGIN\r\n');
    const c = new RawClient(sock);
    sock.on('data', (d) => c.onData(d));
    await c.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'Hello');
    return c;
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 16) {
      const fields = this.buf.readUInt32LE(12);
      const total = 16 + Math.ceil(fields / 8) * 8 + this.buf.readUInt32LE(4);
      if (this.buf.length < total) return;
      const msg = this.buf.subarray(0, total);
      this.buf = this.buf.subarray(total);
      const type = msg[1];
      if ((type === MsgType.MethodReturn || type === MsgType.Error) && this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(msg);
      }
    }
  }

  call(destination: string, path: string, iface: string, member: string): Promise<Buffer> {
    const data = encodeMessage(this.w, {
      type: MsgType.MethodCall, serial: this.serial++, destination, path, interface: iface, member,
    });
    return new Promise((res) => {
      this.waiter = res;
      this.sock.write(data);
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

async function benchGetItems(address: string, socketPath: string): Promise<Record<string, unknown>> {
  const svc = await startService({ serviceName: NAME, busAddress: address, items: items() });
  const defs = items();

  // The same service answered by dbus-next's marshaller: a Variant dict built per call.
  const dnName = `${NAME}_dbusnext`;
  const dn = await dbusNextBus(address);
  dn.addMethodHandler((msg: Message) => {
    if (msg.path !== '/' || msg.member !== 'GetItems') return false;
    const dict = variantDict(defs.map((d) => [d.path, svc.get(d.path)!] as [string, { value: unknown; text: string }]));
    for (const d of defs) {
      const v = svc.get(d.path)!.value;
      if (v !== null && d.type !== 'd') dict[d.path]!['Value'] = new Variant(d.type, v);
    }
    dn.send(Message.newMethodReturn(msg, 'a{sa{sv}}', [dict]));
    return true;
  });
  await dn.requestName(dnName, 4);

  const raw = await RawClient.connect(socketPath);
  const roundTrips = async (dest: string): Promise<{ times: number[]; bytes: number }> => {
    const times: number[] = [];
    let bytes = 0;
    for (let k = 0; k < 1200; k++) {
      if (k % 2 === 0) svc.apply(frame(k)); // half the calls follow a 70-path change (cache refill)
      const t = performance.now();
      const reply = await raw.call(dest, '/', IFACE, 'GetItems');
      if (k >= 200) times.push(performance.now() - t);
      bytes = reply.length;
    }
    return { times, bytes };
  };
  const ours = await roundTrips(NAME);
  const theirs = await roundTrips(dnName);
  raw.close();

  // A dbus-next client calling our service (adds dbus-next's reply parsing).
  const client = await dbusNextBus(address);
  const clientTimes: number[] = [];
  for (let k = 0; k < 300; k++) {
    const t = performance.now();
    await client.call(new Message({ destination: NAME, path: '/', interface: IFACE, member: 'GetItems' }));
    if (k >= 50) clientTimes.push(performance.now() - t);
  }
  client.disconnect();
  dn.disconnect();
  await svc.close();
  return {
    paths: TOTAL_PATHS,
    replyBytes: ours.bytes,
    sameReplyLengthAsDbusNext: ours.bytes === theirs.bytes,
    customEncoderRoundTripMs: stats(ours.times),
    dbusNextEncoderRoundTripMs: stats(theirs.times),
    dbusNextClientToCustomEncoderRoundTripMs: stats(clientTimes),
  };
}

/** Mean CPU µs per call, after a warm-up for the JIT. */
function timeCpu(runs: number, fn: (k: number) => void): number {
  for (let k = 0; k < Math.max(50, runs / 8); k++) fn(k);
  const t = cpuUs();
  for (let k = 0; k < runs; k++) fn(k);
  return (cpuUs() - t) / runs;
}

const daemon = await startDbusDaemon();
try {
  const itemsChanged = await benchItemsChanged(daemon.address);
  const getItems = await benchGetItems(daemon.address, daemon.socketPath);
  console.log(
    JSON.stringify(
      {
        node: process.version,
        itemsChanged70: { changedPaths: CHANGED_PATHS, ...itemsChanged, targetCpuUs: 100 },
        getItems200: { ...getItems, targetRoundTripMs: 2 },
      },
      null,
      2,
    ),
  );
} finally {
  await daemon.stop();
}
