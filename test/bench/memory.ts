/**
 * 6. Start-up and memory, vbat as its own process (one battery, default mapping):
 *   - start-up: from spawning `node …/main.js run` to its service name appearing on the bus
 *     (NameOwnerChanged seen by a separate client), median of several starts; floor: the floor
 *     process (node, the same libraries loaded, one bus connection claiming a name);
 *   - RSS (VmRSS) after start-up (1 s after MQTT connected, no payload yet) and after 10 000
 *     distinct full payloads (published at 2000/s); floor: the floor process subscribed to the
 *     same topic at the same time;
 *   - the same start-up and RSS-after-start-up for the release bundle (`npm run package`, one
 *     esbuild-bundled vbat.js: what GX devices run), when it builds;
 *   - --long: 1 000 000 payloads at 5000/s, RSS sampled every 100 000, to catch leaks.
 */
import { performance } from 'node:perf_hooks';
import type { Message } from 'dbus-next';
import { sleep } from '../support/wait.js';
import { buildRelease } from './lib/build.js';
import { PayloadMaker, voltageOf } from './lib/payloads.js';
import type { Proc } from '../support/process.js';
import { memory } from './lib/proc.js';
import { pace, publishPacket } from './lib/publisher.js';
import { distribution, figure, median, round, TARGETS } from './lib/stats.js';
import { floorCount, serviceOf, World } from './lib/world.js';
import type { Context } from './run.js';

export async function runMemory(ctx: Context): Promise<Record<string, unknown>> {
  const starts = ctx.quick ? 2 : 7;
  const payloads = ctx.quick ? 2000 : 10_000;
  const world = await World.start(ctx.build!);
  try {
    const topic = 'bench/mem';
    const maker = new PayloadMaker();

    // --- start-up ---------------------------------------------------------------------------
    const appeared = new Map<string, number>();
    await world.reader.addMatch("type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged'");
    world.reader.onSignal((m: Message) => {
      if (m.member !== 'NameOwnerChanged') return;
      const [name, , owner] = m.body as [string, string, string];
      if (owner && !appeared.has(name)) appeared.set(name, performance.now());
    });
    const started = async (name: string, start: () => Proc): Promise<{ ms: number; proc: Proc }> => {
      const t0 = performance.now();
      const proc = start();
      const end = Date.now() + 15_000;
      while (!appeared.has(name)) {
        if (!proc.running) throw new Error(`${proc.name} exited during start-up:\n${proc.log.slice(-2000)}`);
        if (Date.now() > end) throw new Error(`${name} did not appear within 15 s:\n${proc.log.slice(-2000)}`);
        await sleep(1);
      }
      return { ms: appeared.get(name)! - t0, proc };
    };
    const vbatMs: number[] = [];
    const floorMs: number[] = [];
    let vbat: Proc | undefined;
    let floor: Proc | undefined;
    for (let i = 0; i < starts; i++) {
      const last = i === starts - 1;
      const v = await started(serviceOf(`m${i}`), () => world.vbatBattery(`m${i}`, topic));
      vbatMs.push(v.ms);
      if (last) vbat = v.proc;
      else await world.stopProc(v.proc);
      const fname = `com.victronenergy.battery.floor_m${i}`;
      const f = await started(fname, () => world.floor([topic], [fname]));
      floorMs.push(f.ms);
      if (last) floor = f.proc;
      else await world.stopProc(f.proc);
    }
    const vs = median(vbatMs) / 1000;
    const fs = median(floorMs) / 1000;
    ctx.log(`  start-up: vbat ${round(vs, 3)} s, floor ${round(fs, 3)} s (median of ${starts})`);

    // --- the release bundle (what GX devices run), same measurements -------------------------
    let bundle: Record<string, unknown>;
    try {
      const main = await buildRelease();
      const ms: number[] = [];
      let rss = NaN;
      for (let i = 0; i < starts; i++) {
        const b = await started(serviceOf(`r${i}`), () => world.vbatBattery(`r${i}`, `${topic}/bundle`, [], main));
        ms.push(b.ms);
        if (i === starts - 1) {
          await b.proc.waitLog(/subscribed to/);
          await sleep(1000);
          rss = memory(b.proc.pid).rssMb;
        }
        await world.stopProc(b.proc);
      }
      bundle = {
        startupS: figure(median(ms) / 1000, 's', { floor: fs, digits: 3, note: 'npm run package: one esbuild-bundled vbat.js' }),
        rssAfterStartupMb: figure(rss, 'MB', { digits: 1 }),
      };
      ctx.log(`  release bundle: start-up ${round(median(ms) / 1000, 3)} s, ${round(rss, 1)} MB after start-up`);
    } catch (err) {
      bundle = { unavailable: (err as Error).message.slice(0, 500) };
      ctx.log(`  release bundle unavailable: ${(err as Error).message.split('\n')[0]}`);
    }

    // --- RSS after start-up ------------------------------------------------------------------
    await vbat!.waitLog(/subscribed to/);
    await floor!.waitLog(/^ready$/m);
    await sleep(1000);
    const vStart = memory(vbat!.pid);
    const fStart = memory(floor!.pid);

    // --- RSS after 10k payloads ----------------------------------------------------------------
    const name = `m${starts - 1}`;
    const svc = serviceOf(name);
    await world.prime(name, topic, maker.text(0));
    const a0 = (await world.reader.value(svc, '/Vbat/MessagesAccepted')) as number;
    const g0 = await floorCount(floor!);
    let k = 0;
    const next = (): Buffer => publishPacket(topic, maker.text(++k));
    await pace(world.pub, { rate: 2000, count: payloads }, next);
    await world.reader.untilValue(svc, '/Dc/0/Voltage', (v) => v === voltageOf(k), 'the last payload', 15_000, 5);
    await sleep(1000);
    const vAfter = memory(vbat!.pid);
    const fAfter = memory(floor!.pid);
    const mapped = ((await world.reader.value(svc, '/Vbat/MessagesAccepted')) as number) - a0;
    const received = (await floorCount(floor!)) - g0;
    ctx.log(
      `  RSS: vbat ${round(vStart.rssMb, 1)} MB after start-up, ${round(vAfter.rssMb, 1)} MB after ${payloads} payloads; floor ${round(fStart.rssMb, 1)} / ${round(fAfter.rssMb, 1)} MB`,
    );

    const out: Record<string, unknown> = {
      startupS: figure(vs, 's', { floor: fs, target: TARGETS.startupS, digits: 3, note: `median of ${starts}: spawn → name on the bus` }),
      startupDistributionS: { vbat: distribution(vbatMs.map((x) => x / 1000)), floor: distribution(floorMs.map((x) => x / 1000)) },
      rssAfterStartupMb: figure(vStart.rssMb, 'MB', { floor: fStart.rssMb, digits: 1 }),
      rssAfter10kMb: figure(vAfter.rssMb, 'MB', {
        floor: fAfter.rssMb,
        target: TARGETS.rssSteadyMb,
        digits: 1,
        note: `after ${payloads} distinct payloads at 2000/s, 1 s settle`,
      }),
      peakRssMb: figure(vAfter.hwmMb, 'MB', { floor: fAfter.hwmMb, digits: 1 }),
      releaseBundle: bundle,
      payloads,
      mapped,
      floorReceived: received,
    };

    if (ctx.long) {
      const total = ctx.quick ? 100_000 : 1_000_000;
      const every = total / 10;
      const samples: { payloads: number; rssMb: number; floorRssMb: number }[] = [];
      ctx.log(`  --long: ${total} payloads at 5000/s (${total / 5000} s)`);
      for (let done = 0; done < total; done += every) {
        await pace(world.pub, { rate: 5000, count: every }, next);
        samples.push({ payloads: done + every, rssMb: round(memory(vbat!.pid).rssMb, 1), floorRssMb: round(memory(floor!.pid).rssMb, 1) });
        ctx.log(`  ${done + every}: vbat ${samples[samples.length - 1]!.rssMb} MB`);
      }
      await world.reader.untilValue(svc, '/Dc/0/Voltage', (v) => v === voltageOf(k), 'the last payload', 30_000, 5);
      await sleep(2000);
      const vEnd = memory(vbat!.pid);
      const fEnd = memory(floor!.pid);
      const second = samples.filter((s) => s.payloads > total / 2);
      out['long'] = {
        payloads: total,
        rssAtEndMb: figure(vEnd.rssMb, 'MB', { floor: fEnd.rssMb, target: TARGETS.rssSteadyMb, digits: 1 }),
        peakRssMb: figure(vEnd.hwmMb, 'MB', { floor: fEnd.hwmMb, digits: 1 }),
        rssGrowthSecondHalfMb: round(second[second.length - 1]!.rssMb - second[0]!.rssMb, 1),
        samples,
      };
    }
    return out;
  } finally {
    await world.stop();
  }
}
