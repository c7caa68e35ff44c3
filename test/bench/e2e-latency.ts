/**
 * 3. End to end through a real mosquitto and a real dbus-daemon, vbat running as its own process
 * (compiled, `node …/main.js run`): 2000 payloads at 20 Hz, each carrying a distinct
 * Dc.Voltage; latency = publish (bytes handed to the broker's socket) → the ItemsChanged
 * carrying that value received by a separate D-Bus client (match rule on the service's '/'
 * ItemsChanged). Values that never appeared are counted (must be 0).
 * Floor, in the same run and at the same time: the same messages → a plain mqtt.js subscriber.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Message } from 'dbus-next';
import mqtt from 'mqtt';
import { bounded, sleep } from '../support/wait.js';
import { IFACE, type ItemsChanged } from '../support/bus-client.js';
import { kOfVoltage, PayloadMaker, voltageIn } from './lib/payloads.js';
import { cpuMs, memory } from './lib/proc.js';
import { publishPacket } from './lib/publisher.js';
import { distribution, figure, round, TARGETS } from './lib/stats.js';
import { serviceOf, World } from './lib/world.js';
import type { Context } from './run.js';

const RATE_HZ = 20;

export async function runLatency(ctx: Context): Promise<Record<string, unknown>> {
  const MESSAGES = ctx.quick ? 200 : 2000;
  const world = await World.start(ctx.build!);
  try {
    const name = 'lat';
    const topic = 'bench/lat';
    const svc = serviceOf(name);
    const maker = new PayloadMaker();
    const vbat = world.vbatBattery(name, topic);
    const owner = await world.reader.waitName(svc);

    // The D-Bus client: which value arrived when.
    const shown = new Float64Array(MESSAGES + 1).fill(NaN);
    const rule = `type='signal',sender='${svc}',path='/',interface='${IFACE}',member='ItemsChanged'`;
    await world.reader.addMatch(rule);
    let signals = 0;
    world.reader.onSignal((m: Message) => {
      const t = performance.now();
      if (m.sender !== owner || m.member !== 'ItemsChanged') return;
      signals++;
      const v = (m.body[0] as ItemsChanged)['/Dc/0/Voltage'];
      const k = v ? kOfVoltage(v.Value.value) : undefined;
      if (k !== undefined && k <= MESSAGES && Number.isNaN(shown[k]!)) shown[k] = t;
    });

    // The floor: a plain MQTT subscriber in this process.
    const floorSeen = new Float64Array(MESSAGES + 1).fill(NaN);
    const sub = mqtt.connect(world.broker.url, { clientId: `bench_floor_sub_${process.pid}`, clean: true });
    sub.on('error', () => undefined);
    await bounded(new Promise<void>((res) => sub.once('connect', () => res())), 'floor subscriber connect');
    (sub.stream as Partial<Socket> | undefined)?.setNoDelay?.(true);
    await bounded(sub.subscribeAsync(topic, { qos: 0 }), 'floor subscribe');
    sub.on('message', (_t, payload: Buffer) => {
      const t = performance.now();
      const k = kOfVoltage(voltageIn(payload));
      if (k !== undefined && k <= MESSAGES && Number.isNaN(floorSeen[k]!)) floorSeen[k] = t;
    });

    await world.prime(name, topic, maker.text(0));
    await sleep(300);
    const accepted0 = (await world.reader.value(svc, '/Vbat/MessagesAccepted')) as number;
    const cpu0 = cpuMs(vbat.pid);
    const sent = new Float64Array(MESSAGES + 1);
    ctx.log(`  publishing ${MESSAGES} payloads at ${RATE_HZ} Hz (${MESSAGES / RATE_HZ} s)`);
    const t0 = performance.now();
    for (let k = 1; k <= MESSAGES; k++) {
      const due = t0 + ((k - 1) * 1000) / RATE_HZ;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      const packet = publishPacket(topic, maker.text(k));
      sent[k] = performance.now();
      world.pub.publishMany([packet]);
      if (k % 400 === 0) ctx.log(`  ${k}/${MESSAGES}`);
    }
    const tLast = performance.now();
    const end = Date.now() + 3000;
    while ((Number.isNaN(shown[MESSAGES]!) || Number.isNaN(floorSeen[MESSAGES]!)) && Date.now() < end) await sleep(10);
    await sleep(300);
    const wallS = (performance.now() - t0) / 1000;
    const cpu = cpuMs(vbat.pid) - cpu0;
    const accepted = ((await world.reader.value(svc, '/Vbat/MessagesAccepted')) as number) - accepted0;
    const mem = memory(vbat.pid);
    sub.end(true);
    await world.reader.removeMatch(rule);

    const lat: number[] = [];
    const floorLat: number[] = [];
    let neverShown = 0;
    let floorMissed = 0;
    for (let k = 1; k <= MESSAGES; k++) {
      if (Number.isNaN(shown[k]!)) neverShown++;
      else lat.push(shown[k]! - sent[k]!);
      if (Number.isNaN(floorSeen[k]!)) floorMissed++;
      else floorLat.push(floorSeen[k]! - sent[k]!);
    }
    const d = distribution(lat);
    const f = distribution(floorLat);
    ctx.log(`  vbat p50 ${d.p50} p95 ${d.p95} p99 ${d.p99} ms; floor p50 ${f.p50} p99 ${f.p99} ms; never shown ${neverShown}`);
    return {
      messages: MESSAGES,
      rateHz: RATE_HZ,
      payloadBytes: maker.size,
      publishSpanS: round((tLast - t0) / 1000, 1),
      p50Ms: figure(d.p50, 'ms', { floor: f.p50, target: TARGETS.e2eP50Ms }),
      p95Ms: figure(d.p95, 'ms', { floor: f.p95 }),
      p99Ms: figure(d.p99, 'ms', { floor: f.p99, target: TARGETS.e2eP99Ms }),
      valuesNeverShown: figure(neverShown, 'values', { target: TARGETS.valuesNeverShown, digits: 0 }),
      lastValueShown: !Number.isNaN(shown[MESSAGES]!),
      distributionMs: d,
      floorDistributionMs: f,
      floorMissed,
      itemsChangedSignals: signals,
      messagesAccepted: accepted,
      daemonCpuPercent: round((cpu / 1000 / wallS) * 100, 2),
      daemonCpuMsPerPayload: round(cpu / MESSAGES, 4),
      daemonRssMb: round(mem.rssMb, 1),
    };
  } finally {
    await world.stop();
  }
}
