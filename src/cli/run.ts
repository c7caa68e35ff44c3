/**
 * `vbat run`: the daemon. The composition root: config → mappings → one Battery (own MQTT client,
 * own D-Bus connection and service) per configured battery, all in this process. Everything is
 * validated before the first connection; SIGTERM/SIGINT release the bus names within a second.
 */
import { parseArgs } from 'node:util';
import { createBatteries, type Battery } from '../battery/index.js';
import { SettingsClient } from '../dbus/index.js';
import { loadConfig, type ConfigFlags } from '../config/index.js';
import { UsageError } from '../errors.js';
import { Logger } from '../log.js';
import { parse, parseVars } from './args.js';

export const RUN_USAGE = `Usage: vbat run [--config FILE] [--broker URL] [--topic TOPIC] [--mapping FILE]
                [--instance N] [--timeout SECONDS] [--bus ADDRESS] [--name NAME]
                [--var NAME=VALUE]... [--log-level error|warn|info|debug]

Runs the MQTT → D-Bus battery daemon. With --config, batteries come from the file and flags
override it; without, --topic (or a mapping with input.topic) defines one battery.
  --broker URL      MQTT broker, e.g. mqtt://192.168.1.10:1883 or mqtts://host:8883
  --topic TOPIC     topic filter the battery's data arrives on
  --mapping FILE    mapping file (default: the shipped mappings/default.yaml)
  --instance N      D-Bus /DeviceInstance (default 100)
  --timeout S       seconds without valid data before the battery is stale (default 60)
  --bus ADDRESS     D-Bus address (default: $DBUS_SYSTEM_BUS_ADDRESS, else the system bus)
  --name NAME       battery name: service com.victronenergy.battery.vbat_NAME (default battery)
`;

export function runFlags(args: string[]): { configFile?: string; flags: ConfigFlags; help: boolean } {
  const { values } = parse(() =>
    parseArgs({
      args,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        broker: { type: 'string' },
        topic: { type: 'string' },
        mapping: { type: 'string' },
        instance: { type: 'string' },
        timeout: { type: 'string' },
        bus: { type: 'string' },
        name: { type: 'string' },
        var: { type: 'string', multiple: true },
        'log-level': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }),
  );
  const number = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || v.trim() === '') throw new UsageError(`--${flag} expects a number, got "${v}"`);
    return n;
  };
  return {
    configFile: values.config,
    help: values.help ?? false,
    flags: {
      broker: values.broker,
      topic: values.topic,
      mapping: values.mapping,
      instance: number('instance', values.instance),
      timeout: number('timeout', values.timeout),
      bus: values.bus,
      name: values.name,
      logLevel: values['log-level'],
      variables: values.var ? parseVars(values.var) : undefined,
    },
  };
}

/** Start every battery; resolves with the exit code once a signal has stopped them. */
export async function run(args: string[]): Promise<number> {
  const { configFile, flags, help } = runFlags(args);
  if (help) {
    process.stdout.write(RUN_USAGE);
    return 0;
  }
  const config = loadConfig(configFile, flags);
  const log = new Logger(config.logLevel, undefined, config.warningInterval * 1000);
  let settings: SettingsClient | undefined;
  try {
    settings = await SettingsClient.connect(config.bus);
  } catch (err) {
    log.error(`cannot connect to D-Bus: ${(err as Error).message}`);
    return 1;
  }
  const batteries = createBatteries(config, log, settings);
  const started: Battery[] = [];
  try {
    for (const b of batteries) {
      await b.start();
      started.push(b);
    }
  } catch (err) {
    log.error((err as Error).message);
    await stopAll(started);
    await settings.close();
    return 1;
  }
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log.info(`${signal}: releasing ${started.map((b) => b.serviceName).join(', ')}`);
      // Never hang on the way out: supervise gives us a second.
      const force = setTimeout(() => resolve(0), 900);
      // And never outlive it: whatever is still open (a dead bus, a dead broker) cannot keep the
      // process alive past this (unref'd: it fires only if something else holds the loop).
      setTimeout(() => process.exit(process.exitCode ?? 0), 1500).unref();
      void stopAll(started).then(async () => {
        await settings?.close();
        clearTimeout(force);
        resolve(0);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

async function stopAll(batteries: Battery[]): Promise<void> {
  await Promise.allSettled(batteries.map((b) => b.stop()));
}
