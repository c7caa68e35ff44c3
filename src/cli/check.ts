/**
 * `vbat check MAPPING CAPTURE...` / `vbat check --config FILE CAPTURE...`: validate mappings and
 * replay captured messages through the same Battery conductor `vbat run` uses, on a fake clock,
 * with a sink that keeps the D-Bus state: topics, sources, timeouts, retained messages, required
 * paths and staleness all behave as they would at run time. Offline: no broker, no bus. Returns
 * data; main.ts prints it and picks the exit code.
 */
import { readFileSync } from 'node:fs';
import { Battery, loadBatteryMappings, type BatterySink, type Message, type SinkEvents } from '../battery/index.js';
import { resolveSources } from '../battery/sources.js';
import type { BatteryConfig } from '../config/index.js';
import { loadConfig } from '../config/index.js';
import { FileProblemsError, UsageError, type Problem } from '../errors.js';
import { topicMatches, validTopicFilter } from '../input/index.js';
import { Logger } from '../log.js';
import {
  commandPayload,
  commandSeconds,
  commandValueProblem,
  loadMapping,
  MappingProblemsError,
  Origin,
  unknownVariables,
  type CompiledMapping,
  type Evaluation,
} from '../mapping/index.js';
import { coerceValue } from '../dbus/values.js';
import type { DbusType, ItemState, PathValue } from '../venus/types.js';
import { helpText, parseCommand, parseVars, type CommandSpec } from './args.js';
import { captureMessages, type CapturedMessage } from './capture-file.js';
import { renderCheck } from './table.js';

export { captureMessages } from './capture-file.js';

export interface CheckOptions {
  /** The mapping to check (without `config`). */
  mapping?: string;
  /** A config whose every battery is checked, as `vbat run --config` would run it. */
  config?: string;
  payloads: string[];
  /** Topic filter (without `config`); default: the mapping's input.topic, else '#'. */
  topic?: string;
  variables?: Record<string, unknown>;
  /** Seconds without a valid message before the battery goes stale (without `config`; default 60). */
  timeout?: number;
  /** Record the D-Bus changes after each message and each stale transition. */
  steps?: boolean;
  /** `--set PATH=VALUE`: SetValues to try on each capture's final document (raw text of the value). */
  sets?: [string, string][];
  /** Packs as in the config's batteries[].packs: each NAME=FILTER puts the matching topics under packs.NAME. */
  packs?: { name: string; filter: string }[];
}

/** A writable path: with a command, a SetValue publishes to the BMS; without, it stays on D-Bus. */
export interface WritablePath {
  path: string;
  type: DbusType;
  command?: { topic: string; qos: 0 | 1 | 2; retain: boolean; confirm: number; minInterval: number };
}

/** What one `--set PATH=VALUE` would do on a fresh battery with the broker connected. */
export interface CheckedSet {
  path: string;
  value: PathValue;
  /** The SetValue reply: 0 published, 1 read-only or wrong type, 2 refused. */
  code: 0 | 1 | 2;
  topic?: string;
  payload?: string;
  qos?: 0 | 1 | 2;
  retain?: boolean;
  /** Why nothing would be published (or, with code 0 and no topic, why nothing needs to be). */
  reason?: string;
}

export interface CheckedPath {
  path: string;
  type: DbusType;
  value: PathValue;
  text: string;
  source: 'value' | 'derived' | 'default' | 'held' | 'none';
  invalid: boolean;
  outOfRange: boolean;
  warning?: string;
}

/** One moment of a replay: a message handled, or a second of the clock that changed something. */
export interface CheckStep {
  /** Seconds since the first message. */
  at: number;
  /** The message's topic; absent for a clock tick. */
  topic?: string;
  /** What became of the message: published, waiting (gathering inputs), rejected, refused, ignored. */
  outcome?: 'published' | 'waiting' | 'rejected' | 'refused' | 'ignored';
  /** Warnings and state changes the battery logged meanwhile. */
  log: string[];
  /** D-Bus paths whose value changed, with their new value and text. */
  changed: { path: string; value: PathValue; text: string }[];
}

export interface CheckedPayload {
  file: string;
  /** Set when the file could not be read, or nothing was ever published from it. */
  error?: string;
  /** Messages that were refused, with the reason. */
  refused: { topic: string; reason: string }[];
  /** Messages on topics the battery would not subscribe to, or on its availability topic. */
  ignored: number;
  /** Document keys written by two topics (their values would overwrite each other). */
  collisions: string[];
  missingRequired: string[];
  /** Whether the battery is stale (/Connected 0) at the end of the replay. */
  stale: boolean;
  paths: CheckedPath[];
  steps?: CheckStep[];
  /** The `--set` SetValues against this capture's document. */
  sets: CheckedSet[];
}

export interface CheckedBattery {
  name: string;
  mapping: { file: string; name: string; paths: number };
  writable: WritablePath[];
  payloads: CheckedPayload[];
}

export interface CheckResult {
  /** The mapping (without --config: the one given; with it, the first battery's). */
  mapping: { file: string; name: string; paths: number };
  problems: Problem[];
  /** Paths that accept SetValue (write-back is off for every path without a command). */
  writable: WritablePath[];
  /** The payloads of the mapping (without --config). */
  payloads: CheckedPayload[];
  /** With --config: every battery. */
  batteries?: CheckedBattery[];
  ok: boolean;
}

const ORIGIN_NAMES: Record<number, CheckedPath['source']> = {
  [Origin.None]: 'none',
  [Origin.Value]: 'value',
  [Origin.Derived]: 'derived',
  [Origin.Default]: 'default',
  [Origin.Held]: 'held',
};

const NO_MAPPING = { file: '', name: '', paths: 0 };

export async function check(opts: CheckOptions): Promise<CheckResult> {
  let batteries: BatteryConfig[];
  let mappings: Map<BatteryConfig, CompiledMapping>;
  try {
    ({ batteries, mappings } = opts.config ? fromConfig(opts) : fromMapping(opts));
  } catch (err) {
    if (!(err instanceof FileProblemsError)) throw err;
    const file = opts.mapping ?? opts.config ?? '';
    return { mapping: { ...NO_MAPPING, file }, problems: err.problems, writable: [], payloads: [], ok: false };
  }
  const checked: CheckedBattery[] = [];
  for (const b of batteries) {
    const mapping = mappings.get(b)!;
    const payloads: CheckedPayload[] = [];
    for (const file of opts.payloads) payloads.push(await replay(b, mapping, file, opts));
    // `--set` without a payload: the commands are built on an empty document.
    if (opts.payloads.length === 0 && opts.sets?.length)
      payloads.push({
        file: '(no payload: empty document)',
        refused: [],
        ignored: 0,
        collisions: [],
        missingRequired: [],
        stale: true,
        paths: [],
        sets: await checkSets(mapping, {}, { ...mapping.variables, ...b.variables }, opts.sets),
      });
    checked.push({
      name: b.name,
      mapping: { file: mapping.file, name: mapping.name, paths: mapping.paths.length },
      writable: writablePaths(mapping, { ...mapping.variables, ...b.variables }),
      payloads,
    });
  }
  const ok = checked.every((b) =>
    b.payloads.every((p) => !p.error && p.missingRequired.length === 0 && p.collisions.length === 0 && p.sets.every((s) => s.code === 0)),
  );
  const first = checked[0];
  if (opts.config) return { mapping: first?.mapping ?? NO_MAPPING, problems: [], writable: [], payloads: [], batteries: checked, ok };
  return { mapping: first!.mapping, problems: [], writable: first!.writable, payloads: first!.payloads, ok };
}

function writablePaths(mapping: CompiledMapping, variables: Record<string, unknown>): WritablePath[] {
  return mapping.paths
    .filter((p) => p.writable)
    .map((p) => ({
      path: p.path,
      type: p.type,
      ...(p.command
        ? {
            command: {
              topic: p.command.topic,
              qos: p.command.qos,
              retain: p.command.retain,
              confirm: commandSeconds(p.command.confirm, variables, 10),
              minInterval: commandSeconds(p.command.minInterval, variables, 2),
            },
          }
        : {}),
    }));
}

/** Each `--set`, as `vbat run` would answer it (battery fresh, broker connected, no rate limit hit). */
async function checkSets(
  mapping: CompiledMapping,
  doc: unknown,
  variables: Record<string, unknown>,
  sets: [string, string][] | undefined,
  values?: PathValue[],
): Promise<CheckedSet[]> {
  const out: CheckedSet[] = [];
  for (const [path, raw] of sets ?? []) {
    const p = mapping.byPath.get(path);
    if (!p || !p.writable) {
      out.push({ path, value: null, code: 1, reason: p ? 'read-only path (no command in the mapping)' : 'not a path of this mapping' });
      continue;
    }
    // As a D-Bus client would send it: a number for numeric paths, the text for `s` paths.
    const value = coerceValue(p.type === 's' ? raw : raw.trim() === '' ? NaN : Number(raw), p.type);
    if (value === null) {
      out.push({ path, value: null, code: 1, reason: `${JSON.stringify(raw)} does not fit D-Bus type ${p.type}` });
      continue;
    }
    if (!p.command) {
      out.push({ path, value, code: 0, reason: 'writable without a command: the value stays on D-Bus, nothing is published' });
      continue;
    }
    const invalid = commandValueProblem(p, value);
    if (invalid) {
      out.push({ path, value, code: 2, reason: invalid });
      continue;
    }
    const readPath = (q: string) => {
      const i = mapping.byPath.get(q)?.index;
      return i === undefined || values?.[i] === null ? undefined : values?.[i];
    };
    const built = await commandPayload(p.command, value, doc, variables, readPath);
    const { topic, qos, retain } = p.command;
    if ('problem' in built) out.push({ path, value, code: 2, reason: built.problem });
    else out.push({ path, value, code: 0, topic, payload: built.payload, qos, retain });
  }
  return out;
}

/** The batteries of a config, loaded and checked exactly as `vbat run --config` does. */
function fromConfig(opts: CheckOptions) {
  const config = loadConfig(opts.config);
  return { batteries: config.batteries, mappings: loadBatteryMappings(config.batteries) };
}

/** One battery from the command line, as `vbat run --mapping --topic --var --timeout` would make it. */
function fromMapping(opts: CheckOptions) {
  const variables = opts.variables ?? {};
  const varProblems = (m: { file: string; variables: Record<string, unknown> }) =>
    unknownVariables(m, Object.keys(variables)).map((v) => ({ file: '<command line>', where: `--var ${v.name}`, reason: v.reason }));
  let mapping: CompiledMapping;
  try {
    mapping = loadMapping(opts.mapping!);
  } catch (err) {
    // One pass: a --var the mapping does not declare is reported with the mapping's own problems.
    if (err instanceof MappingProblemsError && err.variables)
      throw new FileProblemsError([...err.problems, ...varProblems({ file: err.file, variables: err.variables })]);
    throw err;
  }
  const bad = varProblems(mapping);
  if (bad.length) throw new FileProblemsError(bad);
  const timeout = opts.timeout ?? 60;
  const packs = opts.packs ?? [];
  const battery: BatteryConfig = {
    name: 'check',
    sources: packs.length
      ? packs.map((p) => ({ topic: p.filter, timeout, required: false, pack: p.name }))
      : opts.topic
        ? [{ topic: opts.topic, timeout, required: true }]
        : [],
    ...(packs.length ? { minPacksOnline: 1 } : {}),
    mappingFile: mapping.file,
    variables,
    instance: 100,
    serviceName: 'com.victronenergy.battery.vbat_check',
    productName: 'vbat check',
    customName: 'check',
    productId: 0xffff,
    timeout,
    retainedIsFresh: false,
  };
  return { batteries: [battery], mappings: new Map([[battery, mapping]]) };
}

/** The D-Bus state a client would see: a sink that keeps what it is given. */
class StateSink implements BatterySink {
  readonly state = new Map<string, ItemState>();
  constructor(private readonly events: SinkEvents) {}
  async open(): Promise<void> {
    for (const item of await this.events.items()) this.state.set(item.path, { value: item.value, text: item.text ?? '---' });
  }
  apply(frame: Map<string, ItemState>): void {
    for (const [path, s] of frame) this.state.set(path, s);
  }
  async close(): Promise<void> {}
}

const TICK_MS = 1000;
const MAX_PAYLOAD_BYTES = 256 * 1024;
/** A capture spanning days would take as many ticks; beyond this the clock jumps. */
const MAX_TICKS_PER_GAP = 24 * 3600;

async function replay(b: BatteryConfig, mapping: CompiledMapping, file: string, opts: CheckOptions): Promise<CheckedPayload> {
  const withSteps = opts.steps === true;
  const result: CheckedPayload = { file, refused: [], ignored: 0, collisions: [], missingRequired: [], stale: true, paths: [], sets: [] };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ...result, error: `cannot read: ${(err as Error).message}` };
  }
  const sources = resolveSources(b, mapping);
  const filters = sources.map((s) => s.topic);
  // As `vbat run` does: an availability topic's messages say online/offline, they are not data.
  const availability = new Set(sources.flatMap((s) => (s.availability ? [s.availability.topic] : [])));
  const messages: CapturedMessage[] = captureMessages(text) ?? [{ topic: syntheticTopic(filters[0]!), payload: text, retained: false }];

  let t = messages.find((m) => m.time !== undefined)?.time ?? Date.now();
  const start = t;
  const lines: string[] = [];
  // What became of the message being replayed (set by the battery's observer).
  const seen: { last?: { ev: Evaluation; outcome: 'published' | 'waiting' | 'rejected' } } = {};
  let sink: StateSink | undefined;
  let deliver: ((m: Message) => void) | undefined;
  const battery = new Battery({
    config: b,
    mapping,
    maxPayloadBytes: MAX_PAYLOAD_BYTES,
    // Every warning, none held back: a replay wants to see each one.
    log: new Logger('debug', { write: (l) => lines.push(l.trimEnd()) }, 0, '', () => t),
    now: () => t,
    every: () => () => undefined,
    openSource: (_topics, onMessage) => {
      deliver = onMessage;
      return { start: () => undefined, stop: async () => undefined };
    },
    openSink: (events) => (sink = new StateSink(events)),
    observe: (ev, outcome) => (seen.last = { ev, outcome }),
  });
  await battery.start();
  lines.length = 0;
  const steps: CheckStep[] = [];
  let previous = new Map(sink!.state);
  const record = (step: Pick<CheckStep, 'topic'>, force: boolean) => {
    const changed: CheckStep['changed'] = [];
    for (const p of mapping.paths.map((x) => x.path).concat('/Connected')) {
      const now = sink!.state.get(p);
      const before = previous.get(p);
      if (now && (now.value !== before?.value || now.text !== before?.text)) changed.push({ path: p, value: now.value, text: now.text });
    }
    previous = new Map(sink!.state);
    const log = lines.filter((l) => !l.startsWith('DEBUG ') || /stored; waiting/.test(l)).map((l) => l.replace(/^(WARN|INFO|DEBUG) /, ''));
    lines.length = 0;
    if (withSteps && (force || changed.length || log.length)) steps.push({ ...step, at: (t - start) / 1000, log, changed });
    return log;
  };

  let lastEvaluation: typeof seen.last;
  for (const m of messages) {
    const target = m.time ?? t;
    for (let n = 0; t + TICK_MS <= target && n < MAX_TICKS_PER_GAP; n++) {
      t += TICK_MS;
      await battery.tick();
      record({}, false);
    }
    t = Math.max(t, target);
    // vbat run subscribes to the availability topics as well, also those no data filter covers.
    if (!filters.some((f) => topicMatches(f, m.topic)) && !availability.has(m.topic)) {
      result.ignored++;
      if (withSteps) steps.push({ at: (t - start) / 1000, topic: m.topic, outcome: 'ignored', log: [], changed: [] });
      continue;
    }
    if (availability.has(m.topic)) result.ignored++;
    seen.last = undefined;
    deliver!({ topic: m.topic, payload: Buffer.from(m.payload), retained: m.retained });
    await battery.settled();
    const before = steps.length;
    const log = record({ topic: m.topic }, true);
    for (const l of log) {
      const c = /^key collision: (\S+) and (\S+) both write the document key ([^;]+);/.exec(l);
      if (c) result.collisions.push(`${c[3]}: written by ${c[1]} and ${c[2]}`);
    }
    const refusal = log.find((l) => /^(bad message on|message on .* carries no values|message dropped)/.test(l));
    const last = seen.last as typeof lastEvaluation; // set by the observer meanwhile
    // A retained availability message is honoured (the broker's record of the node's state).
    if (m.retained && !b.retainedIsFresh && !last && !availability.has(m.topic))
      refusalOf(result, m.topic, 'retained message: not proof of a live BMS (retainedIsFresh: false)');
    else if (refusal && !last) refusalOf(result, m.topic, refusal);
    const outcome: CheckStep['outcome'] = last?.outcome ?? (refusal || (m.retained && !availability.has(m.topic)) ? 'refused' : undefined);
    if (withSteps && steps.length > before) steps[steps.length - 1]!.outcome = outcome;
    if (last) lastEvaluation = last;
  }
  const doc = battery.inputDocument;
  await battery.stop();

  const state = sink!.state;
  result.stale = state.get('/Connected')?.value !== 1;
  if (withSteps) result.steps = steps;
  const final = lastEvaluation;
  if (!final && result.stale)
    return { ...result, error: result.refused.map((r) => r.reason).join('; ') || 'no message in the file reached the battery' };
  const ev = final?.ev;
  if (ev && final.outcome !== 'published') result.missingRequired = ev.missingRequired;
  // A message that was not published is shown as it evaluated; otherwise the D-Bus state.
  const fromEvaluation = ev !== undefined && final!.outcome !== 'published';
  result.paths = mapping.paths.map((p) => {
    const problem = ev?.problems[p.index];
    const s = fromEvaluation
      ? { value: ev.values[p.index]!, text: ev.texts[p.index]! }
      : (state.get(p.path) ?? { value: null, text: '---' });
    const value = s.value as PathValue;
    return {
      path: p.path,
      type: p.type,
      value,
      text: s.text,
      source: ev && value !== null ? ORIGIN_NAMES[ev.origins[p.index]!]! : 'none',
      invalid: value === null,
      outOfRange: problem?.startsWith('out of range') ?? false,
      ...(problem ? { warning: problem } : {}),
    };
  });
  const values = result.paths.map((p) => p.value);
  result.sets = await checkSets(mapping, doc, { ...mapping.variables, ...b.variables }, opts.sets, values);
  return result;
}

function refusalOf(result: CheckedPayload, topic: string, reason: string): void {
  result.refused.push({ topic, reason: reason.replace(/^bad message on \S+: /, '') });
}

/** A topic a single payload file stands for under a filter (wildcards filled in). */
function syntheticTopic(filter: string): string {
  return filter.replace(/(^|\/)\+(?=\/|$)/g, '$1x').replace(/\/?#$/, '') || 'payload';
}

export const CHECK_COMMAND = {
  name: 'check',
  usage: [
    'check MAPPING CAPTURE... [--json] [--steps] [--topic FILTER] [--timeout SECONDS] [--var NAME=VALUE]... [--set PATH=VALUE]...',
    'check MAPPING --set PATH=VALUE...',
    'check --config FILE CAPTURE... [--json] [--steps]',
  ],
  summary: 'Validate a mapping (or every battery of a config) and show what it would put on D-Bus for captured messages (offline).',
  description: [
    'Validates a mapping file and replays each capture file through it exactly as vbat run would (topics, sources, timeouts, retained messages, required paths, staleness), on a simulated clock. Shows the D-Bus state at the end: every path with its value, D-Bus type and text as Venus OS sees them, marked derived, default, WARNING or invalid where that applies, and which messages vbat would refuse. Offline: needs no broker and no bus.',
    'With --config, every battery of the config is checked with its own topics, sources, timeouts, variables and mapping: what vbat run --config would run.',
    'Mistakes in a mapping or config are reported as FILE:LINE: reason, every one of them, and are exactly what vbat run refuses.',
    'It also lists the writable paths: those with a command publish it to the BMS on a SetValue (write-back), the others keep a written value on D-Bus only. --set PATH=VALUE shows what a SetValue would publish (topic, payload, QoS) on each capture, or why vbat would refuse it.',
  ],
  args: [
    ['MAPPING', 'the mapping file (YAML), e.g. mappings/default.yaml (not with --config)'],
    [
      'CAPTURE',
      'a payload as the BMS publishes it, or recorded messages: JSON lines ({"topic", "payload", "time", "retained"} per line), mosquitto_sub -v output (topic payload per line, optionally after an ISO time), or a JSON object of topic → payload text. Messages with times are replayed in order. Several files are checked one after the other, each from a fresh start.',
    ],
  ],
  flags: {
    config: { type: 'string', arg: 'FILE', help: 'check every battery of this config (as vbat run --config FILE would run them)' },
    json: { type: 'boolean', help: 'print the result as JSON (every path with value, type, text, source and warnings) instead of a table' },
    steps: {
      type: 'boolean',
      help: 'also show what changed on D-Bus after each message and each second in which something happened (a source going stale, the battery going stale)',
    },
    topic: {
      type: 'string',
      arg: 'FILTER',
      help: "the MQTT topic filter the battery subscribes to: messages on other topics are ignored, and a single payload stands for a message on this topic (default: the mapping's input.topic, else #)",
    },
    timeout: {
      type: 'string',
      arg: 'SECONDS',
      help: 'seconds without a valid message before the battery goes stale, as vbat run --timeout (default 60)',
    },
    pack: {
      type: 'string',
      arg: 'NAME=FILTER',
      multiple: true,
      help: "a pack, as in the config's batteries[].packs: messages on topics FILTER matches are put under packs.NAME of the document (repeat for each pack; $packTotal is their number)",
    },
    var: {
      type: 'string',
      arg: 'NAME=VALUE',
      multiple: true,
      help: 'set a mapping variable, overriding its default; repeat for several. Numbers and true/false are typed, anything else is a string.',
    },
    set: {
      type: 'string',
      arg: 'PATH=VALUE',
      multiple: true,
      help: 'show what a SetValue of VALUE on PATH would publish to the BMS (as if the battery were fresh and the broker connected), or why it would be refused; repeat for several. Without CAPTURE files the command is built on an empty document.',
    },
  },
  notes: [
    'Exit status: 0 when the mapping is valid, every capture would be published and every --set would be published (or kept on D-Bus); 1 when a mapping or config has errors, a capture cannot be read, is refused, lacks a required input or has two topics writing the same document key (their values would overwrite each other), or a --set would be refused; 2 on a usage error.',
    'Examples:\n  vbat check mappings/default.yaml payload.json --var ttgSoc=20\n  vbat check my-bms.yaml capture.jsonl --steps --timeout 10\n  vbat check --config /data/etc/vbat/config.yaml capture.jsonl\n  vbat check mappings/esphome-jk-bms.yaml --set /Io/AllowToCharge=0',
  ],
} satisfies CommandSpec;

/** `vbat check ARGS`: parse, check, print; resolves with the exit code. */
export async function checkCommand(args: string[], out: { write(s: string): unknown } = process.stdout): Promise<number> {
  const { values, positionals } = parseCommand(CHECK_COMMAND, args);
  if (values.help) {
    out.write(helpText(CHECK_COMMAND));
    return 0;
  }
  let timeout: number | undefined;
  if (values.timeout !== undefined) {
    timeout = Number(values.timeout);
    if (!Number.isFinite(timeout) || timeout <= 0 || values.timeout.trim() === '')
      throw new UsageError(`--timeout expects a number of seconds, got "${values.timeout}"`);
  }
  let result: CheckResult;
  if (values.config) {
    const given = (['topic', 'timeout', 'var', 'set', 'pack'] as const).filter((f) => values[f] !== undefined);
    if (given.length) throw new UsageError(`--${given[0]} describes one battery; with --config the config says it`);
    if (positionals.length === 0) throw new UsageError('no CAPTURE file given (vbat check --config FILE CAPTURE...)');
    result = await check({ config: values.config, payloads: positionals, steps: values.steps });
  } else {
    const [mapping, ...payloads] = positionals;
    const sets = parseSets(values.set);
    if (!mapping || (payloads.length === 0 && sets.length === 0))
      throw new UsageError(
        mapping
          ? 'no CAPTURE file given (vbat check MAPPING CAPTURE...)'
          : 'needs a MAPPING file (or --config) and at least one CAPTURE file',
      );
    const packs = (values.pack ?? []).map((spec) => {
      const eq = spec.indexOf('=');
      const name = spec.slice(0, eq);
      if (eq < 1 || !/^[A-Za-z0-9_]+$/.test(name) || validTopicFilter(spec.slice(eq + 1)))
        throw new UsageError(`--pack expects NAME=FILTER (name of letters, digits and _, a valid topic filter), got "${spec}"`);
      return { name, filter: spec.slice(eq + 1) };
    });
    result = await check({
      mapping,
      payloads,
      topic: values.topic,
      timeout,
      variables: parseVars(values.var),
      steps: values.steps,
      sets,
      packs,
    });
  }
  out.write((values.json ? JSON.stringify(result, null, 2) : renderCheck(result)) + '\n');
  return result.ok && result.problems.length === 0 ? 0 : 1;
}

function parseSets(list: string[] | undefined): [string, string][] {
  return (list ?? []).map((item) => {
    const eq = item.indexOf('=');
    if (eq <= 0 || !item.startsWith('/')) throw new UsageError(`--set expects PATH=VALUE (like /Io/AllowToCharge=0), got "${item}"`);
    return [item.slice(0, eq), item.slice(eq + 1)];
  });
}
