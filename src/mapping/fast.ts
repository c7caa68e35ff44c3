/**
 * A direct JS evaluator for the simple JSONata expressions that make up most mappings: field
 * references (`Dc.Voltage`), literals, `??`, `$variables`, `$path('/X')`, the battery helpers,
 * arithmetic, comparisons, `&`, conditions and $min/$max/$sum of a literal list. JSONata 2.x evaluation is async and costs microseconds even for a
 * field reference; this runs in nanoseconds. Wherever JSONata's semantics could differ (arrays,
 * sequences, type errors) the fast evaluator answers SLOW and the caller runs real JSONata.
 */
import type { Node } from './ast.js';
import { HELPERS } from './helpers.js';
import { FIELD, fieldAt, PRESENT, SCALAR, scalarAt } from './strict.js';

export const SLOW: unique symbol = Symbol('slow');

export interface FastContext {
  doc: unknown;
  vars: Record<string, unknown>;
  path: (p: string) => unknown;
}

export type FastFn = (ctx: FastContext) => unknown;

const PLAIN_STEP_KEYS = new Set(['type', 'value', 'position']);
const PLAIN_PATH_KEYS = new Set(['type', 'steps', 'position']);

/** Compile an AST to a fast function, or undefined when it needs JSONata. */
export function compileFast(ast: unknown): FastFn | undefined {
  return node(ast as Node);
}

function node(n: Node | undefined): FastFn | undefined {
  if (!n) return undefined;
  switch (n.type) {
    case 'number':
    case 'string':
    case 'value': {
      const v = n.value;
      return () => v;
    }
    case 'path':
      return path(n);
    case 'name':
      return steps([n]);
    case 'variable':
      return variable(n);
    case 'function':
      return call(n);
    case 'condition':
      return condition(n);
    case 'binary':
      return binary(n);
    case 'unary':
      return n.value === '-' ? negate(n) : undefined;
    case 'block':
      return n.expressions?.length === 1 ? node(n.expressions[0]) : undefined;
    default:
      return undefined;
  }
}

/** What a fast-compiled expression reads: document fields (keys from the root) and `$path` targets. */
export interface FastInputs {
  fields: string[][];
  paths: string[];
}

/**
 * Everything the fast function compiled from `ast` reads, when that is known statically: field
 * paths from the root and `$path` targets (variables are fixed for an evaluator's life). Undefined
 * when the expression reads the document as a whole (`$`, `$$` outside `$__field`) or has a shape
 * this does not know. It walks the node types node() compiles, the same way: the evaluator
 * reuses a path's last result while these inputs hold the same values (memo.ts), so a read missed
 * here would keep a stale value.
 */
export function fastInputs(ast: unknown): FastInputs | undefined {
  const out: FastInputs = { fields: [], paths: [] };
  return reads(ast as Node, out) ? out : undefined;
}

function reads(n: Node | undefined, out: FastInputs): boolean {
  if (!n) return true;
  switch (n.type) {
    case 'number':
    case 'string':
    case 'value':
      return true;
    case 'name':
      out.fields.push([String(n.value)]);
      return true;
    case 'path': {
      const first = n.steps?.[0];
      if (!first) return false;
      if (first.type !== 'name') return reads(first, out); // a head (call, variable) and field steps over its result
      const keys = names(n.steps!);
      if (!keys) return false;
      out.fields.push(keys);
      return true;
    }
    case 'variable': {
      const name = String(n.value);
      return name !== '' && name !== '$';
    }
    case 'function': {
      const name = String(n.procedure?.value);
      const args = n.arguments ?? [];
      if (name === FIELD || name === SCALAR) {
        const keys = rootKeys(args);
        if (keys) {
          out.fields.push(keys);
          return true;
        }
      }
      if (name === 'path') {
        if (args.length !== 1 || args[0]!.type !== 'string') return false;
        out.paths.push(String(args[0]!.value));
        return true;
      }
      return args.every((a) => reads(a, out));
    }
    case 'condition':
      return reads(n.condition, out) && reads(n.then, out) && reads(n.else, out);
    case 'binary':
      return reads(n.lhs, out) && reads(n.rhs, out);
    case 'unary':
      if (n.value === '-') return reads(n.expression, out);
      return n.value === '[' && (n.expressions ?? []).every((e) => reads(e, out));
    case 'block':
      return (n.expressions ?? []).every((e) => reads(e, out));
    default:
      return false;
  }
}

/** True when the node carries nothing beyond `allowed` (keys set to undefined don't count). */
function onlyKeys(n: Node, allowed: Set<string>): boolean {
  return Object.keys(n).every((k) => allowed.has(k) || n[k] === undefined);
}

function path(n: Node): FastFn | undefined {
  if (!onlyKeys(n, PLAIN_PATH_KEYS) || !n.steps?.length) return undefined;
  const [first, ...rest] = n.steps;
  if (first!.type === 'name') return steps(n.steps);
  // `$cells(Voltages).min`: a fast head (a call or variable, checked for extras by node())
  // followed by plain field steps.
  const head = first!.type === 'function' || first!.type === 'variable' ? node(first) : undefined;
  if (!head) return undefined;
  const tail = rest.length ? names(rest) : undefined;
  if (rest.length && !tail) return undefined;
  return (ctx) => {
    const v = head(ctx);
    if (v === SLOW || !tail) return v;
    return walk(v, tail);
  };
}

function names(list: Node[]): string[] | undefined {
  const out: string[] = [];
  for (const s of list) {
    if (s.type !== 'name' || !onlyKeys(s, PLAIN_STEP_KEYS)) return undefined;
    out.push(String(s.value));
  }
  return out;
}

function steps(list: Node[]): FastFn | undefined {
  const keys = names(list);
  if (!keys) return undefined;
  return (ctx) => walk(ctx.doc, keys);
}

/** Field navigation; arrays anywhere mean JSONata's sequence semantics, so hand over. */
export function walk(start: unknown, keys: readonly string[]): unknown {
  let cur = start;
  for (let i = 0; i < keys.length; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (Array.isArray(cur)) return SLOW;
    cur = (cur as Record<string, unknown>)[keys[i]!];
    if (cur === undefined) return undefined;
  }
  return Array.isArray(cur) ? SLOW : cur;
}

function variable(n: Node): FastFn | undefined {
  if (!onlyKeys(n, PLAIN_STEP_KEYS)) return undefined;
  const name = String(n.value);
  if (name === '') return (ctx) => (Array.isArray(ctx.doc) ? SLOW : ctx.doc);
  if (name === '$') return (ctx) => ctx.doc; // `$$`, the root: what the strict rewrite reads from
  return (ctx) => (name in ctx.vars ? ctx.vars[name] : SLOW);
}

function call(n: Node): FastFn | undefined {
  if (n.procedure?.type !== 'variable' || !onlyKeys(n, new Set(['type', 'value', 'position', 'arguments', 'procedure']))) return undefined;
  const name = String(n.procedure.value);
  if (name === 'min' || name === 'max' || name === 'sum') return aggregate(name, n);
  const args = (n.arguments ?? []).map(node);
  if (args.some((a) => a === undefined)) return undefined;
  const fns = args as FastFn[];
  if (name === 'exists' && fns.length === 1) {
    const a = fns[0]!;
    return (ctx) => {
      const v = a(ctx);
      return v === SLOW ? SLOW : v !== undefined;
    };
  }
  if (name === 'path' && fns.length === 1 && n.arguments![0]!.type === 'string') {
    const p = String(n.arguments![0]!.value);
    return (ctx) => ctx.path(p);
  }
  const helper = HELPERS[name];
  if (!helper) return undefined;
  if (name === FIELD || name === SCALAR) {
    const keys = rootKeys(n.arguments ?? []);
    if (keys) return name === FIELD ? (ctx) => fieldAt(ctx.doc, keys) : (ctx) => scalarAt(ctx.doc, keys);
  }
  if (name === PRESENT) return allPresent(fns);
  return direct(helper, fns);
}

/** The keys of `$__field($$, 'a', 'b')` (the root, then string literals), else undefined. */
function rootKeys(args: Node[]): string[] | undefined {
  const [root, ...rest] = args;
  if (root?.type !== 'variable' || root.value !== '$' || !onlyKeys(root, PLAIN_STEP_KEYS)) return undefined;
  if (!rest.every((a) => a.type === 'string' && onlyKeys(a, PLAIN_STEP_KEYS))) return undefined;
  return rest.map((a) => String(a.value));
}

/**
 * `$__present(a, b, ...)`: every argument is evaluated, as JSONata would (one that needs JSONata
 * makes the whole call SLOW), and the answer is whether all are defined.
 */
function allPresent(fns: FastFn[]): FastFn {
  return (ctx) => {
    let all = true;
    for (let i = 0; i < fns.length; i++) {
      const v = fns[i]!(ctx);
      if (v === SLOW) return SLOW;
      if (v === undefined) all = false;
    }
    return all;
  };
}

/**
 * A helper called with its arguments' values: direct calls for the usual arities, so the strict
 * rewrite's calls on every path cost no argument array per message.
 */
function direct(helper: (...args: unknown[]) => unknown, fns: FastFn[]): FastFn {
  const [f0, f1, f2, f3] = fns;
  switch (fns.length) {
    case 0:
      return () => helper();
    case 1:
      return (ctx) => {
        const a = f0!(ctx);
        return a === SLOW ? SLOW : helper(a);
      };
    case 2:
      return (ctx) => {
        const a = f0!(ctx);
        if (a === SLOW) return SLOW;
        const b = f1!(ctx);
        return b === SLOW ? SLOW : helper(a, b);
      };
    case 3:
      return (ctx) => {
        const a = f0!(ctx);
        if (a === SLOW) return SLOW;
        const b = f1!(ctx);
        if (b === SLOW) return SLOW;
        const c = f2!(ctx);
        return c === SLOW ? SLOW : helper(a, b, c);
      };
    case 4:
      return (ctx) => {
        const a = f0!(ctx);
        if (a === SLOW) return SLOW;
        const b = f1!(ctx);
        if (b === SLOW) return SLOW;
        const c = f2!(ctx);
        if (c === SLOW) return SLOW;
        const d = f3!(ctx);
        return d === SLOW ? SLOW : helper(a, b, c, d);
      };
    default:
      return (ctx) => {
        const values: unknown[] = [];
        for (let i = 0; i < fns.length; i++) {
          const v = fns[i]!(ctx);
          if (v === SLOW) return SLOW;
          values.push(v);
        }
        return helper(...values);
      };
  }
}

/** JSONata's boolean cast for the values a fast path can see; arrays go to JSONata. */
function truthy(v: unknown): boolean | typeof SLOW {
  if (v === undefined || v === null) return false;
  if (Array.isArray(v)) return SLOW;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  if (typeof v === 'function') return SLOW;
  return Boolean(v);
}

function condition(n: Node): FastFn | undefined {
  const c = node(n.condition);
  const t = node(n.then);
  const e = n.else ? node(n.else) : () => undefined;
  if (!c || !t || !e) return undefined;
  return (ctx) => {
    const v = c(ctx);
    if (v === SLOW) return SLOW;
    const b = truthy(v);
    if (b === SLOW) return SLOW;
    return b ? t(ctx) : e(ctx);
  };
}

const ARITHMETIC: Record<string, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '%': (a, b) => a % b,
};

function binary(n: Node): FastFn | undefined {
  const l = node(n.lhs);
  const r = node(n.rhs);
  if (!l || !r) return undefined;
  const operator = String(n.value);
  if (operator === '&') return concat(l, r);
  if (operator === '=' || operator === '!=') return equality(l, r, operator === '!=');
  if (operator in RELATIONAL) return relational(l, r, RELATIONAL[operator]!);
  const op = ARITHMETIC[operator];
  if (!op) return undefined;
  return (ctx) => {
    const a = l(ctx);
    const b = r(ctx);
    if (a === SLOW || b === SLOW) return SLOW;
    // JSONata checks the operand types first (T2001/T2002 errors), then yields undefined.
    if ((a !== undefined && typeof a !== 'number') || (b !== undefined && typeof b !== 'number')) return SLOW;
    if (a === undefined || b === undefined) return undefined;
    const v = op(a as number, b as number);
    return Number.isFinite(v) ? v : SLOW; // JSONata raises D1001
  };
}

/** `a & b`: JSONata stringifies both sides; numbers only when String() writes them the same way. */
function concat(l: FastFn, r: FastFn): FastFn {
  const text = (v: unknown): string | typeof SLOW => {
    if (v === undefined) return '';
    if (typeof v === 'string') return v;
    if (typeof v === 'boolean' || v === null) return String(v);
    if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
    return SLOW;
  };
  return (ctx) => {
    const a = l(ctx);
    const b = a === SLOW ? SLOW : r(ctx);
    if (a === SLOW || b === SLOW) return SLOW;
    const ta = text(a);
    const tb = text(b);
    return ta === SLOW || tb === SLOW ? SLOW : ta + tb;
  };
}

const isPrimitive = (v: unknown) => v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** `=` / `!=`: false when either side is undefined; structures compare deeply in JSONata. */
function equality(l: FastFn, r: FastFn, negate: boolean): FastFn {
  return (ctx) => {
    const a = l(ctx);
    const b = a === SLOW ? SLOW : r(ctx);
    if (a === SLOW || b === SLOW) return SLOW;
    if (a === undefined || b === undefined) return false;
    if (!isPrimitive(a) || !isPrimitive(b)) return SLOW;
    return negate ? a !== b : a === b;
  };
}

const RELATIONAL: Record<string, (a: number | string, b: number | string) => boolean> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

/** Ordering: undefined when a side is missing; numbers with numbers, strings with strings. */
function relational(l: FastFn, r: FastFn, op: (a: number | string, b: number | string) => boolean): FastFn {
  return (ctx) => {
    const a = l(ctx);
    const b = a === SLOW ? SLOW : r(ctx);
    if (a === SLOW || b === SLOW) return SLOW;
    if (a === undefined || b === undefined) return undefined;
    if ((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string')) return op(a, b);
    return SLOW; // JSONata raises T2009/T2010
  };
}

/** `$min([a, b])`, `$max(...)`, `$sum(...)` over a literal list of numbers. */
function aggregate(name: string, n: Node): FastFn | undefined {
  const list = n.arguments?.length === 1 ? n.arguments[0] : undefined;
  if (!list || list.type !== 'unary' || list.value !== '[' || !onlyKeys(list, new Set(['type', 'value', 'position', 'expressions'])))
    return undefined;
  const items = (list.expressions ?? []).map(node);
  if (items.some((f) => !f)) return undefined;
  const fns = items as FastFn[];
  return (ctx) => {
    const values: number[] = [];
    for (const f of fns) {
      const v = f(ctx);
      if (v === undefined) continue; // JSONata drops undefined from array constructors
      if (typeof v !== 'number') return SLOW;
      values.push(v);
    }
    if (name === 'sum') return values.reduce((a, b) => a + b, 0);
    if (values.length === 0) return undefined;
    return name === 'max' ? Math.max(...values) : Math.min(...values);
  };
}

function negate(n: Node): FastFn | undefined {
  const e = node(n.expression);
  if (!e) return undefined;
  return (ctx) => {
    const v = e(ctx);
    if (v === SLOW || v === undefined) return v;
    return typeof v === 'number' ? -v : SLOW;
  };
}
