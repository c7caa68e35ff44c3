/**
 * Loads and checks the configuration: YAML file (optional) + command-line flags, validated by
 * schemas/config.schema.json with defaults from the schema, then rules the schema cannot say.
 * Every problem is reported with file and line before anything connects.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { validateConfigSchema as validate } from '../generated/index.js';
import { FileProblemsError, type Problem } from '../errors.js';
import { validAvailabilityTopic, validTopicFilter } from '../input/index.js';
import { mappingPath } from '../util/package-root.js';
import { schemaProblems, type SpecialReason } from '../util/schema-problems.js';
import { lineOf, loadYamlFile } from '../util/yaml-file.js';
import type { Availability, AvailabilityConfig, BatteryConfig, BatteryFileConfig, FileConfig, RunConfig, Source } from './types.js';

/** Command-line flags that override or stand in for a file (`vbat run --broker ... --topic ...`). */
export interface ConfigFlags {
  broker?: string;
  topic?: string;
  mapping?: string;
  instance?: number;
  timeout?: number;
  bus?: string;
  name?: string;
  logLevel?: string;
  variables?: Record<string, unknown>;
}

/** A broker URL without a scheme gets a suggestion, not the schema's regular expression. */
const configReason: SpecialReason = (e, value) => {
  if (e.instancePath !== '/mqtt/url' || e.keyword !== 'pattern' || typeof value !== 'string') return undefined;
  // Never echo what came before an @: it may be a user and password.
  const hostPort = value
    .replace(/^[a-z][a-z0-9+.-]*:\/+/i, '')
    .replace(/^.*@/, '')
    .replace(/\/.*$/, '');
  const suggestion = /:\d+$/.test(hostPort) ? hostPort : `${hostPort || 'host'}:1883`;
  return `not a broker URL (it needs a scheme): write mqtt://${suggestion} (mqtts:// for TLS; tcp, ssl, ws and wss work too)`;
};

export function loadConfig(file: string | undefined, flags: ConfigFlags = {}): RunConfig {
  const doc = file ? loadYamlFile(file) : { file: '<command line>', text: '', data: {}, lines: new Map<string, number>() };
  const data = (doc.data ?? {}) as Record<string, unknown>;
  applyFlags(data, flags);
  if (!validate(data)) throw new FileProblemsError(schemaProblems(doc, validate.errors ?? [], configReason));
  const config = data as unknown as FileConfig;
  const problems: Problem[] = [];
  const problem = (segments: (string | number)[], reason: string) =>
    problems.push({ file: doc.file, line: lineOf(doc, segments), where: segments.join(' › '), reason });
  const baseDir = file ? dirname(resolve(file)) : process.cwd();

  const batteries = (config.batteries ?? []).map((b, i) => ({
    ...normalizeBattery(b, i, baseDir, problem),
    variableOrigins: variableOrigins(b, (name) =>
      flags.variables && name in flags.variables
        ? { file: '<command line>', where: `--var ${name}` }
        : { file: doc.file, line: lineOf(doc, ['batteries', i, 'variables', name]), where: `variables › ${name}` },
    ),
  }));
  if (batteries.length === 0) problem([], 'no battery configured: give --topic, or a config file with batteries');
  for (const key of ['name', 'serviceName', 'instance'] as const) {
    const seen = new Map<unknown, number>();
    batteries.forEach((b, i) => {
      if (seen.has(b[key])) problem(['batteries', i], `${key} ${String(b[key])} is already used by battery ${seen.get(b[key])! + 1}`);
      else seen.set(b[key], i);
    });
  }
  const mqtt = {
    ...config.mqtt,
    url: brokerUrl(config.mqtt),
    ...tlsFiles(config.mqtt, baseDir, (key, reason) => problem(['mqtt', key], reason)),
  };
  const password = readPassword(config.mqtt, baseDir, (reason) => problem(['mqtt'], reason));
  if (problems.length) throw new FileProblemsError(problems);
  return {
    file,
    logLevel: config.logLevel,
    warningInterval: config.warningInterval,
    bus: config.bus,
    propertiesChanged: config.propertiesChanged,
    mqtt: { ...mqtt, password },
    batteries,
  };
}

function applyFlags(data: Record<string, unknown>, flags: ConfigFlags): void {
  if (flags.logLevel) data.logLevel = flags.logLevel;
  if (flags.bus) data.bus = flags.bus;
  if (flags.broker) data.mqtt = { ...(data.mqtt as object), url: flags.broker };
  const batteryFlags = flags.topic ?? flags.mapping ?? flags.instance ?? flags.timeout ?? flags.name ?? flags.variables;
  if (batteryFlags === undefined) return;
  const list = Array.isArray(data.batteries) ? (data.batteries as Record<string, unknown>[]) : [];
  if (list.length > 1)
    throw new FileProblemsError([
      {
        file: '<command line>',
        reason: 'battery flags (--topic, --mapping, --instance, --timeout, --name) need a config with at most one battery',
      },
    ]);
  const b: Record<string, unknown> = list[0] ?? { name: 'battery' };
  if (flags.topic) {
    b.topic = flags.topic;
    delete b.topics;
  }
  if (flags.mapping) b.mapping = resolve(flags.mapping);
  if (flags.instance !== undefined) b.instance = flags.instance;
  if (flags.timeout !== undefined) b.timeout = flags.timeout;
  if (flags.name) b.name = flags.name;
  if (flags.variables) b.variables = { ...(b.variables as object), ...flags.variables };
  data.batteries = [b];
}

function normalizeBattery(
  b: BatteryFileConfig,
  i: number,
  baseDir: string,
  problem: (at: (string | number)[], reason: string) => void,
): BatteryConfig {
  const list = b.packs ? [] : (b.topics ?? (b.topic !== undefined ? [b.topic] : []));
  if (b.topics && b.topic !== undefined) problem(['batteries', i, 'topic'], 'give topic or topics, not both');
  if (b.topics && b.availability !== undefined)
    problem(['batteries', i, 'availability'], 'with topics, give availability per entry of topics');
  if (b.topics && b.venus !== undefined) problem(['batteries', i, 'venus'], 'with topics, give venus per entry of topics');
  const sources: Source[] = list.map((s) =>
    typeof s === 'string'
      ? source(s, b.timeout, true, b.topics ? undefined : b.availability, b.topics ? undefined : b.venus)
      : source(s.topic, s.timeout ?? b.timeout, s.required ?? true, s.availability, s.venus),
  );
  if (b.packs) {
    if (b.topic !== undefined || b.topics) problem(['batteries', i, 'packs'], 'give packs, or topic/topics, not both');
    const names = new Set<string>();
    b.packs.forEach((p, k) => {
      const name = p.name ?? `P${k + 1}`;
      if (names.has(name)) problem(['batteries', i, 'packs', k], `pack name ${name} is already used`);
      names.add(name);
      const s = source(p.topic, p.timeout ?? b.timeout, false, p.availability, p.venus);
      s.pack = name;
      if (p.capacity !== undefined) s.capacity = p.capacity;
      sources.push(s);
    });
    if (b.minPacksOnline > b.packs.length)
      problem(['batteries', i, 'minPacksOnline'], `minPacksOnline ${b.minPacksOnline} is more than the ${b.packs.length} packs`);
  }
  sources.forEach((s, k) => {
    const at = b.packs ? ['batteries', i, 'packs', k] : ['batteries', i, b.topics ? 'topics' : 'topic', ...(b.topics ? [k] : [])];
    const bad = validTopicFilter(s.topic);
    if (bad) problem(b.packs ? [...at, 'topic'] : at, bad);
    if (s.availability) {
      const badAvailability = validAvailabilityTopic(s.availability.topic);
      if (badAvailability)
        problem(b.topics ? [...at, 'availability', 'topic'] : ['batteries', i, 'availability', 'topic'], badAvailability);
    }
  });
  return {
    name: b.name,
    sources,
    mappingFile: b.mapping ? resolve(baseDir, b.mapping) : mappingPath('default.yaml'),
    variables: b.variables ?? {},
    instance: b.instance,
    serviceName: `com.victronenergy.battery.${b.serviceSuffix ?? `vbat_${b.name.replace(/-/g, '_')}`}`,
    productName: b.productName,
    customName: b.customName ?? b.name,
    productId: b.productId,
    timeout: b.timeout,
    retainedIsFresh: b.retainedIsFresh,
    ...(b.packs ? { minPacksOnline: b.minPacksOnline } : {}),
  };
}

/** A source with only the keys that are set (availability: the schema fills in online / offline). */
function source(topic: string, timeout: number, required: boolean, a: AvailabilityConfig | undefined, venus: boolean | undefined): Source {
  const s: Source = { topic, timeout, required };
  if (a !== undefined)
    s.availability =
      a === false ? false : ({ topic: a.topic, online: a.online ?? 'online', offline: a.offline ?? 'offline' } satisfies Availability);
  if (venus !== undefined) s.venus = venus;
  return s;
}

function variableOrigins<T>(b: BatteryFileConfig, origin: (name: string) => T): Record<string, T> {
  return Object.fromEntries(Object.keys(b.variables ?? {}).map((name) => [name, origin(name)]));
}

function brokerUrl(m: FileConfig['mqtt']): string {
  if (m.host) return `${m.ca || m.cert ? 'mqtts' : 'mqtt'}://${m.host}:${m.port ?? (m.ca || m.cert ? 8883 : 1883)}`;
  return m.url ?? 'mqtt://127.0.0.1:1883';
}

/**
 * TLS files resolved against the config's folder and read once here: a missing or unreadable
 * CA, certificate or key refuses the config at start-up, before any bus name is claimed, instead
 * of a battery that holds its name and never connects.
 */
function tlsFiles(
  m: FileConfig['mqtt'],
  baseDir: string,
  problem: (key: string, reason: string) => void,
): Pick<FileConfig['mqtt'], 'ca' | 'cert' | 'key'> {
  const out: Pick<FileConfig['mqtt'], 'ca' | 'cert' | 'key'> = {};
  for (const key of ['ca', 'cert', 'key'] as const) {
    const name = m[key];
    if (!name) continue;
    const path = resolve(baseDir, name);
    try {
      readFileSync(path);
      out[key] = path;
    } catch (err) {
      problem(key, `cannot read ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return out;
}

function readPassword(m: FileConfig['mqtt'], baseDir: string, problem: (reason: string) => void): string | undefined {
  if (m.passwordEnv) {
    const v = process.env[m.passwordEnv];
    if (v === undefined) problem(`passwordEnv: the environment variable ${m.passwordEnv} is not set`);
    return v;
  }
  if (m.passwordFile) {
    try {
      return readFileSync(resolve(baseDir, m.passwordFile), 'utf8').split('\n')[0]!.trim();
    } catch (err) {
      problem(`passwordFile: cannot read ${m.passwordFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return m.password;
}
