/**
 * End-to-end harness: a private dbus-daemon and mosquitto, `vbat run` as a child process, an MQTT
 * publisher, and a D-Bus reader that is not vbat's own code (dbus-next's low-level client).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import mqtt, { type MqttClient } from 'mqtt';
import type { Variant } from 'dbus-next';
import { startDbusDaemon, type DbusDaemon } from '../support/dbus-daemon.js';
import { startMosquitto, type Broker } from '../support/mosquitto.js';
import { CLI_ENTRY } from '../support/cli.js';
import { repoRoot } from '../support/paths.js';
import { Client, bounded, sleep } from '../dbus/helpers.js';

export interface Item {
  value: unknown;
  /** D-Bus signature of the value's variant ('ai' for invalid). */
  type: string;
  text: string;
}

export class Daemon {
  log = '';
  private exited?: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Wait for a log line matching `re`. */
  async waitLog(re: RegExp, timeoutMs = 8000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!re.test(this.log)) {
      if (Date.now() > end) throw new Error(`no log line ${re} within ${timeoutMs} ms; log:\n${this.log}`);
      if (this.child.exitCode !== null) throw new Error(`vbat exited (${this.child.exitCode}) before ${re}; log:\n${this.log}`);
      await sleep(20);
    }
  }

  count(re: RegExp): number {
    return this.log.split('\n').filter((l) => re.test(l)).length;
  }

  /** SIGTERM; resolves with the exit code and how long it took. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; ms: number }> {
    const t = Date.now();
    if (this.child.exitCode === null) this.child.kill(signal);
    const code = await bounded(this.exited!, 'vbat to exit', 5000).catch(() => {
      this.child.kill('SIGKILL');
      return null;
    });
    return { code, ms: Date.now() - t };
  }

  exit(): Promise<number | null> {
    return this.exited!;
  }
}

export class World {
  bus!: DbusDaemon;
  broker!: Broker;
  reader!: Client;
  private pub?: MqttClient;
  private daemons: Daemon[] = [];

  async start(opts: { socketPath?: string } = {}): Promise<void> {
    this.bus = await startDbusDaemon({ socketPath: opts.socketPath });
    this.broker = await startMosquitto();
    this.reader = await Client.connect(this.bus.address);
  }

  async stop(): Promise<void> {
    await Promise.all(this.daemons.map((d) => d.stop()));
    this.pub?.end(true);
    this.reader?.close();
    await this.broker?.stop();
    await this.bus?.stop();
  }

  vbat(args: string[]): Daemon {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, 'run', '--bus', this.bus.address, ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const d = new Daemon(child);
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
  async items(service: string): Promise<Record<string, Item>> {
    const reply = await this.reader.call(service, '/', 'GetItems');
    const out: Record<string, Item> = {};
    for (const [path, v] of Object.entries(reply.body[0] as Record<string, { Value: Variant; Text: Variant }>)) {
      out[path] = { value: v.Value.signature === 'ai' ? null : v.Value.value, type: v.Value.signature, text: v.Text.value as string };
    }
    return out;
  }

  async item(service: string, path: string): Promise<Item> {
    const [value, text] = await Promise.all([this.reader.call(service, path, 'GetValue'), this.reader.call(service, path, 'GetText')]);
    const v = value.body[0] as Variant;
    return { value: v.signature === 'ai' ? null : v.value, type: v.signature, text: text.body[0] as string };
  }

  /** Poll until `cond` holds for the service's items. */
  async until(
    service: string,
    cond: (items: Record<string, Item>) => boolean,
    what: string,
    timeoutMs = 8000,
  ): Promise<Record<string, Item>> {
    const end = Date.now() + timeoutMs;
    let last: Record<string, Item> | undefined;
    let error = '';
    for (;;) {
      try {
        last = await this.items(service);
        if (cond(last)) return last;
      } catch (err) {
        error = (err as Error).message;
      }
      if (Date.now() > end)
        throw new Error(
          `timed out waiting for ${what} on ${service}${error ? `: ${error}` : ''}\n/Connected=${JSON.stringify(last?.['/Connected'])}`,
        );
      await sleep(30);
    }
  }

  async nameOwner(name: string): Promise<string | undefined> {
    try {
      return (await this.reader.daemon('GetNameOwner', 's', [name])).body[0] as string;
    } catch {
      return undefined;
    }
  }
}
