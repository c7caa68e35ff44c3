/**
 * Strict evaluation: an expression that reads a field the document lacks is invalid, not a
 * plausible number. JSONata drops undefined quietly (`$min([limit, 100])` is 100 when `limit` is
 * missing, `v > 58 ? 2 : 0` is 0, `'C' & id` is "C"), which for a charge limit means a value the
 * BMS never sent. So every expression is rewritten once, at compile time, to
 *
 *     $__present(<every field and $path it reads>) ? <expression>
 *
 * which is undefined unless all its inputs are there. The rewrite is on the AST that both JSONata
 * and the fast evaluator run, so the two cannot disagree about it.
 *
 * What counts as handling absence explicitly, and is therefore not a strict read:
 * - the left side of `a ?? b` and the argument of `$exists(a)`;
 * - a field or `$path` used bare as a condition (`Voltages ? ... : ...`), inside that condition;
 * - the branches of a condition are their own scopes: a branch's inputs are required only when
 *   that branch is taken.
 * Fields read relative to another context (inside predicates, after the first step of a path,
 * inside lambdas) are the expression's own business.
 */

import type { Node } from './ast.js';

/** The helper the rewrite calls: true when every argument is defined. */
export const PRESENT = '__present';

export function present(...values: unknown[]): boolean {
  for (const v of values) if (v === undefined) return false;
  return true;
}

/** One input of an expression: document field names from the root, or a `$path` target. */
type Read = { kind: 'field'; names: string[] } | { kind: 'path'; target: string };

const keyOf = (r: Read) => (r.kind === 'field' ? `f:${r.names.join('\u0000')}` : `p:${r.target}`);

/** Rewrite a parsed expression in place (the root object is kept: JSONata holds a reference). */
export function makeStrict(ast: unknown): void {
  const root = ast as Node;
  const rewritten = scope(root, new Set());
  if (rewritten === root) return;
  const inner = { ...root };
  for (const k of Object.keys(root)) delete root[k];
  Object.assign(root, rewritten, { then: inner });
}

/** The helpers single-value reads are rewritten to (see singleValueReads). */
export const FIELD = '__field';
export const SCALAR = '__scalar';

/**
 * `$__field($$, 'Info', 'MaxChargeCurrent')`: the field at that path from the root, read key by
 * key through objects only. A path through an array is undefined: JSONata would map over it and
 * take a number out of an element (`{"Info": [{"MaxChargeCurrent": 300}]}` → 300 A), a value the
 * mapping never asked for. The value at the end may itself be an array.
 */
export function field(root: unknown, ...keys: unknown[]): unknown {
  return fieldAt(root, keys);
}

/** `field` with its keys as one array (the fast evaluator calls this with the keys it compiled). */
export function fieldAt(root: unknown, keys: readonly unknown[]): unknown {
  let cur = root;
  for (let i = 0; i < keys.length; i++) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[String(keys[i])];
    if (cur === undefined) return undefined;
  }
  return cur;
}

/**
 * `$__scalar($$, ...)`, for list elements (`$min([Info.Limit, 100])`): like `$__field`, but an
 * array or object at the end fails the expression (JSONata would flatten it into the list, and
 * being a wrong value rather than a missing one, `??` must not paper over it).
 */
export function scalar(root: unknown, ...keys: unknown[]): unknown {
  return scalarAt(root, keys);
}

/** `scalar` with its keys as one array. */
export function scalarAt(root: unknown, keys: readonly unknown[]): unknown {
  let cur = root;
  for (let i = 0; i < keys.length - 1; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[String(keys[i])];
    if (Array.isArray(cur)) throw new Error(`${keys.join('.')} is read through an array, not one value`);
  }
  const v = fieldAt(root, keys);
  if (v !== null && typeof v === 'object')
    throw new Error(`${keys.join('.')} is ${Array.isArray(v) ? 'an array' : 'an object'}, not one value`);
  return v;
}

/**
 * Rewrite, in place, every plain multi-step field path read as a single value into a `$__field`
 * call: bare, in conditions and `??`, in list elements, as arguments of vbat's helpers. Paths handed
 * straight to JSONata's own functions keep JSONata's meaning (`$sum(packs.voltage)` maps over
 * packs on purpose), as do paths with predicates, wildcards or relative steps.
 */
export function singleValueReads(ast: unknown, scalarFunctions: ReadonlySet<string>): void {
  const root = ast as Node;
  const rewrite = (n: Node | undefined, sequence: boolean, element = false): Node | undefined => {
    if (!n || typeof n !== 'object') return n;
    switch (n.type) {
      case 'path': {
        const names = fieldNames(n);
        const plain = names && n.steps!.every(plainStep) && n.steps!.length === names.length;
        if (plain && !sequence && (names.length > 1 || element)) {
          return {
            type: 'function',
            value: '(',
            procedure: { type: 'variable', value: element ? SCALAR : FIELD },
            arguments: [{ type: 'variable', value: '$' }, ...names.map((name) => ({ type: 'string', value: name }))],
          };
        }
        if (!names && n.steps?.[0]) n.steps[0] = rewrite(n.steps[0], false)!;
        return n;
      }
      case 'function':
      case 'partial': {
        const name = n.procedure?.type === 'variable' ? String(n.procedure.value) : '';
        // In a list element, `x ?? d` tests x as one value too: through an array it fails.
        const seq = !scalarFunctions.has(name) && !(element && name === 'exists');
        if (n.arguments) n.arguments = n.arguments.map((a) => rewrite(a, seq, element && name === 'exists')!);
        return n;
      }
      case 'condition':
        n.condition = rewrite(n.condition, false, element);
        n.then = rewrite(n.then, false, element);
        if (n.else) n.else = rewrite(n.else, false, element);
        return n;
      case 'binary':
      case 'apply':
        n.lhs = rewrite(n.lhs, false);
        n.rhs = rewrite(n.rhs, false);
        return n;
      case 'bind':
        n.rhs = rewrite(n.rhs, false);
        return n;
      case 'unary':
        if (n.expression) n.expression = rewrite(n.expression, false);
        // `[a, b]`: each element is one value; `$min([x ?? 5, 100])` keeps that through `??`.
        if (n.expressions) n.expressions = n.expressions.map((e) => rewrite(e, false, n.value === '[')!);
        return n;
      case 'block':
        if (n.expressions) n.expressions = n.expressions.map((e) => rewrite(e, false)!);
        return n;
      default:
        return n;
    }
  };
  const out = rewrite(root, false)!;
  if (out === root) return;
  for (const k of Object.keys(root)) delete root[k];
  Object.assign(root, out);
}

/** A scope's node, wrapped in the presence check of its own reads (branches get their own). */
function scope(n: Node, guarded: Set<string>): Node {
  const reads = new Map<string, Read>();
  collect(n, guarded, reads);
  for (const k of guarded) reads.delete(k);
  if (reads.size === 0 || isBareRead(n, reads)) return n;
  return {
    type: 'condition',
    condition: {
      type: 'function',
      value: '(',
      procedure: { type: 'variable', value: PRESENT },
      arguments: [...reads.values()].map(readNode),
    },
    then: n,
  };
}

/** `Dc.Power` or `$path('/X')` alone: missing input already makes it undefined. */
function isBareRead(n: Node, reads: Map<string, Read>): boolean {
  if (reads.size !== 1) return false;
  const r = [...reads.values()][0]!;
  if (r.kind === 'path') return pathCall(n) === r.target;
  const names = fieldNames(n);
  return names !== undefined && names.length === r.names.length && n.steps!.every(plainStep);
}

function readNode(r: Read): Node {
  if (r.kind === 'path')
    return {
      type: 'function',
      value: '(',
      procedure: { type: 'variable', value: 'path' },
      arguments: [{ type: 'string', value: r.target }],
    };
  return { type: 'path', steps: r.names.map((name) => ({ type: 'name', value: name })) };
}

const plainStep = (s: Node) => s.type === 'name' && !s.stages && !s.predicate && !s.group && !s.focus && !s.tuple && !s.index;

/** The leading field names of a path from the document root, if it starts at the root. */
function fieldNames(n: Node): string[] | undefined {
  if (n.type !== 'path' || !n.steps?.length) return undefined;
  let steps = n.steps;
  if (steps[0]!.type === 'variable' && steps[0]!.value === '') steps = steps.slice(1); // `$.a`
  if (!steps.length || steps[0]!.type !== 'name') return undefined;
  const names: string[] = [];
  for (const s of steps) {
    if (s.type !== 'name') break;
    names.push(String(s.value));
    if (!plainStep(s)) break; // `Voltages[0]`: the field must exist; what follows is relative
  }
  return names;
}

function pathCall(n: Node): string | undefined {
  if (n.type !== 'function' || n.procedure?.type !== 'variable' || n.procedure.value !== 'path') return undefined;
  const arg = n.arguments?.[0];
  return n.arguments?.length === 1 && arg?.type === 'string' ? String(arg.value) : undefined;
}

/** A bare field or `$path`, or `$exists(...)` of one: a test for presence. */
function presenceTest(n: Node): Read | undefined {
  const inner =
    n.type === 'function' && n.procedure?.type === 'variable' && n.procedure.value === 'exists' && n.arguments?.length === 1
      ? n.arguments[0]!
      : n;
  const target = pathCall(inner);
  if (target !== undefined) return { kind: 'path', target };
  const names = fieldNames(inner);
  return names && inner.steps!.every(plainStep) ? { kind: 'field', names } : undefined;
}

function add(out: Map<string, Read>, r: Read): void {
  out.set(keyOf(r), r);
}

/** The strict reads of `n` within its scope; rewrites condition branches as scopes of their own. */
function collect(n: Node | undefined, guarded: Set<string>, out: Map<string, Read>): void {
  if (!n || typeof n !== 'object') return;
  switch (n.type) {
    case 'path': {
      const names = fieldNames(n);
      if (names) add(out, { kind: 'field', names });
      else collect(n.steps?.[0], guarded, out); // `$cells(Voltages).min`: the head reads
      return;
    }
    case 'function':
    case 'partial': {
      const target = pathCall(n);
      if (target !== undefined) return add(out, { kind: 'path', target });
      if (n.procedure?.type === 'variable' && n.procedure.value === 'exists') return; // absence handled
      for (const a of n.arguments ?? []) collect(a, guarded, out);
      return;
    }
    case 'condition': {
      const test = n.condition ? presenceTest(n.condition) : undefined;
      const inner = new Set(guarded);
      if (test) inner.add(keyOf(test));
      else collect(n.condition, guarded, out);
      if (n.then) n.then = scope(n.then, inner);
      if (n.else) n.else = scope(n.else, inner);
      return;
    }
    case 'binary':
    case 'apply':
      collect(n.lhs, guarded, out);
      collect(n.rhs, guarded, out);
      return;
    case 'bind':
      collect(n.rhs, guarded, out);
      return;
    case 'unary':
      if (n.value === '-') collect(n.expression, guarded, out);
      else if (n.value === '[') for (const e of n.expressions ?? []) collect(e, guarded, out);
      return;
    case 'block':
      for (const e of n.expressions ?? []) collect(e, guarded, out);
      return;
    default:
      // literals, variables, regexes, lambdas, object constructors, transforms: no root reads
      return;
  }
}
