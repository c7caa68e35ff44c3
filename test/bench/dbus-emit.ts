/**
 * 2. D-Bus emission, in process, against a private dbus-daemon, on the full service (the
 * identity, management and diagnostics paths plus the default mapping's 169 data paths, filled
 * from the full seed payload):
 *   - ItemsChanged(70): CPU µs for BusItemService.apply() of 70 changed paths (coerce, compare,
 *     encode, one socket write); floor: the same signal, bare — encoded straight from the 70
 *     (path, value, text) triples with the same encoder (src/dbus/wire.ts + encode.ts) and
 *     written to the same kind of connection, no service bookkeeping. For reference, the same
 *     signal marshalled by dbus-next (Variant objects + its generic marshaller).
 *   - GetItems: round trip seen by a raw socket client (the reply is framed, not parsed, so only
 *     service and daemon are in the figure), after no change and after a 70-path change (the
 *     service re-encodes the changed entries); floor: a responder on the same library that
 *     answers with the same reply body, pre-encoded. For reference, the round trip seen by a
 *     dbus-next client (which adds its own parsing of the ~10 KB reply).
 */
import { createConnection, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Message, sessionBus, Variant, type MessageBus } from 'dbus-next';
import { itemDefinitions, serviceDocument, serviceEvaluator, serviceMapping } from '../../src/battery/identity.js';
import { loadConfig } from '../../src/config/index.js';
import { startService, type ItemDefinition } from '../../src/dbus/index.js';
import { connectBus, type BusConnection } from '../../src/dbus/connection.js';
import { writeItemProps } from '../../src/dbus/encode.js';
import { encodeMessage, MsgType, WireWriter } from '../../src/dbus/wire.js';
import { defaultMappingFile, Evaluator, loadMapping, type CompiledMapping } from '../../src/mapping/index.js';
import type { DbusType, Frame, PathValue } from '../../src/venus/types.js';
import { sleep } from '../support/wait.js';
import { startDbusDaemon } from '../support/dbus-daemon.js';
import { SEED_FULL } from './lib/payloads.js';
import { distribution, figure, median, round, TARGETS } from './lib/stats.js';
import type { Context } from './run.js';

const NAME = 'com.victronenergy.battery.bench';
const IFACE = 'com.victronenergy.BusItem';
const CHANGED_PATHS = 70;
const FRAMES = 64;

interface Service {
  items: ItemDefinition[];
  types: Map<string, DbusType>;
  mapping: CompiledMapping;
}

/** The item list `vbat run` exports for a default-mapping battery, data filled from seed-full. */
async function fullService(): Promise<Service> {
  const mapping = loadMapping(defaultMappingFile());
  const config = loadConfig(undefined, { topic: 'bench/emit', name: 'bench', broker: 'mqtt://127.0.0.1:1883' });
  const battery = config.batteries[0]!;
  const svc = serviceMapping();
  const sev = await serviceEvaluator().evaluate(
    serviceDocument(battery, mapping, { instance: 100, customName: '' }, { connected: true, accepted: 1, rejected: 0 }),
  );
  const items = itemDefinitions(
    svc,
    (p) => ({ value: sev.values[svc.byPath.get(p)!.index]!, text: sev.texts[svc.byPath.get(p)!.index]! }),
    mapping,
  );
  const dev = await new Evaluator(mapping).evaluate(SEED_FULL);
  for (const it of items) {
    const p = mapping.byPath.get(it.path);
    if (p) {
      it.value = dev.values[p.index]!;
      it.text = dev.texts[p.index]!;
    }
  }
  return { items, types: new Map(items.map((i) => [i.path, i.type])), mapping };
}

/** 64 frames of the same 70 numeric data paths; consecutive frames differ on every path. */
function frames(s: Service): Frame[] {
  const paths = s.mapping.paths.filter((p) => p.type === 'd' || p.type === 'i').slice(0, CHANGED_PATHS);
  return Array.from({ length: FRAMES }, (_, k) => {
    const f: Frame = new Map();
    paths.forEach((p, j) => {
      const step = (j + k) % 97;
      const value = p.type === 'd' ? 3 + step / 1000 : step;
      f.set(p.path, { value, text: p.format(value) });
    });
    return f;
  });
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/**
 * CPU µs per call of each function: rounds of `batch` calls, the functions taking turns round by
 * round (so all see the same machine), median of the rounds. Between rounds the socket may drain
 * (the daemon reads), so every call pays its write, none piles up in user space.
 */
async function cpuPerCall(fns: ((k: number) => void)[], rounds = 80, batch = 25): Promise<{ median: number; min: number }[]> {
  const ks = fns.map(() => 0);
  for (let f = 0; f < fns.length; f++) for (let i = 0; i < 400; i++) fns[f]!(ks[f]!++);
  await sleep(20);
  const per: number[][] = fns.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let f = 0; f < fns.length; f++) {
      const t = cpuUs();
      for (let i = 0; i < batch; i++) fns[f]!(ks[f]!++);
      per[f]!.push((cpuUs() - t) / batch);
      await sleep(3);
    }
  }
  return per.map((xs) => ({ median: median(xs), min: Math.min(...xs) }));
}

function writeBareItemsChanged(w: WireWriter, frame: Frame, types: Map<string, DbusType>): void {
  const arr = w.beginArray(8);
  for (const [path, s] of frame) {
    w.align(8);
    w.string(path);
    writeItemProps(w, { type: types.get(path)!, value: s.value, text: s.text });
  }
  w.endArray(arr, 8);
}

type VariantDict = Record<string, Record<string, Variant>>;

function variantDict(entries: Iterable<[string, { value: PathValue; text: string }]>, types: Map<string, DbusType>): VariantDict {
  const o: VariantDict = {};
  for (const [p, s] of entries) {
    o[p] = { Value: s.value === null ? new Variant('ai', []) : new Variant(types.get(p)!, s.value), Text: new Variant('s', s.text) };
  }
  return o;
}

async function dbusNextBus(address: string): Promise<MessageBus> {
  const bus = sessionBus({ busAddress: address });
  await new Promise<void>((res, rej) => bus.once('connect', res).once('error', rej));
  return bus;
}

async function benchItemsChanged(address: string, s: Service): Promise<Record<string, unknown>> {
  const fr = frames(s);
  const svc = await startService({ serviceName: NAME, busAddress: address, items: s.items });
  // Floor: the bare signal with the same encoder, on the same kind of connection.
  const conn: BusConnection = await connectBus(address, 5000);
  const w = new WireWriter(16384);
  let bytes = 0;
  const [ours, bare] = await cpuPerCall([
    (k) => {
      if (svc.apply(fr[k % FRAMES]!) !== CHANGED_PATHS) throw new Error('a benchmark frame did not change 70 paths');
    },
    (k) => {
      const data = encodeMessage(
        w,
        { type: MsgType.Signal, serial: conn.nextSerial(), path: '/', interface: IFACE, member: 'ItemsChanged', signature: 'a{sa{sv}}' },
        (x) => writeBareItemsChanged(x, fr[k % FRAMES]!, s.types),
      );
      bytes = data.length;
      conn.write(data);
    },
  ]);
  await sleep(100);
  await svc.close();
  await conn.close();

  // Reference: dbus-next's own marshaller.
  const bus = await dbusNextBus(address);
  const [dn] = await cpuPerCall(
    [
      (k) => {
        bus.send(Message.newSignal('/', IFACE, 'ItemsChanged', 'a{sa{sv}}', [variantDict(fr[k % FRAMES]!, s.types)]));
      },
    ],
    30,
    10,
  );
  await sleep(100);
  bus.disconnect();

  return {
    changedPaths: CHANGED_PATHS,
    signalBytes: bytes,
    cpuUs: figure(ours!.median, 'µs', {
      floor: bare!.median,
      target: TARGETS.itemsChanged70CpuUs,
      digits: 2,
      note: 'floor: the same signal encoded bare with the same encoder',
    }),
    fastestRoundCpuUs: round(ours!.min, 2),
    dbusNextMarshallerCpuUs: round(dn!.median, 1),
  };
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
    const data = encodeMessage(this.w, { type: MsgType.MethodCall, serial: this.serial++, destination, path, interface: iface, member });
    return new Promise((res) => {
      this.waiter = res;
      this.sock.write(data);
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

/** The body of a reply (after the header and its padding). */
function bodyOf(msg: Buffer): Buffer {
  const bodyLen = msg.readUInt32LE(4);
  return Buffer.from(msg.subarray(msg.length - bodyLen));
}

async function benchGetItems(address: string, socketPath: string, s: Service): Promise<Record<string, unknown>> {
  const fr = frames(s);
  const svc = await startService({ serviceName: NAME, busAddress: address, items: s.items });
  const raw = await RawClient.connect(socketPath);
  const first = await raw.call(NAME, '/', IFACE, 'GetItems');

  // Floor: same library, the reply body pre-encoded (no per-item work at all).
  const body = bodyOf(first);
  const floorName = `${NAME}_floor`;
  const conn = await connectBus(address, 5000);
  const w = new WireWriter(body.length + 256);
  conn.bus.addMethodHandler((msg: Message) => {
    if (msg.path !== '/' || msg.member !== 'GetItems') return false;
    conn.write(
      encodeMessage(
        w,
        {
          type: MsgType.MethodReturn,
          serial: conn.nextSerial(),
          replySerial: msg.serial ?? 0,
          destination: msg.sender,
          signature: 'a{sa{sv}}',
        },
        (x) => x.bytes(body),
      ),
    );
    return true;
  });
  await conn.call(
    new Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'RequestName',
      signature: 'su',
      body: [floorName, 4],
    }),
  );

  // The three series take turns call by call: unchanged, floor, after a 70-path change.
  const unchanged: number[] = [];
  const floor: number[] = [];
  const afterChange: number[] = [];
  let floorBytes = 0;
  const time = async (dest: string, into: number[], keep: boolean): Promise<Buffer> => {
    const t = performance.now();
    const reply = await raw.call(dest, '/', IFACE, 'GetItems');
    if (keep) into.push(performance.now() - t);
    return reply;
  };
  for (let k = 0; k < 1100; k++) {
    await time(NAME, unchanged, k >= 100);
    floorBytes = (await time(floorName, floor, k >= 100)).length;
    svc.apply(fr[k % FRAMES]!);
    await time(NAME, afterChange, k >= 100);
  }
  raw.close();

  // Reference: a dbus-next client, which parses the reply into Variants.
  const client = await dbusNextBus(address);
  const clientTimes: number[] = [];
  for (let k = 0; k < 400; k++) {
    const t = performance.now();
    await client.call(new Message({ destination: NAME, path: '/', interface: IFACE, member: 'GetItems' }));
    if (k >= 100) clientTimes.push(performance.now() - t);
  }
  client.disconnect();
  await conn.close();
  await svc.close();

  const u = distribution(unchanged);
  const a = distribution(afterChange);
  const f = distribution(floor);
  return {
    paths: s.items.length,
    replyBytes: first.length,
    floorReplyBytes: floorBytes,
    roundTripMs: figure(u.p50, 'ms', { floor: f.p50, digits: 4, note: 'median; raw client' }),
    roundTripAfter70ChangedMs: figure(a.p50, 'ms', { floor: f.p50, digits: 4, note: 'median; each call follows a 70-path apply()' }),
    distributionsMs: { unchanged: distribution(unchanged, 4), after70Changed: distribution(afterChange, 4), floor: distribution(floor, 4) },
    dbusNextClientRoundTripMs: distribution(clientTimes, 4),
  };
}

export async function runDbus(ctx: Context): Promise<Record<string, unknown>> {
  const s = await fullService();
  const daemon = await startDbusDaemon();
  try {
    const itemsChanged = await benchItemsChanged(daemon.address, s);
    ctx.log(`  ItemsChanged(70): ${(itemsChanged['cpuUs'] as { value: number }).value} µs CPU`);
    const getItems = await benchGetItems(daemon.address, daemon.socketPath, s);
    ctx.log(`  GetItems(${s.items.length}): ${(getItems['roundTripMs'] as { value: number }).value} ms`);
    return { itemsChanged70: itemsChanged, getItems };
  } finally {
    await daemon.stop();
  }
}
