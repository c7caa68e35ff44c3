/**
 * `vbat check MAPPING PAYLOAD...`: validate a mapping and show what it would put on D-Bus for each
 * payload. Offline: no broker, no bus. Returns data; main.ts prints it and picks the exit code.
 */
import { readFileSync } from 'node:fs';
import { FileProblemsError, UsageError, type Problem } from '../errors.js';
import { DocumentBuilder, topicMatches } from '../input/index.js';
import { Evaluator, loadMapping, Origin, type CompiledMapping } from '../mapping/index.js';
import type { DbusType, PathValue } from '../venus/types.js';
import { helpText, parseCommand, parseVars, type CommandSpec } from './args.js';
import { renderCheck } from './table.js';

export interface CheckOptions {
  mapping: string;
  payloads: string[];
  /** Topic filter for captures (topic → payload files); default: the mapping's input.topic, else '#'. */
  topic?: string;
  variables?: Record<string, unknown>;
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
  missingRequired: string[];
  paths: CheckedPath[];
}

export interface CheckResult {
  mapping: { file: string; name: string; paths: number };
  problems: Problem[];
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
    return { mapping: { file: opts.mapping, name: '', paths: 0 }, problems: err.problems, payloads: [], ok: false };
  }
  const payloads: CheckedPayload[] = [];
  for (const file of opts.payloads) payloads.push(await checkPayload(mapping, file, opts));
  const ok = payloads.every((p) => !p.error && p.missingRequired.length === 0);
  return { mapping: { file: mapping.file, name: mapping.name, paths: mapping.paths.length }, problems: [], payloads, ok };
}

async function checkPayload(mapping: CompiledMapping, file: string, opts: CheckOptions): Promise<CheckedPayload> {
  const result: CheckedPayload = { file, refused: [], ignored: 0, missingRequired: [], paths: [] };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ...result, error: `cannot read: ${(err as Error).message}` };
  }
  const topic = opts.topic ?? mapping.input.topic ?? '#';
  const builder = new DocumentBuilder({ input: mapping.input, topics: [topic] });
  const messages = captureMessages(text) ?? [[syntheticTopic(topic), text]];
  let doc: unknown;
  for (const [t, payload] of messages) {
    if (!topicMatches(topic, t)) {
      result.ignored++;
      continue;
    }
    const accepted = builder.accept(t, payload);
    if (accepted.ok) doc = accepted.doc;
    else result.refused.push({ topic: t, reason: accepted.reason });
  }
  if (doc === undefined) return { ...result, error: result.refused.map((r) => r.reason).join('; ') || 'no message in the file' };
  // As `vbat run` does: with merge, derived paths read only the newest message.
  const ev = await new Evaluator(mapping, opts.variables).evaluate(doc, Date.now(), mapping.input.merge ? builder.latest : undefined);
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
  usage: ['check MAPPING PAYLOAD... [--json] [--topic FILTER] [--var NAME=VALUE]...'],
  summary: 'Validate a mapping and show what it would put on D-Bus for each payload file (offline).',
  description: [
    'Validates a mapping file and shows, for each payload file, what vbat would put on D-Bus: every path with its value, D-Bus type and text as Venus OS sees them, marked derived, default, WARNING or invalid where that applies, and whether vbat would accept the message at all. Offline: needs no broker and no bus.',
    'Mistakes in the mapping are reported as FILE:LINE: reason, every one of them.',
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
    var: {
      type: 'string',
      arg: 'NAME=VALUE',
      multiple: true,
      help: 'set a mapping variable, overriding its default; repeat for several. Numbers and true/false are typed, anything else is a string.',
    },
  },
  notes: [
    'Exit status: 0 when the mapping is valid and every payload would be accepted; 1 when the mapping has errors, or a payload file cannot be read or lacks a required input; 2 on a usage error.',
    "Examples:\n  vbat check mappings/default.yaml payload.json --var ttgSoc=20\n  vbat check my-bms.yaml capture.json --topic 'my-bms/#' --var cells=16",
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
  if (!mapping || payloads.length === 0)
    throw new UsageError(
      mapping ? 'no PAYLOAD file given (vbat check MAPPING PAYLOAD...)' : 'needs a MAPPING file and at least one PAYLOAD file',
    );
  const result = await check({ mapping, payloads, topic: values.topic, variables: parseVars(values.var) });
  out.write((values.json ? JSON.stringify(result, null, 2) : renderCheck(result)) + '\n');
  return result.ok && result.problems.length === 0 ? 0 : 1;
}
