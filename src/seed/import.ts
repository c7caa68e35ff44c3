/**
 * mr-manuel's dbus-mqtt-battery config.ini → a vbat config: the same broker, TLS, credentials,
 * topic, device instance, device name, timeout, log level and TimeToGo settings, read as the
 * seed reads them (its own fallbacks included), and a note for everything that cannot be
 * carried over or means something else in vbat. The JSON the seed reads is what the shipped
 * default mapping reads, so the battery keeps the default mapping.
 */
import type { LogLevel } from '../config/index.js';
import { FileProblemsError, type Problem } from '../errors.js';
import { iniValue, parseIni, type IniEntry } from './ini.js';

/** The seed's settings (config.sample.ini), by section. */
const KNOWN: Record<string, string[]> = {
  DEFAULT: ['logging', 'device_name', 'device_instance', 'timeout'],
  TIME_TO_GO: ['enabled', 'soc', 'recalculate_every'],
  MQTT: ['broker_address', 'broker_port', 'tls_enabled', 'tls_path_to_ca', 'tls_insecure', 'username', 'password', 'topic'],
};

/** What the seed's sample config.ini holds until it is edited (the seed refuses to start with it). */
export const SEED_PLACEHOLDER_BROKER = 'IP_ADDR_OR_FQDN';

export interface SeedImport {
  /** The vbat config, as the YAML file holds it. */
  config: {
    logLevel: LogLevel;
    mqtt: { url: string; username?: string; password?: string; ca?: string };
    batteries: [
      {
        name: string;
        topic: string;
        instance: number;
        customName: string;
        timeout: number;
        variables: { ttgEnabled: boolean; ttgSoc: number; ttgInterval: number };
      },
    ];
  };
  /** What could not be carried over, or behaves otherwise in vbat: one sentence each. */
  notes: string[];
}

/** Throws FileProblemsError (file, line, reason) when the seed itself could not run with the file. */
export function importSeedConfig(file: string, text: string): SeedImport {
  const { ini, problems } = parseIni(file, text);
  const notes: string[] = [];
  const problem = (p: Problem) => problems.push(p);
  const get = (section: string, key: string): IniEntry | undefined => iniValue(ini, section, key, problem);
  const at = (e: IniEntry | undefined) => (e ? ` (line ${e.line})` : '');
  /** Python's int(): what the seed calls on its numbers; anything else stops the seed. */
  const int = (section: string, key: string, fallback: number): number => {
    const e = get(section, key);
    if (!e) return fallback;
    if (!/^[+-]?\d+(_\d+)*$/.test(e.value.trim())) {
      problem({ file, line: e.line, where: `[${section}] ${key}`, reason: `"${e.value}" is not a whole number (the seed stops on it)` });
      return fallback;
    }
    return Number(e.value.trim().replace(/_/g, ''));
  };

  for (const [name, keys] of ini.sections) {
    const known = KNOWN[name];
    for (const [key, e] of keys) {
      if (!known) notes.push(`[${name}] ${key}${at(e)}: not a dbus-mqtt-battery setting (unknown section), not carried over`);
      else if (!known.includes(key)) notes.push(`[${name}] ${key}${at(e)}: not a dbus-mqtt-battery setting, not carried over`);
    }
  }

  // [DEFAULT]
  const logging = get('DEFAULT', 'logging');
  const levels: Record<string, LogLevel> = { DEBUG: 'debug', INFO: 'info', WARNING: 'warn', ERROR: 'error' };
  const logLevel = logging ? levels[logging.value] : 'warn';
  if (logging && !logLevel)
    notes.push(`logging = ${logging.value}${at(logging)}: not a level the seed knows; it uses WARNING, so logLevel: warn`);
  const deviceName = get('DEFAULT', 'device_name')?.value || 'MQTT Battery';
  const instanceEntry = get('DEFAULT', 'device_instance');
  for (const key of ['device_name', 'device_instance']) {
    if (!get('DEFAULT', key))
      notes.push(`${key} is missing (the seed stops without it): ${key === 'device_name' ? '"MQTT Battery"' : '100'}, its sample's value`);
  }
  let instance = int('DEFAULT', 'device_instance', 100);
  if (instance < 0 || instance > 2147483647) {
    problem({
      file,
      line: instanceEntry?.line,
      where: '[DEFAULT] device_instance',
      reason: `${instance} is not a device instance (0 to 2147483647)`,
    });
    instance = 100;
  }
  const timeoutEntry = get('DEFAULT', 'timeout');
  let timeout = int('DEFAULT', 'timeout', 60);
  if (timeout <= 0) {
    notes.push(
      `timeout = ${timeoutEntry?.value}${at(timeoutEntry)}: "never time out" is not carried over: vbat always makes a silent battery stale, so DVCC stops using its charge limits; timeout: 60 (vbat's default)`,
    );
    timeout = 60;
  }
  notes.push(
    `timeout: after ${timeout} s without a message the seed exits (its service leaves the bus until it restarts); vbat keeps the service, sets /Connected = 0 and every value invalid until data comes back`,
  );

  // [TIME_TO_GO]
  const ttgEnabled = get('TIME_TO_GO', 'enabled')?.value === '1';
  const ttgSoc = int('TIME_TO_GO', 'soc', 10);
  const ttgInterval = int('TIME_TO_GO', 'recalculate_every', 300);

  // [MQTT]
  const host = get('MQTT', 'broker_address');
  const topic = get('MQTT', 'topic');
  if (!ini.sections.has('MQTT')) problem({ file, reason: 'no [MQTT] section: there is no broker to import' });
  else {
    if (!host?.value) problem({ file, where: '[MQTT] broker_address', reason: 'missing: there is no broker to import' });
    if (!topic?.value) problem({ file, where: '[MQTT] topic', reason: 'missing: there is no topic to import' });
  }
  if (host?.value === SEED_PLACEHOLDER_BROKER) {
    notes.push(
      `broker_address = ${SEED_PLACEHOLDER_BROKER}${at(host)} is still the sample's placeholder: set mqtt.url to your broker before vbat can connect`,
    );
  }
  const tls = get('MQTT', 'tls_enabled')?.value === '1';
  const portEntry = get('MQTT', 'broker_port');
  let port = int('MQTT', 'broker_port', tls ? 8883 : 1883);
  if (!portEntry) notes.push(`broker_port is missing (the seed stops without it): port ${port}, the ${tls ? 'TLS' : 'plain'} default`);
  if (port < 1 || port > 65535) {
    problem({ file, line: portEntry?.line, where: '[MQTT] broker_port', reason: `${port} is not a port (1 to 65535)` });
    port = 1883;
  }
  const hostname = host?.value ?? '';
  const url = `${tls ? 'mqtts' : 'mqtt'}://${hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname}:${port}`;
  const mqtt: SeedImport['config']['mqtt'] = { url };

  const ca = get('MQTT', 'tls_path_to_ca');
  const insecure = get('MQTT', 'tls_insecure');
  if (tls) {
    if (ca?.value) mqtt.ca = ca.value;
    if (insecure?.value) {
      notes.push(
        `tls_insecure = ${insecure.value}${at(insecure)}: not carried over: the seed then skips only the check of the broker's host name; vbat has no such half-check and verifies the certificate and the name. If the certificate does not name ${hostname}, connect to the name it holds (mqtt.url), or set mqtt.insecure: true, which skips every check (testing only)`,
      );
    }
  } else {
    for (const e of [ca, insecure]) {
      if (e?.value)
        notes.push(`${e === ca ? 'tls_path_to_ca' : 'tls_insecure'}${at(e)}: ignored, as the seed does, because tls_enabled is not 1`);
    }
  }

  const username = get('MQTT', 'username')?.value ?? '';
  const password = get('MQTT', 'password')?.value ?? '';
  if (username && password) Object.assign(mqtt, { username, password });
  else if (username || password) {
    notes.push(
      `${username ? 'username without a password' : 'password without a username'}: ignored, as the seed does (it logs in only with both)`,
    );
  }

  if (problems.length) throw new FileProblemsError(problems);
  return {
    config: {
      logLevel: logLevel ?? 'warn',
      mqtt,
      batteries: [
        {
          name: batteryName(deviceName),
          topic: topic!.value,
          instance,
          customName: deviceName,
          timeout,
          variables: { ttgEnabled, ttgSoc, ttgInterval },
        },
      ],
    },
    notes,
  };
}

/** vbat's battery name (it names the D-Bus service) from the seed's device name: "MQTT Battery" → mqtt-battery. */
export function batteryName(deviceName: string): string {
  const name = deviceName
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '')
    .slice(0, 40);
  return name || 'battery';
}
