/**
 * One end-to-end setting: a private dbus-daemon and mosquitto (fresh for every measurement group,
 * so no backlog carries over), a D-Bus reader, a publisher, and the processes under test.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDbusDaemon, type DbusDaemon } from '../../support/dbus-daemon.js';
import { startMosquitto, type Broker } from '../../support/mosquitto.js';
import { BusClient } from '../../support/bus-client.js';
import { repoRoot } from '../../support/paths.js';
import type { Proc } from '../../support/process.js';
import { sleep } from '../../support/wait.js';
import type { Build } from './build.js';
import { childPids, cpuMs, nodeProc } from './proc.js';
import { Publisher, publishPacket } from './publisher.js';

/** The bus name of the benchmark battery `name`. */
export const serviceOf = (name: string): string => `com.victronenergy.battery.vbat_${name}`;

export class World {
  /** Records no signals (a long run must not grow); measurements listen with onSignal. */
  reader!: BusClient;
  pub!: Publisher;
  private readonly procs: Proc[] = [];
  private readonly tmp = mkdtempSync(join(tmpdir(), 'vbat-bench-'));

  private constructor(
    readonly build: Build,
    readonly bus: DbusDaemon,
    readonly broker: Broker,
  ) {}

  static async start(build: Build): Promise<World> {
    const bus = await startDbusDaemon();
    let broker: Broker;
    try {
      broker = await startMosquitto();
    } catch (e) {
      await bus.stop();
      throw e;
    }
    const w = new World(build, bus, broker);
    try {
      w.reader = await BusClient.connect(bus.address, { record: false });
      w.pub = await Publisher.connect(broker.port);
    } catch (e) {
      await w.stop();
      throw e;
    }
    return w;
  }

  /** `vbat run` (compiled, or `script`: the release bundle) on this world's bus and broker. */
  vbat(args: string[], script = this.build.vbatMain): Proc {
    const p = nodeProc('vbat', script, ['run', '--bus', this.bus.address, ...args], { cwd: repoRoot, nodeFlags: this.build.nodeFlags });
    this.procs.push(p);
    return p;
  }

  /** One battery: `vbat run --broker … --topic … --name …`. */
  vbatBattery(name: string, topic: string, extra: string[] = [], script?: string): Proc {
    return this.vbat(['--broker', this.broker.url, '--topic', topic, '--name', name, '--instance', '100', ...extra], script);
  }

  /** vbat with a config file of several batteries. */
  vbatConfig(yaml: string, script?: string): Proc {
    const file = join(this.tmp, `config-${this.procs.length}.yaml`);
    writeFileSync(file, yaml);
    return this.vbat(['--config', file], script);
  }

  /** The floor process: bare MQTT subscribers and D-Bus names (see floor-process.ts). */
  floor(topics: string[], names: string[]): Proc {
    const args = ['--broker', this.broker.url, '--bus', this.bus.address];
    for (const t of topics) args.push('--topic', t);
    for (const n of names) args.push('--name', n);
    const p = nodeProc('floor', this.build.floorProcess, args, { stdin: true, nodeFlags: this.build.nodeFlags });
    this.procs.push(p);
    return p;
  }

  /** Publish `payload` on `topic` until the battery shows /Connected = 1. */
  async prime(name: string, topic: string, payload: string, timeoutMs = 15_000): Promise<void> {
    const svc = serviceOf(name);
    await this.reader.waitName(svc, timeoutMs);
    const end = Date.now() + timeoutMs;
    for (;;) {
      this.pub.publishMany([publishPacket(topic, payload)]);
      const deadline = Date.now() + 200;
      while (Date.now() < deadline) {
        if ((await this.reader.value(svc, '/Connected').catch(() => 0)) === 1) return;
        await sleep(10);
      }
      if (Date.now() > end) throw new Error(`${svc} did not connect within ${timeoutMs} ms`);
    }
  }

  /** CPU ms used so far by the broker and the bus daemon (where the rest of the time goes). */
  infraCpuMs(): { mosquitto: number; dbusDaemon: number } {
    const m = childPids('mosquitto');
    return { mosquitto: m.length ? cpuMs(m[0]!) : NaN, dbusDaemon: cpuMs(this.bus.pid) };
  }

  async stopProc(p: Proc): Promise<void> {
    await p.stop();
    const i = this.procs.indexOf(p);
    if (i >= 0) this.procs.splice(i, 1);
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.procs.map((p) => p.stop()));
    this.pub?.close();
    this.reader?.close();
    await this.broker.stop();
    await this.bus.stop();
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** Ask the floor process how many messages it has received. */
export async function floorCount(p: Proc, timeoutMs = 5000): Promise<number> {
  const marker = p.log.length;
  p.child.stdin!.write('count\n');
  const end = Date.now() + timeoutMs;
  for (;;) {
    const m = /\{"received":(\d+)\}\n/.exec(p.log.slice(Math.min(marker, p.log.length)));
    if (m) return Number(m[1]);
    if (Date.now() > end) throw new Error(`the floor process did not answer within ${timeoutMs} ms`);
    await sleep(2);
  }
}
