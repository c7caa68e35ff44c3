/**
 * `vbat check MAPPING PAYLOAD...`: validate a mapping and show what it would put on D-Bus for each
 * payload. Offline: no broker, no bus. Returns data; main.ts prints it and picks the exit code.
 */
import { readFileSync } from 'node:fs';
import { FileProblemsError, UsageError, type Problem } from '../errors.js';
import { defaultAvailability, isVenusTopic } from '../battery/sources.js';
import { DocumentBuilder, topicMatches, validTopicFilter } from '../input/index.js';
import {
  commandPayload,
  commandSeconds,
  commandValueProblem,
  Evaluator,
  loadMapping,
  Origin,
  type CompiledMapping,
} from '../mapping/index.js';
import { coerceValue } from '../dbus/values.js';
import type { DbusType, PathValue } from '../venus/types.js';
import { helpText, parseCommand, parseVars, type CommandSpec } from './args.js';
import { renderCheck } from './table.js';

export interface CheckOptions {
  mapping: string;
  payloads: string[];
  /** Topic filter for captures (topic → payload files); default: the mapping's input.topic, else '#'. */
  topic?: string;
  variables?: Record<string, unknown>;
  /** `--set PATH=VALUE`: SetValues to try on each payload's document (raw text of the value). */
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

export interface CheckedPayload {
  file: string;
  /** Set when the file could not be read or turned into a document. */
  error?: string;
  /** Messages of a capture that were refused, with the reason. */
  refused: { topic: string; reason: string }[];
  /** Messages of a capture on topics the battery would not subscribe to. */
  ignored: number;
  /** Document keys written by two topics (their values would overwrite each other). */
  collisions: string[];
  missingRequired: string[];
  paths: CheckedPath[];
  /** The `--set` SetValues against this payload's document. */
  sets: CheckedSet[];
}

export interface CheckResult {
  mapping: { file: string; name: string; paths: number };
  problems: Problem[];
  /** Paths that accept SetValue (write-back is off for every path without a command). */
  writable: WritablePath[];
  payloads: CheckedPayload[];
  ok: boolean;
}

const ORIGIN_NAMES: Record<number, CheckedPath['source']> = {
  [Origin.None]: 'none',
  [Origin.Value]: 'value',
  [Origin.Derived]: 'derived',
  [Origin.Default]: 'default',
  [Origin.Held]: 'held',
};

export async function check(opts: CheckOptions): Promise<CheckResult> {
  let mapping: CompiledMapping;
  try {
    mapping = loadMapping(opts.mapping);
  } catch (err) {
    if (!(err instanceof FileProblemsError)) throw err;
    return { mapping: { file: opts.mapping, name: '', paths: 0 }, problems: err.problems, writable: [], payloads: [], ok: false };
  }
  const payloads: CheckedPayload[] = [];
  for (const file of opts.payloads) payloads.push(await checkPayload(mapping, file, opts));
  // `--set` without a payload: the commands are built on an empty document.
  if (opts.payloads.length === 0 && opts.sets?.length)
    payloads.push({
      file: '(no payload: empty document)',
      refused: [],
      ignored: 0,
      collisions: [],
      missingRequired: [],
      paths: [],
      sets: await checkSets(mapping, {}, opts),
    });
  const ok = payloads.every(
    (p) => !p.error && p.missingRequired.length === 0 && p.collisions.length === 0 && p.sets.every((s) => s.code === 0),
  );
  const variables = { ...mapping.variables, ...opts.variables };
  const writable = mapping.paths
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
  return { mapping: { file: mapping.file, name: mapping.name, paths: mapping.paths.length }, problems: [], writable, payloads, ok };
}

/** Each `--set`, as `vbat run` would answer it (battery fresh, broker connected, no rate limit hit). */
async function checkSets(mapping: CompiledMapping, doc: unknown, opts: CheckOptions, values?: PathValue[]): Promise<CheckedSet[]> {
  const out: CheckedSet[] = [];
  for (const [path, raw] of opts.sets ?? []) {
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
    const built = await commandPayload(p.command, value, doc, { ...mapping.variables, ...opts.variables }, readPath);
    const { topic, qos, retain } = p.command;
    if ('problem' in built) out.push({ path, value, code: 2, reason: built.problem });
    else out.push({ path, value, code: 0, topic, payload: built.payload, qos, retain });
  }
  return out;
}

async function checkPayload(mapping: CompiledMapping, file: string, opts: CheckOptions): Promise<CheckedPayload> {
  const result: CheckedPayload = { file, refused: [], ignored: 0, collisions: [], missingRequired: [], paths: [], sets: [] };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ...result, error: `cannot read: ${(err as Error).message}` };
  }
  const topic = opts.topic ?? mapping.input.topic ?? '#';
  const seen = new Set<string>();
  const packs = opts.packs ?? [];
  const filters = packs.length ? packs.map((p) => p.filter) : [topic];
  const packOf = (t: string) => packs.find((p) => topicMatches(p.filter, t))?.name;
  const builder = new DocumentBuilder({
    input: mapping.input,
    topics: filters,
    packOf: packs.length ? packOf : undefined,
    onCollision: (keys, previous, t) => {
      const key = keys.join('.');
      if (seen.has(key)) return;
      seen.add(key);
      result.collisions.push(`${key}: written by ${previous} and ${t}`);
    },
  });
  const messages = captureMessages(text) ?? [[syntheticTopic(topic), text]];
  // As `vbat run` does: the availability topic's messages are not data (and not refused).
  const availability = defaultAvailability(topic, mapping);
  let doc: unknown;
  for (const [t, payload] of messages) {
    if (!filters.some((f) => topicMatches(f, t)) || (availability && availability.topic === t)) {
      result.ignored++;
      continue;
    }
    const accepted = builder.accept(t, payload, Infinity, isVenusTopic(filters.find((f) => topicMatches(f, t))!));
    if (accepted.ok) doc = accepted.doc;
    else result.refused.push({ topic: t, reason: accepted.reason });
  }
  if (doc === undefined) return { ...result, error: result.refused.map((r) => r.reason).join('; ') || 'no message in the file' };
  // As `vbat run` does: with merge, derived paths read only the newest message.
  const packVars = packs.length ? { packTotal: packs.length } : {};
  const ev = await new Evaluator(mapping, { ...packVars, ...opts.variables }).evaluate(
    doc,
    Date.now(),
    mapping.input.merge ? builder.latest : undefined,
  );
  result.missingRequired = ev.missingRequired;
  result.paths = mapping.paths.map((p) => {
    const problem = ev.problems[p.index];
    return {
      path: p.path,
      type: p.type,
      value: ev.values[p.index]!,
      text: ev.texts[p.index]!,
      source: ORIGIN_NAMES[ev.origins[p.index]!]!,
      invalid: ev.values[p.index] === null,
      outOfRange: problem?.startsWith('out of range') ?? false,
      ...(problem ? { warning: problem } : {}),
    };
  });
  result.sets = await checkSets(mapping, doc, opts, ev.values);
  return result;
}

/**
 * A capture is a JSON object of topic → payload text, as recorded from a broker (e.g. with
 * `mosquitto_sub -v`), for mappings fed by several topics. Anything else is one payload.
 */
export function captureMessages(text: string): [string, string][] | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const entries = Object.entries(data);
  if (entries.length === 0 || !entries.every(([k, v]) => k.includes('/') && typeof v === 'string')) return undefined;
  return entries as [string, string][];
}

/** A topic a single payload file stands for under a filter (wildcards filled in). */
function syntheticTopic(filter: string): string {
  return filter.replace(/(^|\/)\+(?=\/|$)/g, '$1x').replace(/\/?#$/, '') || 'payload';
}

export const CHECK_COMMAND = {
  name: 'check',
  usage: [
    'check MAPPING PAYLOAD... [--json] [--topic FILTER] [--var NAME=VALUE]... [--set PATH=VALUE]...',
    'check MAPPING --set PATH=VALUE...',
  ],
  summary: 'Validate a mapping and show what it would put on D-Bus for each payload file (offline).',
  description: [
    'Validates a mapping file and shows, for each payload file, what vbat would put on D-Bus: every path with its value, D-Bus type and text as Venus OS sees them, marked derived, default, WARNING or invalid where that applies, and whether vbat would accept the message at all. Offline: needs no broker and no bus.',
    'Mistakes in the mapping are reported as FILE:LINE: reason, every one of them.',
    'It also lists the writable paths: those with a command publish it to the BMS on a SetValue (write-back), the others keep a written value on D-Bus only. --set PATH=VALUE shows what a SetValue would publish (topic, payload, QoS) on each payload, or why vbat would refuse it.',
  ],
  args: [
    ['MAPPING', 'the mapping file (YAML), e.g. mappings/default.yaml'],
    [
      'PAYLOAD',
      'a payload as the BMS publishes it (JSON), or a capture: a JSON object of topic → payload text, for mappings fed by several topics (one value per topic). Several files are checked one after the other.',
    ],
  ],
  flags: {
    json: { type: 'boolean', help: 'print the result as JSON (every path with value, type, text, source and warnings) instead of a table' },
    topic: {
      type: 'string',
      arg: 'FILTER',
      help: "the MQTT topic filter the battery subscribes to: messages of a capture on other topics are ignored, and a single payload stands for a message on this topic (default: the mapping's input.topic, else #)",
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
      help: 'show what a SetValue of VALUE on PATH would publish to the BMS (as if the battery were fresh and the broker connected), or why it would be refused; repeat for several. Without PAYLOAD files the command is built on an empty document.',
    },
  },
  notes: [
    'Exit status: 0 when the mapping is valid, every payload would be accepted and every --set would be published (or kept on D-Bus); 1 when the mapping has errors, a payload file cannot be read, lacks a required input or has two topics writing the same document key (their values would overwrite each other), or a --set would be refused; 2 on a usage error.',
    "Examples:\n  vbat check mappings/default.yaml payload.json --var ttgSoc=20\n  vbat check my-bms.yaml capture.json --topic 'my-bms/#' --var cells=16\n  vbat check mappings/esphome-jk-bms.yaml --set /Io/AllowToCharge=0",
  ],
} satisfies CommandSpec;

/** `vbat check ARGS`: parse, check, print; resolves with the exit code. */
export async function checkCommand(args: string[], out: { write(s: string): unknown } = process.stdout): Promise<number> {
  const { values, positionals } = parseCommand(CHECK_COMMAND, args);
  if (values.help) {
    out.write(helpText(CHECK_COMMAND));
    return 0;
  }
  const [mapping, ...payloads] = positionals;
  const sets = parseSets(values.set);
  if (!mapping || (payloads.length === 0 && sets.length === 0))
    throw new UsageError(
      mapping ? 'no PAYLOAD file given (vbat check MAPPING PAYLOAD...)' : 'needs a MAPPING file and at least one PAYLOAD file',
    );
  const packs = (values.pack ?? []).map((spec) => {
    const eq = spec.indexOf('=');
    const name = spec.slice(0, eq);
    if (eq < 1 || !/^[A-Za-z0-9_]+$/.test(name) || validTopicFilter(spec.slice(eq + 1)))
      throw new UsageError(`--pack expects NAME=FILTER (name of letters, digits and _, a valid topic filter), got "${spec}"`);
    return { name, filter: spec.slice(eq + 1) };
  });
  const result = await check({ mapping, payloads, topic: values.topic, variables: parseVars(values.var), sets, packs });
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
