/**
 * `vbat check MAPPING PAYLOAD...`: validate a mapping and show what it would put on D-Bus for each
 * payload. Offline: no broker, no bus. Returns data; main.ts prints it and picks the exit code.
 */
import { readFileSync } from 'node:fs';
import { FileProblemsError, type Problem } from '../errors.js';
import { DocumentBuilder, topicMatches } from '../input/index.js';
import { Evaluator, loadMapping, Origin, type CompiledMapping } from '../mapping/index.js';
import type { DbusType, PathValue } from '../venus/types.js';

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
