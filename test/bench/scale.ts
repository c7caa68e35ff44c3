/**
 * 5. Scale: 16 batteries in one vbat process (a config file; each battery its own MQTT client,
 * D-Bus connection and service), each fed the full payload at 10 Hz (160 messages/s spread
 * evenly), run as a GX device runs it (the release bundle, service/run's flags). CPU % of one
 * core (utime + stime over the window), RSS and private memory (RssAnon). Floor, at the same
 * time: the floor process with 16 MQTT subscribers and 16 bus names (the same libraries, no work).
 */
import { sleep } from '../support/wait.js';
import { buildRelease } from './lib/build.js';
import { PayloadMaker } from './lib/payloads.js';
import { cpuMs, memory, statCpuMs } from './lib/proc.js';
import { pace, publishPacket } from './lib/publisher.js';
import { figure, round, TARGETS } from './lib/stats.js';
import { floorCount, serviceOf, World } from './lib/world.js';
import type { Context } from './run.js';

const BATTERIES = 16;
const RATE_HZ = 10;

export async function runScale(ctx: Context): Promise<Record<string, unknown>> {
  const warmS = ctx.quick ? 1 : 4;
  const windowS = ctx.quick ? 2 : 15;
  const bundle = await buildRelease();
  const world = await World.start(ctx.build!);
  try {
    const names = Array.from({ length: BATTERIES }, (_, i) => `s${String(i + 1).padStart(2, '0')}`);
    const topics = names.map((n) => `bench/scale/${n}`);
    const yaml = [
      `bus: "${world.bus.address}"`,
      `mqtt: {url: "${world.broker.url}"}`,
      'batteries:',
      ...names.map((n, i) => `  - {name: ${n}, topic: ${topics[i]}, instance: ${100 + i}}`),
      '',
    ].join('\n');
    const maker = new PayloadMaker();
    const vbat = world.vbatConfig(yaml, bundle);
    const floor = world.floor(
      topics,
      names.map((n) => `com.victronenergy.battery.floor_${n}`),
    );
    await floor.waitLog(/^ready$/m, 20_000);
    for (let i = 0; i < BATTERIES; i++) await world.prime(names[i]!, topics[i]!, maker.text(0));

    let k = 0;
    const next = (): Buffer => {
      const i = k % BATTERIES;
      return publishPacket(topics[i]!, maker.text(++k));
    };
    const rate = BATTERIES * RATE_HZ;
    await pace(world.pub, { rate, durationMs: warmS * 1000 }, next);
    const accepted = async (): Promise<number> => {
      let n = 0;
      for (const name of names) n += (await world.reader.value(serviceOf(name), '/Vbat/MessagesAccepted')) as number;
      return n;
    };
    const a0 = await accepted();
    const g0 = await floorCount(floor);
    const v0 = cpuMs(vbat.pid);
    const f0 = cpuMs(floor.pid);
    const vs0 = statCpuMs(vbat.pid);
    const fs0 = statCpuMs(floor.pid);
    const r = await pace(world.pub, { rate, durationMs: windowS * 1000 }, next);
    const vCpu = cpuMs(vbat.pid) - v0;
    const fCpu = cpuMs(floor.pid) - f0;
    const vStat = statCpuMs(vbat.pid) - vs0;
    const fStat = statCpuMs(floor.pid) - fs0;
    await sleep(200);
    const mapped = (await accepted()) - a0;
    const received = (await floorCount(floor)) - g0;
    const vm = memory(vbat.pid);
    const fm = memory(floor.pid);
    const s = r.ms / 1000;
    const pct = (vCpu / 1000 / s) * 100;
    const floorPct = (fCpu / 1000 / s) * 100;
    ctx.log(
      `  16 × 10 Hz: vbat ${round(pct, 1)} % CPU, ${round(vm.rssMb, 1)} MB (private ${round(vm.rssAnonMb, 1)}); floor ${round(floorPct, 1)} %, ${round(fm.rssMb, 1)} MB (${round(fm.rssAnonMb, 1)})`,
    );
    return {
      batteries: BATTERIES,
      rateHzEach: RATE_HZ,
      windowS: round(s, 1),
      published: r.sent,
      mapped,
      floorReceived: received,
      cpuPercent: figure(pct, '%', { floor: floorPct, target: TARGETS.scaleCpuPct, digits: 2, note: '% of one core' }),
      statCpuPercent: {
        vbat: round((vStat / 1000 / s) * 100, 2),
        floor: round((fStat / 1000 / s) * 100, 2),
        note: 'utime + stime (10 ms ticks), cross-check',
      },
      rssMb: figure(vm.rssMb, 'MB', { floor: fm.rssMb, target: TARGETS.scaleRssMb, digits: 1 }),
      rssAnonMb: figure(vm.rssAnonMb, 'MB', { floor: fm.rssAnonMb, target: TARGETS.scaleRssAnonMb, digits: 1 }),
      peakRssMb: figure(vm.hwmMb, 'MB', { floor: fm.hwmMb, digits: 1 }),
      cpuMsPerPayload: figure(vCpu / r.sent, 'ms', { floor: fCpu / r.sent, digits: 4 }),
    };
  } finally {
    await world.stop();
  }
}
