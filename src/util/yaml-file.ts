/**
 * Loads a YAML file and keeps the line of every node, to point a later problem (a schema
 * violation, a bad expression) at the line it came from.
 */
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { FileProblemsError } from '../errors.js';

export interface YamlDocument {
  file: string;
  text: string;
  data: unknown;
  /** Line of each node, keyed by its path (see lineOf). */
  lines: Map<string, number>;
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
    return { file, text, ...positions(text, file) };
  } catch (err) {
    const e = err as yaml.YAMLException;
    const reason = `invalid YAML: ${e.reason ?? e.message}`;
    throw new FileProblemsError([
      { file, line: e.mark ? e.mark.line + 1 : undefined, column: e.mark ? e.mark.column + 1 : undefined, reason },
    ]);
  }
}

/** Line (1-based) of the node at `segments` (object keys / array indexes), or of its deepest ancestor found. */
export function lineOf(doc: YamlDocument, segments: readonly (string | number)[]): number | undefined {
  let found: number | undefined;
  for (let i = 1; i <= segments.length; i++) {
    const line = doc.lines.get(keyOf(segments.slice(0, i)));
    if (line === undefined) break;
    found = line;
  }
  return found;
}

const keyOf = (segments: readonly (string | number)[]) => segments.map(String).join('\u0000');

interface Node {
  line: number;
  kind?: string | null;
  result?: unknown;
  children: Node[];
}

/**
 * Where every mapping key and sequence item starts, from js-yaml's own parse events (its
 * `listener` sees each node open and close, with its position), so block and flow style alike
 * point at the exact line.
 */
function positions(text: string, file: string): { data: unknown; lines: Map<string, number> } {
  const root: Node = { line: 1, children: [] };
  const stack: Node[] = [root];
  const data = yaml.load(text, {
    filename: file,
    listener(event, state) {
      if (event === 'open') {
        stack.push({ line: state.line + 1, children: [] });
      } else {
        const node = stack.pop()!;
        node.kind = state.kind;
        node.result = state.result;
        stack[stack.length - 1]!.children.push(node);
      }
    },
  });
  const lines = new Map<string, number>();
  const walk = (n: Node, segs: (string | number)[]): void => {
    // js-yaml opens some nodes twice (document, sequence entries): look through the wrapper.
    while (n.children.length === 1 && n.children[0]!.kind === n.kind) n = n.children[0]!;
    if (n.kind === 'mapping') {
      for (let i = 0; i + 1 < n.children.length; i += 2) {
        const key = n.children[i]!;
        const path = [...segs, String(key.result)];
        lines.set(keyOf(path), key.line);
        walk(n.children[i + 1]!, path);
      }
    } else if (n.kind === 'sequence') {
      n.children.forEach((item, i) => {
        const path = [...segs, i];
        lines.set(keyOf(path), item.line);
        walk(item, path);
      });
    }
  };
  if (root.children[0]) walk(root.children[0], []);
  return { data, lines };
}

/** Splits an ajv instancePath ("/paths/~1Dc~10~1Power/type") into its segments. */
export function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Where an ajv error points: its instance path, plus the offending key for unknown keys. */
export function errorSegments(e: { instancePath: string; keyword: string; params: unknown }): string[] {
  const segs = pointerSegments(e.instancePath);
  const extra = (e.params as { additionalProperty?: string }).additionalProperty;
  return e.keyword === 'additionalProperties' && extra !== undefined ? [...segs, extra] : segs;
}
