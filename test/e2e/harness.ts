/**
 * End-to-end harness: a private dbus-daemon and mosquitto, `vbat run` as a child process (the
 * shared Proc wrapper), an MQTT publisher, and a D-Bus reader that is not vbat's own code (the
 * shared BusClient).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { BusClient, type Item } from '../support/bus-client.js';
import { spawnCli } from '../support/cli.js';
import { startDbusDaemon, type DbusDaemon } from '../support/dbus-daemon.js';
import { startMosquitto, type Broker } from '../support/mosquitto.js';
import type { Proc } from '../support/process.js';
import { bounded } from '../support/wait.js';

/** How long an end-to-end test waits for a line of vbat's log by default. */
export const LOG_WAIT_MS = 8000;

/** `vbat run --bus ADDRESS ARGS` as a child process (see Proc: log, waitLog, count, stop). */
export function startVbat(busAddress: string, args: string[]): Proc {
  return spawnCli(['run', '--bus', busAddress, ...args], { waitMs: LOG_WAIT_MS });
}

export class World {
  bus!: DbusDaemon;
  broker!: Broker;
  reader!: BusClient;
  private pub?: MqttClient;
  private daemons: Proc[] = [];

  async start(opts: { socketPath?: string } = {}): Promise<void> {
    this.bus = await startDbusDaemon({ socketPath: opts.socketPath });
    this.broker = await startMosquitto();
    this.reader = await BusClient.connect(this.bus.address);
  }

  async stop(): Promise<void> {
    await Promise.all(this.daemons.map((d) => d.stop()));
    this.pub?.end(true);
    this.reader?.close();
    await this.broker?.stop();
    await this.bus?.stop();
  }

  /** `vbat run ARGS` on this world's bus; stopped by stop(). */
  vbat(args: string[]): Proc {
    const d = startVbat(this.bus.address, args);
    this.daemons.push(d);
    return d;
  }

  async publisher(): Promise<MqttClient> {
    if (!this.pub) {
      const c = mqtt.connect(this.broker.url, { reconnectPeriod: 200 });
      c.on('error', () => undefined);
      await bounded(new Promise<void>((r) => c.once('connect', () => r())), 'publisher connect');
      this.pub = c;
    }
    return this.pub;
  }

  async publish(topic: string, payload: string | Buffer | object, opts: { retain?: boolean } = {}): Promise<void> {
    const c = await this.publisher();
    const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
    await bounded(c.publishAsync(topic, body, { qos: 1, retain: opts.retain ?? false }), `publish ${topic}`);
  }

  /** Every item of a service, read with GetItems. */
  items(service: string): Promise<Record<string, Item>> {
    return this.reader.items(service);
  }

  item(service: string, path: string): Promise<Item> {
    return this.reader.item(service, path);
  }

  /** Poll until `cond` holds for the service's items. */
  until(service: string, cond: (items: Record<string, Item>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, Item>> {
    return this.reader.until(service, cond, what, timeoutMs);
  }

  nameOwner(name: string): Promise<string | undefined> {
    return this.reader.nameOwner(name);
  }
}
