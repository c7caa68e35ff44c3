/**
 * `vbat run`: the daemon. The composition root: config → mappings → one Battery (own MQTT client,
 * own D-Bus connection and service) per configured battery, all in this process. Everything is
 * validated before the first connection; SIGTERM/SIGINT release the bus names within a second.
 */
import { createBatteries, loadBatteryMappings, type Battery } from '../battery/index.js';
import { SettingsClient } from '../dbus/index.js';
import { loadConfig, type ConfigFlags } from '../config/index.js';
import { UsageError } from '../errors.js';
import { Logger } from '../log.js';
import { helpText, parseCommand, parseVars, type CommandSpec } from './args.js';

export const RUN_COMMAND = {
  name: 'run',
  usage: ['run --topic TOPIC [--broker URL] [--mapping FILE] [OPTIONS]', 'run --config FILE [OPTIONS that override it]'],
  summary: 'Run the MQTT → D-Bus battery daemon (one service per configured battery).',
  description: [
    "Runs the daemon: subscribes to MQTT, maps each message with the battery's mapping and exports a com.victronenergy.battery.* service on D-Bus, until SIGTERM or Ctrl-C. Everything is checked before anything connects; a bad config or mapping is refused with FILE:LINE: reason.",
    'Without --config, the flags describe one battery (--topic, or a mapping with input.topic, is enough). With --config, the batteries come from the file (start from config.sample.yaml, which documents every setting) and the flags override it; the battery flags (--topic, --mapping, --instance, --timeout, --name, --var) need a config with at most one battery.',
  ],
  flags: {
    config: { type: 'string', arg: 'FILE', help: 'the config file (YAML): broker, credentials, TLS, batteries and the rest' },
    broker: {
      type: 'string',
      arg: 'URL',
      help: 'MQTT broker, e.g. mqtt://192.168.1.10:1883 or mqtts://host:8883 (default mqtt://127.0.0.1:1883)',
    },
    topic: {
      type: 'string',
      arg: 'TOPIC',
      help: "topic filter the battery's data arrives on (+ and # allowed); replaces the topics of the config's battery",
    },
    mapping: { type: 'string', arg: 'FILE', help: 'mapping file (default: the shipped mappings/default.yaml)' },
    instance: {
      type: 'string',
      arg: 'N',
      help: 'device instance (VRM instance) to ask the settings service for (default 100); it may hand back another free one',
    },
    timeout: {
      type: 'string',
      arg: 'SECONDS',
      help: 'seconds without a valid message before the battery goes stale: /Connected 0 and every data path, the charge limits above all, invalid (default 60)',
    },
    bus: {
      type: 'string',
      arg: 'ADDRESS',
      help: 'D-Bus address, e.g. unix:path=/run/dbus/system_bus_socket (default: $DBUS_SYSTEM_BUS_ADDRESS, else the system bus)',
    },
    name: {
      type: 'string',
      arg: 'NAME',
      help: 'battery name (letters, digits, - and _): the service is com.victronenergy.battery.vbat_NAME and MQTT clients are named after it (default: battery)',
    },
    var: {
      type: 'string',
      arg: 'NAME=VALUE',
      multiple: true,
      help: "set a mapping variable, overriding the mapping's and the config's value; repeat for several. Numbers and true/false are typed, anything else is a string.",
    },
    'log-level': { type: 'string', arg: 'LEVEL', help: 'error, warn, info or debug: how much goes to the log on stderr (default info)' },
  },
  notes: [
    'Examples:\n  vbat run --broker mqtt://192.168.1.10:1883 --topic bms/house\n  vbat run --config /data/apps/available/vbat/config.yaml --log-level debug',
  ],
} satisfies CommandSpec;

export const RUN_USAGE = helpText(RUN_COMMAND);

export function runFlags(args: string[]): { configFile?: string; flags: ConfigFlags; help: boolean } {
  const { values } = parseCommand(RUN_COMMAND, args);
  if (values.help) return { flags: {}, help: true };
  const number = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || v.trim() === '') throw new UsageError(`--${flag} expects a number, got "${v}"`);
    return n;
  };
  return {
    configFile: values.config,
    help: false,
    flags: {
      broker: values.broker,
      topic: values.topic,
      mapping: values.mapping,
      instance: number('instance', values.instance),
      timeout: number('timeout', values.timeout),
      bus: values.bus,
      name: values.name,
      logLevel: logLevel(values['log-level']),
      variables: values.var ? parseVars(values.var) : undefined,
    },
  };
}

const LOG_LEVELS = ['error', 'warn', 'info', 'debug'];

function logLevel(v: string | undefined): string | undefined {
  if (v !== undefined && !LOG_LEVELS.includes(v)) throw new UsageError(`--log-level expects one of ${LOG_LEVELS.join(', ')}, got "${v}"`);
  return v;
}

/** Start every battery; resolves with the exit code once a signal has stopped them. */
export async function run(args: string[]): Promise<number> {
  const { configFile, flags, help } = runFlags(args);
  if (help) {
    process.stdout.write(RUN_USAGE);
    return 0;
  }
  const config = loadConfig(configFile, flags);
  // Every battery's mapping is checked before anything connects (the same check as vbat check --config).
  const mappings = loadBatteryMappings(config.batteries);
  const log = new Logger(config.logLevel, undefined, config.warningInterval * 1000);
  let settings: SettingsClient | undefined;
  try {
    settings = await SettingsClient.connect(config.bus);
  } catch (err) {
    log.error(`cannot connect to D-Bus: ${(err as Error).message}`);
    return 1;
  }
  const batteries = createBatteries(config, log, settings, mappings);
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
