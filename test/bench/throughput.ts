/**
 * 4. Throughput of one battery, vbat as its own process:
 *   - CPU ms per payload at 100 Hz (utime + stime from /proc over a 10 s window, all payloads
 *     mapped); floor: the floor process (the same libraries, a bare MQTT subscriber) receiving
 *     the same messages at the same time.
 *   - saturation: distinct payloads published as fast as the publisher goes (QoS 0, capped at
 *     FLOOD_RATE/s) for a few seconds; throughput = distinct payloads vbat mapped
 *     (/Vbat/MessagesAccepted, one per mapped batch) per second, from the first publish until
 *     the last value is on D-Bus (it must arrive). Whatever vbat did not map was coalesced
 *     (a newer payload arrived in the same read) — reported, not an error. Before it, a short
 *     ramp of offered rates shows how mapping and coalescing grow. Floor: the floor process
 *     alone on the same flood (messages received per second).
 */
import { performance } from 'node:perf_hooks';
import { sleep } from '../support/wait.js';
import { PayloadMaker, voltageOf } from './lib/payloads.js';
import type { Proc } from '../support/process.js';
import { cpuMs, memory, statCpuMs } from './lib/proc.js';
import { pace, publishPacket } from './lib/publisher.js';
import { figure, round, TARGETS } from './lib/stats.js';
import { floorCount, serviceOf, World } from './lib/world.js';
import type { Context } from './run.js';

const FLOOD_RATE = 20_000;
const RAMP = [2500, 5000, 10_000];

export async function runThroughput(ctx: Context): Promise<Record<string, unknown>> {
  const windowS = ctx.quick ? 2 : 10;
  const floodS = ctx.quick ? 1 : 4;
  const world = await World.start(ctx.build!);
  try {
    const name = 'tp';
    const topic = 'bench/tp';
    const svc = serviceOf(name);
    const maker = new PayloadMaker();
    let k = 0;
    const next = (): Buffer => publishPacket(topic, maker.text(++k));
    const accepted = async (): Promise<number> => (await world.reader.value(svc, '/Vbat/MessagesAccepted')) as number;
    const lastShown = (timeoutMs: number): Promise<number> =>
      world.reader.untilValue(svc, '/Dc/0/Voltage', (v) => v === voltageOf(k), `the last value (k=${k})`, timeoutMs, 5);

    // --- 100 Hz: vbat and the floor process side by side ------------------------------------
    const vbat = world.vbatBattery(name, topic);
    let floor: Proc = world.floor([topic], ['com.victronenergy.battery.floor_tp']);
    await floor.waitLog(/^ready$/m);
    await world.prime(name, topic, maker.text(0));
    // Warm-up: let V8 optimise the hot paths first (steady state is what is measured).
    await pace(world.pub, { rate: 1000, count: ctx.quick ? 500 : 3000 }, next);
    await pace(world.pub, { rate: 100, count: 200 }, next);
    await lastShown(5000);
    const a0 = await accepted();
    const v0 = cpuMs(vbat.pid);
    const f0 = cpuMs(floor.pid);
    const vs0 = statCpuMs(vbat.pid);
    const fs0 = statCpuMs(floor.pid);
    const n0 = await floorCount(floor);
    const r100 = await pace(world.pub, { rate: 100, count: 100 * windowS }, next);
    await lastShown(5000);
    await sleep(50);
    const vCpu = cpuMs(vbat.pid) - v0;
    const fCpu = cpuMs(floor.pid) - f0;
    const vStat = statCpuMs(vbat.pid) - vs0;
    const fStat = statCpuMs(floor.pid) - fs0;
    const mapped100 = (await accepted()) - a0;
    const floorGot100 = (await floorCount(floor)) - n0;
    ctx.log(`  100 Hz: vbat ${round(vCpu / r100.sent, 4)} ms CPU/payload, floor ${round(fCpu / r100.sent, 4)}`);
    await world.stopProc(floor);

    // --- saturation: vbat alone; a short ramp, then flat out ------------------------------
    const step = async (rate: number, seconds: number) => {
      await sleep(300);
      const a = await accepted();
      const c = cpuMs(vbat.pid);
      const infra = world.infraCpuMs();
      const t = performance.now();
      const sent = await pace(world.pub, { rate, durationMs: seconds * 1000, tickMs: 1 }, next);
      const tSent = performance.now();
      let arrived = true;
      let tEnd: number;
      try {
        tEnd = await lastShown(30_000);
      } catch {
        arrived = false;
        tEnd = performance.now();
      }
      const span = (tEnd - t) / 1000;
      const mapped = (await accepted()) - a;
      const cpu = cpuMs(vbat.pid) - c;
      const infra2 = world.infraCpuMs();
      return {
        offeredPerS: rate,
        published: sent.sent,
        publishedPerS: Math.round(sent.sent / (sent.ms / 1000)),
        mapped,
        mappedPerS: Math.round(mapped / span),
        coalescedPercent: round((1 - mapped / sent.sent) * 100, 1),
        lastValueArrived: arrived,
        drainMs: Math.round(tEnd - tSent),
        daemonCpuPercent: round((cpu / 1000 / span) * 100, 1),
        daemonCpuMsPerMapped: round(cpu / Math.max(1, mapped), 4),
        mosquittoCpuPercent: round(((infra2.mosquitto - infra.mosquitto) / 1000 / span) * 100, 1),
        dbusDaemonCpuPercent: round(((infra2.dbusDaemon - infra.dbusDaemon) / 1000 / span) * 100, 1),
      };
    };
    const ramp = [];
    for (const rate of ctx.quick ? [5000] : RAMP) {
      const r = await step(rate, ctx.quick ? 1 : 2);
      ctx.log(
        `  offered ${rate}/s: mapped ${r.mappedPerS}/s (${r.coalescedPercent} % coalesced), vbat CPU ${r.daemonCpuPercent} %, drain ${r.drainMs} ms`,
      );
      ramp.push(r);
    }
    const flat = await step(FLOOD_RATE, floodS);
    const mem = memory(vbat.pid);
    ctx.log(
      `  flat out: published ${flat.published} (${flat.publishedPerS}/s); vbat mapped ${flat.mapped} (${flat.mappedPerS}/s), CPU ${flat.daemonCpuPercent} %`,
    );
    await world.stopProc(vbat);

    // --- saturation: the floor process alone -------------------------------------------------
    floor = world.floor([topic], ['com.victronenergy.battery.floor_tp']);
    await floor.waitLog(/^ready$/m);
    await sleep(300);
    const g0 = await floorCount(floor);
    const fc0 = cpuMs(floor.pid);
    const t2 = performance.now();
    const flood2 = await pace(world.pub, { rate: FLOOD_RATE, durationMs: floodS * 1000, tickMs: 1 }, next);
    // Wait until it has everything (or stops getting more).
    let got = g0;
    let tGot = performance.now();
    for (let stable = 0, end = Date.now() + 30_000; Date.now() < end && got - g0 < flood2.sent && stable < 20;) {
      await sleep(25);
      const n = await floorCount(floor);
      if (n === got) stable++;
      else {
        stable = 0;
        got = n;
        tGot = performance.now();
      }
    }
    const floorCpu = cpuMs(floor.pid) - fc0;
    const floorPerS = (got - g0) / ((tGot - t2) / 1000);
    ctx.log(`  floor flood: published ${flood2.sent}, received ${got - g0} (${Math.round(floorPerS)}/s)`);

    return {
      at100Hz: {
        windowS,
        payloads: r100.sent,
        mapped: mapped100,
        floorReceived: floorGot100,
        cpuMsPerPayload: figure(vCpu / r100.sent, 'ms', {
          floor: fCpu / r100.sent,
          target: TARGETS.cpuMsPerPayload,
          digits: 4,
          note: 'per published payload; some may have been coalesced (see mapped)',
        }),
        cpuMsPerMapped: figure(vCpu / Math.max(1, mapped100), 'ms', { floor: fCpu / r100.sent, digits: 4 }),
        statCpuMsPerPayload: {
          vbat: round(vStat / r100.sent, 4),
          floor: round(fStat / r100.sent, 4),
          note: 'utime + stime (10 ms ticks), cross-check',
        },
        cpuPercent: figure((vCpu / 1000 / (r100.ms / 1000)) * 100, '%', { floor: (fCpu / 1000 / (r100.ms / 1000)) * 100, digits: 2 }),
      },
      saturation: {
        method: `distinct payloads published flat out (QoS 0, capped at ${FLOOD_RATE}/s) for ${floodS} s; mapped = /Vbat/MessagesAccepted (one per mapped batch); the span runs until the last value is on D-Bus`,
        payloadsPerS: figure(flat.mappedPerS, 'payloads/s', {
          floor: floorPerS,
          target: TARGETS.payloadsPerS,
          digits: 0,
          note: 'distinct payloads mapped per second; floor: messages per second a bare subscriber receives from the same flood',
        }),
        ingestedPerS: figure(flat.lastValueArrived && flat.drainMs < 250 ? flat.publishedPerS : null, 'payloads/s', {
          floor: floorPerS,
          digits: 0,
          note: 'payloads read and merged per second while keeping up (last value on D-Bus within 250 ms of the last publish)',
        }),
        ...flat,
        daemonRssMb: round(mem.rssMb, 1),
        daemonPeakRssMb: round(mem.hwmMb, 1),
        floorPublished: flood2.sent,
        floorReceived: got - g0,
        floorCpuMsPerMessage: round(floorCpu / Math.max(1, got - g0), 4),
      },
      ramp,
    };
  } finally {
    await world.stop();
  }
}
