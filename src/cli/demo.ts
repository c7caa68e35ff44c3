/**
 * `vbat demo`: everything on one laptop with nothing configured. An embedded MQTT broker on
 * 127.0.0.1, a private dbus-daemon (unless --bus), vbat's battery runtime with the default
 * mapping (in this process, as `vbat run` would run it), a simulated BMS publishing the default
 * mapping's JSON once a second, and `vbat watch`'s view of the resulting service. Ctrl-C stops
 * everything in reverse order, removes the temp dir, and exits 0.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import type { Battery } from '../battery/index.js';
import { loadConfig } from '../config/index.js';
import { BmsSimulator, DemoBroker, startPrivateBus } from '../demo/index.js';
import { UsageError } from '../errors.js';
import { Logger } from '../log.js';
import { BusWatcher, LiveView, stopper, type Output } from '../watch/index.js';
import { helpText, parseCommand, type CommandSpec } from './args.js';
import { createBatteries } from '../battery/index.js';
import { seconds } from './watch.js';

export const DEMO_COMMAND = {
  name: 'demo',
  usage: ['demo [--duration SECONDS | --once] [--port PORT] [--bus ADDRESS]'],
  summary: 'Try vbat with nothing set up: embedded broker, private D-Bus, simulated BMS, live view.',
  description: [
    'Runs a complete vbat on this machine: an embedded MQTT broker on 127.0.0.1, a private dbus-daemon, vbat with the default mapping, and a simulated 16-cell LiFePO4 BMS that charges, discharges, balances and now and then raises an alarm. It shows the battery as Venus OS sees it until Ctrl-C, then stops everything and removes its temp files.',
    "Needs dbus-daemon (apt-get install dbus) unless --bus is given. Never point --bus at a GX device's system bus: the demo battery would look like a real one there, and DVCC would use its limits.",
  ],
  flags: {
    duration: { type: 'string', arg: 'SECONDS', help: 'stop after this many seconds (default: run until Ctrl-C)' },
    once: { type: 'boolean', help: 'stop as soon as the battery shows connected with data (a quick smoke test)' },
    port: { type: 'string', arg: 'PORT', help: 'port of the embedded broker on 127.0.0.1 (default: a free one)' },
    bus: { type: 'string', arg: 'ADDRESS', help: 'export the demo battery on this D-Bus instead of a private one' },
  },
  notes: [
    'Exit status: 0 when stopped by Ctrl-C, --duration or --once; 1 when something could not start (the message says what); 2 on a usage error.',
  ],
} satisfies CommandSpec;

export const DEMO_USAGE = helpText(DEMO_COMMAND);

export const DEMO_TOPIC = 'vbat-demo/bms';
const DEMO_NAME = 'demo';
const PUBLISH_MS = 1000;
const STEP_TIMEOUT_MS = 1500;
const LOG_LINES = 3;

export interface DemoIo {
  out: Output;
  err: Output;
  /** Redraw in place; default: out is a terminal. */
  tty?: boolean;
}

export async function demo(args: string[], io: DemoIo = { out: process.stdout, err: process.stderr }): Promise<number> {
  const { values } = parseCommand(DEMO_COMMAND, args);
  if (values.help) {
    io.out.write(DEMO_USAGE);
    return 0;
  }
  const duration = seconds('duration', values.duration);
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!/^\d+$/.test(values.port ?? '0') || port > 65535)
    throw new UsageError(`--port expects a port number (0-65535), got "${values.port}"`);
  const tty = io.tty ?? io.out.isTTY === true;

  let ready: () => void = () => undefined;
  const shown = values.once ? new Promise<void>((r) => (ready = r)) : undefined;
  const stop = stopper(duration, shown);
  const cleanups: [string, () => Promise<unknown>][] = [];
  const recent: string[] = [];
  /** On a terminal, log lines show under the view while it runs, and plainly after. */
  let viewing = false;
  const log = new Logger('info', {
    write: (line) => {
      if (!viewing) return void io.err.write(line);
      recent.push(line.trimEnd());
      if (recent.length > LOG_LINES) recent.shift();
    },
  });

  let code = 0;
  try {
    // 1. Temp dir, broker and (unless --bus) a private bus.
    const dir = await mkdtemp(join(tmpdir(), 'vbat-demo-'));
    cleanups.push(['temp dir', () => rm(dir, { recursive: true, force: true })]);
    const broker = await DemoBroker.start({ port });
    cleanups.push(['broker', () => broker.close()]);
    let busAddress = values.bus;
    let busNote = 'given with --bus';
    if (!busAddress) {
      const bus = await startPrivateBus(dir);
      cleanups.push(['dbus-daemon', () => bus.stop()]);
      busAddress = bus.address;
      busNote = `private dbus-daemon, pid ${bus.pid}`;
    }
    if (stop.reason) return 0;

    // 2. vbat itself, with the default mapping, exactly as `vbat run --topic ... --name demo`.
    const config = loadConfig(undefined, { broker: broker.url, topic: DEMO_TOPIC, bus: busAddress, name: DEMO_NAME });
    const [battery] = createBatteries(config, log) as [Battery];
    cleanups.push(['vbat', () => battery.stop()]);
    await battery.start();
    if (stop.reason) return 0;

    // 3. The view: `vbat watch` pointed at the demo's service.
    const watcher = await BusWatcher.connect(busAddress);
    cleanups.push(['watcher', () => watcher.close()]);
    const footer = [
      `MQTT   ${broker.url}  topic ${DEMO_TOPIC} (simulated BMS, 1 message/s)`,
      `D-Bus  ${busAddress} (${busNote})`,
      `Also:  npx vbat watch --bus ${busAddress}`,
      'Ctrl-C stops the demo and cleans up.',
    ];
    const view = new LiveView(() => watcher.snapshot, {
      out: io.out,
      tty,
      view: () => ({ title: 'vbat demo', footer: [...footer, ...recent] }),
    });
    watcher.onLost((err) => stop.stop('error', err));
    await watcher.watch(battery.serviceName, () => {
      view.update();
      const items = watcher.snapshot.items;
      if (items.get('/Connected')?.value === 1 && items.get('/Soc')?.value !== null && items.has('/Soc')) ready();
    });
    cleanups.push([
      'view',
      async () => {
        view.stop();
        viewing = false;
      },
    ]);
    if (!tty) {
      io.out.write(`vbat demo: service ${battery.serviceName}\n`);
      for (const line of footer) io.out.write(`vbat demo: ${line}\n`);
    }
    view.start();
    viewing = tty;

    // 4. The simulated BMS: its own MQTT client, one payload a second.
    const bms = simulatedBms(broker.url);
    cleanups.push(['simulated BMS', () => bms.stop()]);

    const { reason, error } = await stop.stopped;
    if (reason === 'error') {
      log.error(`D-Bus connection lost: ${error?.message ?? ''}`);
      code = 1;
    }
  } catch (err) {
    stop.stop('error');
    code = 1;
    // One line; for a missing dbus-daemon it is the install hint (MissingDbusDaemonError).
    io.err.write(`vbat demo: ${(err as Error).message}\n`);
  } finally {
    // Reverse order, each step bounded: Ctrl-C always ends within a couple of seconds.
    for (const [what, fn] of cleanups.reverse()) {
      await bounded(fn(), STEP_TIMEOUT_MS).catch((e: unknown) =>
        io.err.write(`vbat demo: stopping the ${what}: ${(e as Error).message}\n`),
      );
    }
  }
  return code;
}

/** A client that publishes the simulator's payload every second, like a BMS bridge would. */
function simulatedBms(url: string): { stop(): Promise<void> } {
  const sim = new BmsSimulator({ seed: Date.now() & 0xffff });
  const client: MqttClient = mqtt.connect(url, { clientId: `vbat-demo-bms-${process.pid}`, reconnectPeriod: 1000, connectTimeout: 5000 });
  client.on('error', () => undefined); // reconnects on its own; the view shows the battery going stale
  const publish = () => {
    if (client.connected) client.publish(DEMO_TOPIC, JSON.stringify(sim.step(PUBLISH_MS / 1000)));
  };
  client.on('connect', publish);
  const timer = setInterval(publish, PUBLISH_MS);
  return {
    async stop() {
      clearInterval(timer);
      await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
    },
  };
}

function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}
