/**
 * Compiles a validated mapping file once: expands ranges, parses every JSONata expression, picks
 * a fast JS evaluator where one exists, compiles text formats and orders paths so that a path
 * reading `$path('/X')` is evaluated after /X. Every problem found is reported with its line.
 */
import jsonata from 'jsonata';
import type { Problem } from '../errors.js';
import { FileProblemsError } from '../errors.js';
import { coerce } from '../venus/coerce.js';
import { compileFormat, defaultFormatter, type TextFormatter } from '../venus/format.js';
import type { DbusType, PathValue } from '../venus/types.js';
import { lineOf, type YamlDocument } from '../util/yaml-file.js';
import { validAvailabilityTopic } from '../input/topics.js';
import { expandPaths, type ExpandedEntry } from './expand.js';
import { budgetOptions, installBudget, regexProblems } from './budget.js';
import { compileFast, fastInputs, type FastFn, type FastInputs } from './fast.js';
import { HELPERS } from './helpers.js';
import { makeStrict, PRESENT, singleValueReads } from './strict.js';
import type { Expressions, InputSpec, MappingFile, PathEntry } from './model.js';
import { validateMappingShape } from './validate.js';
import { pathNameProblem } from './catalogue.js';

/**
 * Functions whose arguments are single values (see singleValueReads). Not $__present: it asks
 * whether an input is there at all, in JSONata's own terms.
 */
const SCALAR_FUNCTIONS = new Set([...Object.keys(HELPERS).filter((n) => n !== PRESENT), 'path']);

/** The strict rewrites (strict.ts), applied alike to the AST the fast evaluator and JSONata run. */
export function rewrite(ast: unknown): void {
  makeStrict(ast);
  singleValueReads(ast, SCALAR_FUNCTIONS);
}

export interface CompiledExpr {
  source: string;
  line?: number;
  /** Direct JS evaluation, when the expression is simple enough; else only JSONata. */
  fast?: FastFn;
  /** What `fast` reads, when that is known exactly (see memo.ts). */
  inputs?: FastInputs;
  /** `$path('/X')` targets, found at compile time. */
  references: Set<string>;
  /**
   * The JSONata expression, created on first use: each one carries an environment with every
   * built-in function bound, which adds up to megabytes for a mapping that rarely needs them.
   */
  jsonata(): jsonata.Expression;
}

/** How long one JSONata evaluation may run before it counts as failed (see budget.ts). */
export { EXPRESSION_TIME_LIMIT_MS } from './budget.js';

/** A JSONata expression under the budget: time, depth, value sizes, memory, regexes. */
function createExpression(source: string): jsonata.Expression {
  const expr = jsonata(source, budgetOptions());
  for (const [name, fn] of Object.entries(HELPERS)) expr.registerFunction(name, fn);
  installBudget(expr);
  return expr;
}

export interface CompiledPath {
  index: number;
  path: string;
  type: DbusType;
  value: CompiledExpr[];
  fallback: CompiledExpr[];
  default: PathValue;
  format: TextFormatter;
  textFormat?: string;
  min?: number;
  max?: number;
  /** Accepts SetValue: declared `writable`, or it has a command. */
  writable: boolean;
  /** Write-back to the BMS, when the mapping declares one for this path. */
  command?: CompiledCommand;
  /** Seconds between recomputations of a derived value: a number or the name of a variable. */
  interval?: number | string;
  description?: string;
  line?: number;
}

export interface CompiledCommand {
  topic: string;
  payload: CompiledExpr;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** Seconds to wait for the BMS to report the written value: a number or a variable's name. */
  confirm: number | string;
  /** Seconds between two commands to the path: a number or a variable's name. */
  minInterval: number | string;
  /** The path reads the BMS's state (value/fallback expressions), so a command can be confirmed. */
  confirmable: boolean;
}

export interface CompiledMapping {
  file: string;
  name: string;
  description?: string;
  input: Required<Omit<InputSpec, 'unwrap' | 'topic' | 'availability'>> & Pick<InputSpec, 'unwrap' | 'topic' | 'availability'>;
  /** In declaration order. */
  paths: CompiledPath[];
  /** Indexes into `paths` in evaluation order (dependencies first). */
  order: number[];
  required: number[];
  variables: Record<string, number | string | boolean>;
  byPath: Map<string, CompiledPath>;
}

export interface CompileOptions {
  /** mappings/service-paths.yaml: vbat's own paths, outside the battery path catalogue. */
  servicePaths?: boolean;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * A refused mapping. It still carries the variables the mapping declares (undefined when that
 * section is unreadable), so a config's or --var's unknown variable is reported in the same pass
 * as the mapping's own problems instead of only after they are fixed.
 */
export class MappingProblemsError extends FileProblemsError {
  constructor(
    readonly file: string,
    problems: Problem[],
    readonly variables: Record<string, unknown> | undefined,
  ) {
    super(problems);
  }
}

/**
 * Compile a parsed YAML document; throws FileProblemsError listing every problem. What the schema
 * refuses is left out and the rest compiled anyway, so one pass reports schema, expression,
 * format, path-name and `$path` problems together.
 */
export function compileMapping(doc: YamlDocument, opts: CompileOptions = {}): CompiledMapping {
  const shape = validateMappingShape(doc);
  const problems: Problem[] = shape.map(({ segments: _segments, ...p }) => p);
  const m = doc.data as MappingFile;
  /** Keys of a section the schema refused (undefined: the section itself is refused). */
  const refused = (section: string) =>
    new Set<string | undefined>(shape.filter((s) => s.segments[0] === section).map((s) => s.segments[1]));
  const badVars = refused('variables');
  const variables =
    !isObject(m) || badVars.has(undefined)
      ? undefined
      : Object.fromEntries(
          Object.entries(m.variables ?? {})
            .filter(([k, v]) => !badVars.has(k) && isObject(v))
            .map(([k, v]) => [k, v.default]),
        );
  if (!isObject(m) || !isObject(m.paths)) throw new MappingProblemsError(doc.file, problems, variables);
  const badPaths = refused('paths');
  const goodPaths = Object.fromEntries(Object.entries(m.paths).filter(([k, v]) => !badPaths.has(k) && isObject(v)));
  const lineOfKey = (key: string, ...at: (string | number)[]) => lineOf(doc, ['paths', key, ...at]);
  const { entries, problems: rangeProblems } = expandPaths(goodPaths, doc.file, lineOfKey);
  problems.push(...rangeProblems);
  if (!opts.servicePaths) problems.push(...pathNameProblems(entries, doc.file, lineOfKey));

  const declared = variables ?? {};
  const paths = entries.map((e, index) => compilePath(e, index, doc, declared, problems));
  const byPath = new Map(paths.map((p) => [p.path, p]));

  const required: number[] = [];
  const badRequired = refused('required');
  if (!badRequired.has(undefined) && Array.isArray(m.required))
    for (const [i, r] of m.required.entries()) {
      if (badRequired.has(String(i))) continue;
      const p = byPath.get(r);
      if (p) required.push(p.index);
      else if (!refusedPath(r, badPaths))
        problems.push({
          file: doc.file,
          line: lineOf(doc, ['required', i]),
          where: 'required',
          reason: `${r} is not one of the mapping's paths`,
        });
    }
  const order = evaluationOrder(paths, byPath, doc.file, problems, (r) => refusedPath(r, badPaths));
  const input: InputSpec = isObject(m.input) && !refused('input').size ? m.input : {};
  const badAvailability =
    typeof input.availability?.topic === 'string' && validAvailabilityTopic(input.availability.topic.replaceAll('{base}', 'base'));
  if (badAvailability)
    problems.push({
      file: doc.file,
      line: lineOf(doc, ['input', 'availability', 'topic']),
      where: 'input › availability',
      reason: badAvailability,
    });
  if (problems.length) throw new MappingProblemsError(doc.file, problems, variables);
  return {
    file: doc.file,
    name: m.name ?? doc.file,
    description: m.description,
    input: {
      format: input.format ?? 'json',
      merge: input.merge ?? false,
      unwrap: input.unwrap,
      topic: input.topic,
      availability: input.availability,
    },
    paths,
    order,
    required,
    variables: declared,
    byPath,
  };
}

/** Whether `path` is one of the entries the schema refused (so a reference to it is no news). */
function refusedPath(path: string, refused: Set<string | undefined>): boolean {
  const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  for (const key of refused) {
    if (key === undefined) continue;
    if (key === path || new RegExp(`^${key.split('{n}').map(escape).join('\\d+')}$`).test(path)) return true;
  }
  return false;
}

/** Every data path checked against the battery path catalogue, once per key. */
function pathNameProblems(entries: ExpandedEntry[], file: string, lineOfKey: (key: string) => number | undefined): Problem[] {
  const out: Problem[] = [];
  const reported = new Set<string>();
  for (const e of entries) {
    if (reported.has(e.key)) continue;
    const reason = pathNameProblem(e.path, e.entry.custom === true);
    if (!reason) continue;
    reported.add(e.key);
    out.push({ file, line: lineOfKey(e.key), where: e.key, reason });
  }
  return out;
}

function compilePath(
  e: ExpandedEntry,
  index: number,
  doc: YamlDocument,
  variables: Record<string, unknown>,
  problems: Problem[],
): CompiledPath {
  const { entry, key, path } = e;
  const line = lineOf(doc, ['paths', key]);
  const problem = (reason: string, at?: string[]) =>
    problems.push({ file: doc.file, line: at ? (lineOf(doc, ['paths', key, ...at]) ?? line) : line, where: path, reason });

  let format: TextFormatter = defaultFormatter;
  if (entry.text !== undefined) {
    try {
      format = compileFormat(entry.text);
    } catch (err) {
      problem((err as Error).message, ['text']);
    }
  }
  let def: PathValue = null;
  if (entry.default !== undefined) {
    const c = coerce(entry.default, entry.type);
    if (c.problem) problem(`default: ${c.problem}`, ['default']);
    def = c.value;
  }
  if (entry.min !== undefined && entry.max !== undefined && entry.min > entry.max)
    problem(`min ${entry.min} is above max ${entry.max}`, ['min']);
  if (typeof entry.interval === 'string') {
    const name = entry.interval.replace(/^\$/, '');
    if (!entry.interval.startsWith('$') || !Object.hasOwn(variables, name))
      problem(`interval "${entry.interval}" must be a number or $variable of this mapping`, ['interval']);
  } else if (entry.interval !== undefined && entry.interval < 0) problem('interval must not be negative', ['interval']);
  // A command-only path (no state to read) shows what was written; everything else needs a source.
  if (entry.value === undefined && entry.fallback === undefined && entry.default === undefined && !entry.command) {
    problem('needs at least one of value, fallback or default');
  }
  if (entry.command && entry.writable === false) problem('a path with a command is writable: drop `writable: false`', ['writable']);
  if (entry.command && entry.type === 's' && (entry.min !== undefined || entry.max !== undefined))
    problem('min/max do not apply to a string path', ['min']);
  return {
    index,
    path,
    type: entry.type,
    value: compileExprs(entry.value, 'value', key, path, doc, problems),
    fallback: compileExprs(entry.fallback, 'fallback', key, path, doc, problems),
    default: def,
    format,
    textFormat: entry.text,
    min: entry.min,
    max: entry.max,
    writable: entry.writable === true || entry.command !== undefined,
    command: entry.command && compileCommand(entry, key, path, doc, variables, problems),
    interval: typeof entry.interval === 'string' ? entry.interval.replace(/^\$/, '') : entry.interval,
    description: entry.description,
    line,
  };
}

function compileCommand(
  entry: PathEntry,
  key: string,
  path: string,
  doc: YamlDocument,
  variables: Record<string, unknown>,
  problems: Problem[],
): CompiledCommand | undefined {
  const c = entry.command!;
  const seconds = (field: 'confirm' | 'minInterval', fallback: number): number | string => {
    const v = c[field];
    if (typeof v !== 'string') return v ?? fallback;
    const name = v.slice(1);
    const value = variables[name];
    if (!Object.hasOwn(variables, name))
      problems.push({
        file: doc.file,
        line: lineOf(doc, ['paths', key, 'command', field]),
        where: path,
        reason: `${field} "${v}" is not a variable of this mapping`,
      });
    else if (typeof value !== 'number' || !(value >= 0))
      problems.push({
        file: doc.file,
        line: lineOf(doc, ['paths', key, 'command', field]),
        where: path,
        reason: `${field}: variable ${v} must default to a number of seconds`,
      });
    return name;
  };
  const [payload] = compileExprs(c.payload, 'command', key, path, doc, problems, ['command', 'payload']);
  if (!payload) return undefined;
  return {
    topic: c.topic,
    payload,
    qos: c.qos ?? 1,
    retain: c.retain ?? false,
    confirm: seconds('confirm', 10),
    minInterval: seconds('minInterval', 2),
    confirmable: entry.value !== undefined || entry.fallback !== undefined,
  };
}

function compileExprs(
  e: Expressions | undefined,
  field: string,
  key: string,
  path: string,
  doc: YamlDocument,
  problems: Problem[],
  at: (string | number)[] = [field],
): CompiledExpr[] {
  if (e === undefined) return [];
  const list = Array.isArray(e) ? e : [e];
  const out: CompiledExpr[] = [];
  list.forEach((src, i) => {
    const source = typeof src === 'number' ? String(src) : src;
    const line = lineOf(doc, Array.isArray(e) ? ['paths', key, ...at, i] : ['paths', key, ...at]);
    try {
      const parsed = jsonata(source);
      const ast = parsed.ast();
      for (const reason of regexProblems(ast))
        problems.push({ file: doc.file, line, where: `${path} ${field}`, reason: `${reason} in \`${source}\`` });
      rewrite(ast);
      const fast = compileFast(ast);
      const create = () => {
        const e = createExpression(source);
        rewrite(e.ast());
        return e;
      };
      // Keep the parsed expression only when the fast path cannot stand in for it.
      let expression: jsonata.Expression | undefined = fast ? undefined : create();
      out.push({
        source,
        line,
        fast,
        inputs: fast ? fastInputs(ast) : undefined,
        references: pathReferences(ast),
        jsonata: () => (expression ??= create()),
      });
    } catch (err) {
      const j = err as { message?: string; position?: number; code?: string };
      const at = j.position !== undefined ? ` at character ${j.position}` : '';
      problems.push({
        file: doc.file,
        line,
        where: `${path} ${field}`,
        reason: `JSONata error${at}: ${j.message ?? String(err)} in \`${source}\``,
      });
    }
  });
  return out;
}

/** `$path('/X')` references in an expression's AST. */
export function pathReferences(ast: unknown, out: Set<string> = new Set()): Set<string> {
  if (Array.isArray(ast)) for (const a of ast) pathReferences(a, out);
  else if (ast && typeof ast === 'object') {
    const n = ast as { type?: string; procedure?: { type?: string; value?: unknown }; arguments?: { type?: string; value?: unknown }[] };
    if (n.type === 'function' && n.procedure?.type === 'variable' && n.procedure.value === 'path') {
      const arg = n.arguments?.[0];
      if (arg?.type === 'string') out.add(String(arg.value));
    }
    for (const v of Object.values(ast)) if (v && typeof v === 'object') pathReferences(v, out);
  }
  return out;
}

function evaluationOrder(
  paths: CompiledPath[],
  byPath: Map<string, CompiledPath>,
  file: string,
  problems: Problem[],
  refused: (path: string) => boolean,
): number[] {
  const deps = paths.map((p) => {
    const refs = new Set<string>();
    for (const e of [...p.value, ...p.fallback]) for (const r of e.references) refs.add(r);
    const out: number[] = [];
    for (const r of refs) {
      const target = byPath.get(r);
      if (target) out.push(target.index);
      else if (!refused(r))
        problems.push({ file, line: p.line, where: p.path, reason: `$path('${r}') names a path this mapping does not define` });
    }
    return out;
  });
  const order: number[] = [];
  const state = new Uint8Array(paths.length); // 0 new, 1 visiting, 2 done
  const visit = (i: number, chain: number[]): void => {
    if (state[i] === 2) return;
    if (state[i] === 1) {
      const cycle = [...chain.slice(chain.indexOf(i)), i].map((k) => paths[k]!.path).join(' → ');
      problems.push({ file, line: paths[i]!.line, where: paths[i]!.path, reason: `$path references form a cycle: ${cycle}` });
      return;
    }
    state[i] = 1;
    for (const d of deps[i]!) visit(d, [...chain, i]);
    state[i] = 2;
    order.push(i);
  };
  paths.forEach((_, i) => visit(i, []));
  return order;
}
