/**
 * Loads a YAML file and keeps enough of its text to point a later problem (a schema violation,
 * a bad expression) at the line it came from.
 */
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { FileProblemsError } from '../errors.js';

export interface YamlDocument {
  file: string;
  text: string;
  data: unknown;
}

export function loadYamlFile(file: string): YamlDocument {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FileProblemsError([{ file, reason: `cannot read: ${(err as Error).message}` }]);
  }
  return parseYaml(file, text);
}

export function parseYaml(file: string, text: string): YamlDocument {
  try {
    return { file, text, data: yaml.load(text, { filename: file }) };
  } catch (err) {
    const e = err as yaml.YAMLException;
    const reason = `invalid YAML: ${e.reason ?? e.message}`;
    throw new FileProblemsError([{ file, line: e.mark ? e.mark.line + 1 : undefined, column: e.mark ? e.mark.column + 1 : undefined, reason }]);
  }
}

/**
 * Line (1-based) of the node at `segments` (object keys / array indexes) in block-style YAML.
 * Walks down key by key, each one searched below its parent's line at a deeper indentation;
 * stops at the deepest segment it finds, which is still the right line for flow-style values.
 */
export function lineOf(text: string, segments: readonly (string | number)[]): number | undefined {
  const lines = text.split('\n');
  let from = 0;
  let parentIndent = -1;
  let found: number | undefined;
  for (const seg of segments) {
    const hit = findChild(lines, from, parentIndent, seg);
    if (hit === undefined) break;
    found = hit.line;
    from = hit.line + 1;
    parentIndent = hit.indent;
  }
  return found === undefined ? undefined : found + 1;
}

function findChild(lines: string[], from: number, parentIndent: number, seg: string | number): { line: number; indent: number } | undefined {
  let index = 0;
  for (let i = from; i < lines.length; i++) {
    const raw = lines[i]!;
    const body = raw.trimStart();
    if (body === '' || body.startsWith('#')) continue;
    const indent = raw.length - body.length;
    if (indent <= parentIndent) return undefined; // left the parent's block
    // JSON pointers carry array indexes as strings: "0" is a list item here, or a key.
    const asIndex = typeof seg === 'number' ? seg : /^\d+$/.test(seg) ? Number(seg) : undefined;
    if (asIndex !== undefined && (body.startsWith('- ') || body === '-')) {
      if (index === asIndex) return { line: i, indent };
      index++;
      continue;
    }
    if (typeof seg === 'number') continue;
    const key = keyOf(body);
    if (key === seg) return { line: i, indent: body.startsWith('- ') ? indent + 2 : indent };
  }
  return undefined;
}

function keyOf(body: string): string | undefined {
  const m = /^(?:-\s+)?("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^:#]+?)\s*:(?:\s|$)/.exec(body);
  if (!m) return undefined;
  const k = m[1]!;
  if (k.startsWith('"')) return JSON.parse(k) as string;
  if (k.startsWith("'")) return k.slice(1, -1).replace(/''/g, "'");
  return k;
}

/** Splits an ajv instancePath ("/paths/~1Dc~10~1Power/type") into its segments. */
export function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Where an ajv error points: its instance path, plus the offending key for unknown keys. */
export function errorSegments(e: { instancePath: string; keyword: string; params: unknown }): string[] {
  const segs = pointerSegments(e.instancePath);
  const extra = (e.params as { additionalProperty?: string }).additionalProperty;
  return e.keyword === 'additionalProperties' && extra !== undefined ? [...segs, extra] : segs;
}
