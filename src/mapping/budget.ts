/**
 * The budget of one JSONata evaluation: a mapping expression must never take the daemon down,
 * stall the other batteries or keep D-Bus waiting. JSONata calls back on every step (entry and
 * exit); what cannot be stopped between steps is bounded before it starts or run interruptibly.
 *
 * - Time: each evaluation may run EXPRESSION_TIME_LIMIT_MS of its own time. Past LIMITS.sliceMs it
 *   yields to the event loop between steps (setImmediate), so other batteries, MQTT and D-Bus
 *   replies wait at most one slice — or one interruptible call, which gets only the time left.
 * - Depth: at most LIMITS.depth nested evaluation levels (non-tail recursion).
 * - Values: from the 16th step on, every step's result is measured on exit (strings by length;
 *   arrays and objects by their size written out, shared parts counted each time they occur, so
 *   a structure doubled by sharing is as large as its JSON): above the limits the evaluation
 *   fails before anything expands it in one step ($string, flattening, `**`). JSONata's own
 *   `sequence` limit stops `..` ranges and $append before they allocate.
 * - Memory: every 16 steps the heap is sampled; an evaluation whose heap use grew by more than
 *   LIMITS.heapGrowth is stopped (this catches what builds up over many steps of legal size).
 * - One-step amplifiers among the built-ins are checked before they run: `$pad` (width),
 *   `$join` and `$replace` (the length they can produce), `$sort` (JSONata's merge sort copies
 *   quadratically), `$distinct` (quadratic compares, run interruptibly) and `$toMillis` with a
 *   picture (its generated regex runs interruptibly).
 * - Regular expressions run through BudgetRegExp (JSONata's RegexEngine option): a pattern whose
 *   worst case for the string at hand is provably small runs natively; any other runs under a
 *   vm timeout of the time left, which interrupts V8's backtracking. At compile time the
 *   classic exponential shapes — a repeated part that can itself match the same text in several
 *   ways, `(a+)+`, `(\w+\s?)*`, `(\d|\w)+` — are refused with the file and line.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import jsonata from 'jsonata';

/** How long one JSONata evaluation may run (its own running time, not counting yields). */
export const EXPRESSION_TIME_LIMIT_MS = 100;

export interface BudgetLimits {
  /** Milliseconds of running time per evaluation. */
  timeMs: number;
  /** Milliseconds an evaluation runs before it lets the event loop in. */
  sliceMs: number;
  /** Nested evaluation levels (JSONata's depth counter). */
  depth: number;
  /** Characters in one string a step produces, or a regex runs on. */
  stringLength: number;
  /** Items in one array or sequence. */
  items: number;
  /** Size of one value written out: characters of strings and keys plus one per item. */
  valueSize: number;
  /** Items `$sort` and `$distinct` accept. */
  sortItems: number;
  /** Growth of the heap during one evaluation, bytes. */
  heapGrowth: number;
  /** Worst-case backtracking work under which a regex runs natively (else interruptibly). */
  nativeRegexWork: number;
}

const heapLimit = v8.getHeapStatistics().heap_size_limit;

const DEFAULT_LIMITS: BudgetLimits = {
  timeMs: EXPRESSION_TIME_LIMIT_MS,
  sliceMs: 10,
  depth: 1000,
  stringLength: 1 << 20,
  items: 10_000,
  valueSize: 1 << 20,
  sortItems: 1000,
  // An eighth of the heap, 8–64 MiB: 12 MiB with the 96 MB old space vbat gets on a GX device.
  heapGrowth: Math.min(64 << 20, Math.max(8 << 20, Math.floor(heapLimit / 8))),
  nativeRegexWork: 1_000_000,
};

/** The limits in force (read on every use, so tests can lower them with setBudgetLimits). */
export const LIMITS: Readonly<BudgetLimits> = { ...DEFAULT_LIMITS };

/** Change limits (tests); returns a function restoring the previous ones. */
export function setBudgetLimits(change: Partial<BudgetLimits>): () => void {
  const before = { ...LIMITS };
  Object.assign(LIMITS, change);
  return () => Object.assign(LIMITS, before);
}

/** An evaluation stopped by its budget. The message is the problem text a path gets. */
export class BudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BudgetError';
  }
}

const fmt = (n: number) => n.toLocaleString('en-US');
const mb = (bytes: number) => `${Math.round(bytes / (1 << 20))} MB`;

// ---------------------------------------------------------------------------------------------
// The clock of one evaluation, kept on JSONata's per-evaluation environment (environment.base).

export interface Clock {
  /** Milliseconds of running time charged to this evaluation. */
  used: number;
  /** When its current slice began (first step after the start or a pause). */
  sliceStart: number;
  steps: number;
  /** Heap used at the start of the current slice (-1: not read yet), and growth before it. */
  heapStart: number;
  heapGrown: number;
  /** When the heap was last read (ms). */
  heapReadAt: number;
  /** Sizes of the arrays and objects seen in this evaluation. */
  sizes?: WeakMap<object, number>;
}

interface JsonataEnv {
  base: { depth: number; options?: object; RegexEngine?: unknown; [CLOCK]?: Clock; bind(name: symbol, value: unknown): void };
}

const CLOCK = Symbol('vbat.budget.clock');
const ENTRY = Symbol.for('jsonata.__evaluate_entry');
const EXIT = Symbol.for('jsonata.__evaluate_exit');
const heapUsed = () => v8.getHeapStatistics().used_heap_size;

/**
 * Time is charged to the evaluation whose step runs: from one step's entry to the next entry,
 * whichever evaluation that is. Evaluations interleaved on the microtask queue are each charged
 * their own steps; a pause (and the end of an evaluation) stops the charging.
 */
let running: Clock | undefined;
let runningSince = 0;

function charge(now: number): void {
  if (running) running.used += now - runningSince;
  running = undefined;
}

/** From now on the time is `c`'s (a regex or built-in about to run for it). */
function claim(c: Clock | undefined, now: number): void {
  if (!c || running === c) return;
  charge(now);
  running = c;
  runningSince = now;
}

let sequenceOptions = { RegexEngine: undefined as unknown, sequence: 0 };

function newClock(base: JsonataEnv['base'], now: number, regexes: boolean): Clock {
  // JSONata's `sequence` option, seen only where it is read from the evaluation's environment:
  // `..` ranges and $append check their size before allocating. Passed to jsonata() it would
  // also wrap the push of every sequence (a closure per sequence, a slow push), which made a
  // JSONata-heavy mapping about a third slower.
  if (sequenceOptions.sequence !== LIMITS.items) sequenceOptions = { RegexEngine: BudgetRegExp, sequence: LIMITS.items };
  base.options = sequenceOptions;
  const c: Clock = { used: 0, sliceStart: now, steps: 0, heapStart: -1, heapGrown: 0, heapReadAt: -1 };
  // JSONata constructs `new base.RegexEngine(regex)`: this one hands the regex this clock.
  if (regexes) {
    base.RegexEngine = function (pattern: RegExp) {
      return new BudgetRegExp(pattern, c);
    };
  }
  return c;
}

/** The clock of the evaluation a registered function is called in (its `this` is the focus). */
function clockOf(focus: unknown): Clock | undefined {
  return (focus as { environment?: JsonataEnv } | undefined)?.environment?.base?.[CLOCK];
}

function elapsed(c: Clock, now = Date.now()): number {
  return c.used + (running === c ? now - runningSince : 0);
}

/** Milliseconds an evaluation has left (the whole budget without one). */
export function remainingMs(c: Clock | undefined): number {
  return c ? LIMITS.timeMs - elapsed(c) : LIMITS.timeMs;
}

function timeUp(): BudgetError {
  return new BudgetError(`expression ran longer than ${LIMITS.timeMs} ms`);
}

/** JSONata's `__evaluate_entry` callback: time, depth and heap, and the yield between slices. */
export function entryGuard(_expr: unknown, _input: unknown, env: JsonataEnv): Promise<void> | undefined {
  return guardStep(env, false);
}

/** The same, for an expression that can run regexes: they get the evaluation's clock. */
export function regexEntryGuard(_expr: unknown, _input: unknown, env: JsonataEnv): Promise<void> | undefined {
  return guardStep(env, true);
}

function guardStep(env: JsonataEnv, regexes: boolean): Promise<void> | undefined {
  const now = Date.now();
  const base = env.base;
  const c = (base[CLOCK] ??= newClock(base, now, regexes));
  if (running) running.used += now - runningSince;
  running = c;
  runningSince = now;
  if (c.used > LIMITS.timeMs) throw timeUp();
  if (base.depth > LIMITS.depth) throw new BudgetError(`expression nested deeper than ${fmt(LIMITS.depth)} levels (runaway recursion?)`);
  if ((++c.steps & 15) === 0) {
    // The heap is read every 16 steps, at most once a millisecond (a read costs a quarter of a
    // microsecond): first at the 16th step, for what so few steps allocate is bounded by the sizes.
    if (now !== c.heapReadAt) {
      c.heapReadAt = now;
      const used = heapUsed();
      if (c.heapStart < 0) c.heapStart = used;
      if (c.heapGrown + used - c.heapStart > LIMITS.heapGrowth)
        throw new BudgetError(`expression used more than ${mb(LIMITS.heapGrowth)} of memory`);
    }
    // Values are measured from the 16th step on: JSONata awaits the exit callback, a microtask
    // per step, and most mapping expressions are done in fewer steps. Before that nothing large
    // can exist: a step at most about doubles what earlier steps made (`&`, constructors), and
    // the built-ins that make much more in one step are checked before they run.
    if (c.steps === 16) base.bind(EXIT, exitGuard);
  }
  if (now - c.sliceStart >= LIMITS.sliceMs) return pause(c, now);
  return undefined;
}

/** Let the event loop run (other batteries, D-Bus); the pause does not count as running time. */
async function pause(c: Clock, now: number): Promise<void> {
  charge(now);
  if (c.heapStart >= 0) c.heapGrown += heapUsed() - c.heapStart;
  await new Promise<void>((resolve) => setImmediate(resolve));
  c.sliceStart = Date.now();
  if (c.heapStart >= 0) c.heapStart = heapUsed();
}

/** JSONata's `__evaluate_exit` callback: the size of what the step produced. */
export function exitGuard(_expr: unknown, _input: unknown, env: JsonataEnv, result: unknown): void {
  if (typeof result === 'string') {
    if (result.length > LIMITS.stringLength) throw tooLong(result.length);
  } else if (typeof result === 'object' && result !== null) {
    const c = (env.base[CLOCK] ??= newClock(env.base, Date.now(), true));
    sizeOf(result, (c.sizes ??= new WeakMap()));
  }
}

function tooLong(length: number): BudgetError {
  return new BudgetError(`expression made a string of ${fmt(length)} characters (at most ${fmt(LIMITS.stringLength)})`);
}

/** Size of a value written out; throws past the limits. Functions and lambdas count 1. */
function sizeOf(v: object, memo: WeakMap<object, number>): number {
  const known = memo.get(v);
  if (known !== undefined) return known;
  const o = v as Record<string, unknown>;
  if (o._jsonata_lambda || o._jsonata_function) return 1;
  let total = 1;
  const add = (x: unknown) => {
    if (typeof x === 'string') {
      if (x.length > LIMITS.stringLength) throw tooLong(x.length);
      total += x.length;
    } else if (typeof x === 'object' && x !== null) total += sizeOf(x, memo);
    else total += 1;
    if (total > LIMITS.valueSize)
      throw new BudgetError(`expression made a value of more than ${fmt(LIMITS.valueSize)} characters written out`);
  };
  if (Array.isArray(v)) {
    if (v.length > LIMITS.items) throw new BudgetError(`expression made an array of ${fmt(v.length)} items (at most ${fmt(LIMITS.items)})`);
    for (let i = 0; i < v.length; i++) add(v[i]);
  } else {
    for (const k of Object.keys(o)) {
      total += k.length;
      add(o[k]);
    }
  }
  memo.set(v, total);
  return total;
}

// ---------------------------------------------------------------------------------------------
// Interruptible calls: V8 stops a script under a vm timeout even inside a regex backtrack.

const sandbox = vm.createContext(Object.create(null) as object);
const runScript = new vm.Script('run()');

/** Run `fn` with at most the time evaluation `c` has left; `what` names it in the problem. */
export function interruptible<T>(c: Clock | undefined, fn: () => T, what: string): T {
  claim(c, Date.now());
  const left = remainingMs(c);
  if (left <= 0) throw timeUp();
  (sandbox as { run?: () => T }).run = fn;
  try {
    return runScript.runInContext(sandbox, { timeout: Math.max(1, Math.ceil(left)) }) as T;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
      throw new BudgetError(`${what} ran longer than the expression's ${LIMITS.timeMs} ms`);
    }
    throw err;
  } finally {
    (sandbox as { run?: () => T }).run = undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Regular expressions: a small parser of JS regex syntax (non-unicode, as JSONata compiles
// them), enough to find quantifiers, alternations, groups, lookarounds and backreferences.

type RNode =
  | { t: 'char'; src: string }
  | { t: 'assert' }
  | { t: 'seq'; items: RNode[] }
  | { t: 'alt'; branches: RNode[] }
  | { t: 'group'; body: RNode }
  | { t: 'look'; body: RNode }
  | { t: 'backref' }
  | { t: 'quant'; body: RNode; min: number; max: number; src: string };

class Unparsed extends Error {}

export function parseRegex(src: string): RNode {
  let i = 0;
  const n = src.length;
  const fail = (): never => {
    throw new Unparsed(src);
  };

  const alt = (): RNode => {
    const branches = [seq()];
    while (src[i] === '|') {
      i++;
      branches.push(seq());
    }
    return branches.length === 1 ? branches[0]! : { t: 'alt', branches };
  };
  const seq = (): RNode => {
    const items: RNode[] = [];
    while (i < n && src[i] !== '|' && src[i] !== ')') {
      const start = i;
      items.push(quantified(atom(), start));
    }
    return { t: 'seq', items };
  };
  const quantifier = /\{(\d+)(,(\d*))?\}/y;
  const quantified = (a: RNode, start: number): RNode => {
    let min: number;
    let max: number;
    const c = src[i];
    if (c === '*') [min, max, i] = [0, Infinity, i + 1];
    else if (c === '+') [min, max, i] = [1, Infinity, i + 1];
    else if (c === '?') [min, max, i] = [0, 1, i + 1];
    else if (c === '{') {
      quantifier.lastIndex = i;
      const m = quantifier.exec(src);
      if (!m) return a;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      i += m[0].length;
    } else return a;
    if (src[i] === '?') i++; // lazy
    return { t: 'quant', body: a, min, max, src: src.slice(start, i) };
  };
  const atom = (): RNode => {
    const start = i;
    const c = src[i]!;
    if (c === '(') {
      i++;
      let look = false;
      if (src.startsWith('?:', i)) i += 2;
      else if (src.startsWith('?=', i) || src.startsWith('?!', i)) [i, look] = [i + 2, true];
      else if (src.startsWith('?<=', i) || src.startsWith('?<!', i)) [i, look] = [i + 3, true];
      else if (src.startsWith('?<', i)) {
        const end = src.indexOf('>', i);
        if (end < 0) fail();
        i = end + 1;
      } else if (src[i] === '?') fail();
      const body = alt();
      if (src[i] !== ')') fail();
      i++;
      return look ? { t: 'look', body } : { t: 'group', body };
    }
    if (c === '[') {
      i++;
      if (src[i] === '^') i++;
      while (i < n && src[i] !== ']') i += src[i] === '\\' ? 2 : 1;
      if (i >= n) fail();
      i++;
      return { t: 'char', src: src.slice(start, i) };
    }
    if (c === '^' || c === '$') {
      i++;
      return { t: 'assert' };
    }
    if (c === '*' || c === '+' || c === '?') fail();
    if (c === '{' && quantifierAt(i)) fail();
    if (c !== '\\') {
      i++;
      return { t: 'char', src: c };
    }
    const e = src[i + 1];
    if (e === undefined) fail();
    if (e === 'b' || e === 'B') {
      i += 2;
      return { t: 'assert' };
    }
    if (/[1-9]/.test(e!)) {
      i += 2;
      while (/[0-9]/.test(src[i] ?? '')) i++;
      return { t: 'backref' }; // or a legacy octal escape: treated as the costlier case
    }
    if (e === 'k') {
      i += 2;
      if (src[i] === '<') {
        const end = src.indexOf('>', i);
        if (end > 0) i = end + 1;
      }
      return { t: 'backref' };
    }
    if (e === 'c' && /[A-Za-z]/.test(src[i + 2] ?? '')) i += 3;
    else if (e === 'x' && /^[0-9a-fA-F]{2}/.test(src.slice(i + 2, i + 4))) i += 4;
    else if (e === 'u' && /^[0-9a-fA-F]{4}/.test(src.slice(i + 2, i + 6))) i += 6;
    else if (e === '0') {
      i += 2;
      while (i - start < 4 && /[0-7]/.test(src[i] ?? '')) i++;
    } else i += 2;
    return { t: 'char', src: src.slice(start, i) };
  };
  const quantifierAt = (at: number) => {
    quantifier.lastIndex = at;
    return quantifier.test(src);
  };

  const root = alt();
  if (i !== n) fail();
  return root;
}

const unwrap = (r: RNode): RNode => {
  while (r.t === 'group' || (r.t === 'seq' && r.items.length === 1)) r = r.t === 'group' ? r.body : r.items[0]!;
  return r;
};

function nullable(r: RNode): boolean {
  switch (r.t) {
    case 'char':
      return false;
    case 'seq':
      return r.items.every(nullable);
    case 'alt':
      return r.branches.some(nullable);
    case 'group':
      return nullable(r.body);
    case 'quant':
      return r.min === 0 || nullable(r.body);
    default:
      return true; // assertions, lookarounds, backreferences can match the empty string
  }
}

/** Characters to tell single-character atoms apart by (ASCII and a few others). */
const SAMPLE = [...Array.from({ length: 128 }, (_, k) => k), 0xa0, 0xb5, 0xe9, 0x130, 0x17f, 0x2028, 0x212a, 0x3000, 0xd83d, 0xfeff].map(
  (k) => String.fromCharCode(k),
);

function sampleSet(atom: string, flags: string): Set<string> | undefined {
  try {
    const re = new RegExp(`^(?:${atom})$`, flags.replace(/[gy]/g, ''));
    return new Set(SAMPLE.filter((ch) => re.test(ch)));
  } catch {
    return undefined;
  }
}

/**
 * Why a repeated part of a regex can match the same text in several ways (so that a failing
 * match backtracks exponentially), or undefined. Sufficient conditions, not a full analysis:
 * the runtime budget covers whatever this misses.
 */
function ambiguousLoop(body: RNode, flags: string): string | undefined {
  const b = unwrap(body);
  if (b.t === 'quant') {
    if (b.max > 1 && b.max > b.min && !nullableOnly(b.body)) return `it repeats ${b.src}, which itself repeats`;
    return ambiguousLoop(b.body, flags);
  }
  if (b.t === 'alt') {
    for (const br of b.branches) {
      const why = ambiguousLoop(br, flags);
      if (why) return why;
    }
    const singles = b.branches.map(unwrap).filter((x): x is { t: 'char'; src: string } => x.t === 'char');
    for (let x = 0; x < singles.length; x++) {
      for (let y = x + 1; y < singles.length; y++) {
        const a = sampleSet(singles[x]!.src, flags);
        const c = sampleSet(singles[y]!.src, flags);
        if (a && c && [...a].some((ch) => c.has(ch)))
          return `its alternatives ${singles[x]!.src} and ${singles[y]!.src} match the same characters`;
      }
    }
    return undefined;
  }
  if (b.t === 'seq') {
    // Two neighbouring repeats of overlapping characters (`\d+\d*`) split a run in many ways;
    // the last part of one round and the first of the next are neighbours too (`(\s*,\s*)*`).
    const n = b.items.length;
    for (let k = 0; k < n; k++) {
      const x = unwrap(b.items[k]!);
      const y = unwrap(b.items[(k + 1) % n]!);
      if (x.t !== 'quant' || y.t !== 'quant' || x.max === x.min || y.max === y.min) continue;
      const xs = unwrap(x.body);
      const ys = unwrap(y.body);
      if (xs.t !== 'char' || ys.t !== 'char') continue;
      const a = sampleSet(xs.src, flags);
      const c = sampleSet(ys.src, flags);
      if (a && c && [...a].some((ch) => c.has(ch))) return `${x.src} and ${y.src} can split the same characters in many ways`;
    }
    // The body is as ambiguous as its one part that must match something, when the rest may be empty.
    for (let k = 0; k < b.items.length; k++) {
      if (!b.items.every((other, j) => j === k || nullable(other))) continue;
      const why = ambiguousLoop(b.items[k]!, flags);
      if (why) return why;
    }
  }
  return undefined;
}

/** Matches nothing but the empty string (a repeat of it cannot split text two ways). */
function nullableOnly(r: RNode): boolean {
  switch (r.t) {
    case 'char':
      return false;
    case 'seq':
      return r.items.every(nullableOnly);
    case 'alt':
      return r.branches.every(nullableOnly);
    case 'group':
      return nullableOnly(r.body);
    case 'quant':
      return r.max === 0 || nullableOnly(r.body);
    default:
      return true;
  }
}

/** Why a regex is refused (exponential backtracking), or undefined. */
export function regexRefusal(source: string, flags = ''): string | undefined {
  let root: RNode;
  try {
    root = parseRegex(source);
  } catch {
    return undefined; // unusual syntax: it runs interruptibly
  }
  let why: string | undefined;
  const visit = (r: RNode): void => {
    if (why) return;
    switch (r.t) {
      case 'quant':
        if (r.max > 1) {
          const reason = ambiguousLoop(r.body, flags);
          if (reason) return void (why = `${r.src} can backtrack exponentially: ${reason}`);
        }
        return visit(r.body);
      case 'seq':
        return r.items.forEach(visit);
      case 'alt':
        return r.branches.forEach(visit);
      case 'group':
      case 'look':
        return visit(r.body);
      default:
        return;
    }
  };
  visit(root);
  return why;
}

/** Compile-time problems: every regex literal of an expression's AST that is refused. */
export function regexProblems(ast: unknown): string[] {
  const out: string[] = [];
  const seen = new Set<unknown>();
  const walk = (node: unknown): void => {
    if (!node || typeof node !== 'object' || seen.has(node)) return;
    seen.add(node);
    if (node instanceof RegExp) return;
    const n = node as { type?: string; value?: unknown };
    if (n.type === 'regex' && n.value instanceof RegExp) {
      const why = regexRefusal(n.value.source, n.value.flags);
      if (why)
        out.push(`regex /${n.value.source}/ refused: ${why}; rewrite it so that each repeated part can match a given text in only one way`);
      return;
    }
    for (const v of Object.values(node)) walk(v);
  };
  walk(ast);
  return out;
}

/**
 * Worst-case backtracking work as a function of the input length n, for patterns whose
 * unbounded repeats are all single characters and that have no lookarounds or backreferences:
 * from each start, at most P·(n+1)^k paths, each at most `len` characters (all of n when k > 0).
 */
interface Cost {
  P: number;
  k: number;
  len: number;
  nodes: number;
}

function costOf(r: RNode): Cost | undefined {
  switch (r.t) {
    case 'char':
      return { P: 1, k: 0, len: 1, nodes: 1 };
    case 'assert':
      return { P: 1, k: 0, len: 0, nodes: 1 };
    case 'group':
      return costOf(r.body);
    case 'seq': {
      let c: Cost = { P: 1, k: 0, len: 0, nodes: 1 };
      for (const item of r.items) {
        const d = costOf(item);
        if (!d) return undefined;
        c = { P: c.P * d.P, k: c.k + d.k, len: c.len + d.len, nodes: c.nodes + d.nodes };
      }
      return c.P > 1e12 ? undefined : c;
    }
    case 'alt': {
      let c: Cost = { P: 0, k: 0, len: 0, nodes: 1 };
      for (const br of r.branches) {
        const d = costOf(br);
        if (!d) return undefined;
        c = { P: c.P + d.P, k: Math.max(c.k, d.k), len: Math.max(c.len, d.len), nodes: c.nodes + d.nodes };
      }
      return c;
    }
    case 'quant': {
      const body = costOf(r.body);
      if (!body) return undefined;
      if (r.max === Infinity) {
        // A single character repeated: n+1 ways to stop, whatever the rest does.
        return body.P === 1 && body.k === 0 && body.len === 1 ? { P: 1, k: 1, len: Infinity, nodes: body.nodes + 1 } : undefined;
      }
      const P = (r.max - r.min + 1) * Math.max(1, body.P) ** r.max;
      return P > 1e12 ? undefined : { P, k: body.k * r.max, len: body.len * r.max, nodes: body.nodes * Math.max(1, r.max) + 1 };
    }
    default:
      return undefined; // lookarounds, backreferences
  }
}

interface RegexPlan {
  /** One native RegExp per pattern: exec is synchronous and lastIndex is set before each. */
  re: RegExp;
  /** Worst-case work on a string of length n; undefined: always interruptible. */
  work?: (n: number) => number;
}

const plans = new Map<string, RegexPlan>();

function planOf(re: RegExp): RegexPlan {
  const key = `${re.flags}/${re.source}`;
  let plan = plans.get(key);
  if (!plan) {
    let cost: Cost | undefined;
    try {
      cost = costOf(parseRegex(re.source));
    } catch {
      cost = undefined;
    }
    const native = new RegExp(re.source, re.flags);
    plan = cost ? { re: native, work: (n) => (n + 1) * cost.P * (n + 1) ** cost.k * (Math.min(cost.len, n) + cost.nodes) } : { re: native };
    if (plans.size > 1000) plans.clear();
    plans.set(key, plan);
  }
  return plan;
}

/**
 * JSONata's RegexEngine: constructed with the regex literal's RegExp on every evaluation of it;
 * JSONata then sets lastIndex and calls exec, as on a global RegExp.
 */
export class BudgetRegExp {
  lastIndex = 0;
  private readonly plan: RegexPlan;

  /** `clock`: the evaluation's (see newClock); without one, a whole budget per exec. */
  constructor(
    pattern: RegExp,
    private readonly clock?: Clock,
  ) {
    this.plan = planOf(pattern);
  }

  get source(): string {
    return this.plan.re.source;
  }

  get flags(): string {
    return this.plan.re.flags;
  }

  exec(str: string): RegExpExecArray | null {
    const re = this.plan.re;
    if (str.length > LIMITS.stringLength)
      throw new BudgetError(`regex /${re.source}/ refused a string of ${fmt(str.length)} characters (at most ${fmt(LIMITS.stringLength)})`);
    claim(this.clock, Date.now());
    if (remainingMs(this.clock) <= 0) throw timeUp();
    re.lastIndex = this.lastIndex;
    const work = this.plan.work?.(str.length - Math.min(this.lastIndex, str.length));
    const m =
      work !== undefined && work <= LIMITS.nativeRegexWork
        ? re.exec(str)
        : interruptible(this.clock, () => re.exec(str), `regex /${re.source}/`);
    this.lastIndex = re.lastIndex;
    return m;
  }
}

// ---------------------------------------------------------------------------------------------
// Built-ins that can blow up in one step, checked before they run.

interface JsonataFunction {
  implementation: (this: unknown, ...args: unknown[]) => unknown;
}

const builtins = new Map<string, Promise<JsonataFunction>>();

/** JSONata's own implementation of a built-in (from an expression without our wrappers). */
function builtin(name: string): Promise<JsonataFunction> {
  let f = builtins.get(name);
  if (!f) {
    f = jsonata(`$${name}`).evaluate({}) as Promise<JsonataFunction>;
    builtins.set(name, f);
  }
  return f;
}

type Wrapper = (this: unknown, ...args: unknown[]) => Promise<unknown>;

const length = (s: unknown) => (typeof s === 'string' ? s.length : 0);

function over(what: string, size: number, limit: number): BudgetError {
  return new BudgetError(`${what}: ${fmt(size)} is above the limit of ${fmt(limit)}`);
}

/** Name, JSONata signature (as the built-in's) and the checking wrapper. */
export const GUARDED_BUILTINS: [string, string, Wrapper][] = [
  [
    'pad',
    '<s-ns?:s>',
    async function (this: unknown, str, width, char) {
      if (typeof width === 'number' && Number.isFinite(width)) {
        const size = Math.abs(Math.trunc(width)) * Math.max(1, length(char));
        if (size > LIMITS.stringLength) throw over('$pad width', size, LIMITS.stringLength);
      }
      return (await builtin('pad')).implementation.call(this, str, width, char);
    },
  ],
  [
    'join',
    '<a<s>s?:s>',
    async function (this: unknown, strs, separator) {
      if (Array.isArray(strs)) {
        let size = Math.max(0, strs.length - 1) * length(separator);
        for (const s of strs) size += length(s);
        if (size > LIMITS.stringLength) throw over('$join result length', size, LIMITS.stringLength);
      }
      return (await builtin('join')).implementation.call(this, strs, separator);
    },
  ],
  [
    'replace',
    '<s-(sf)(sf)n?:s>',
    async function (this: unknown, str, pattern, replacement, limit) {
      if (typeof str === 'string' && typeof replacement === 'string') {
        let matches = typeof pattern === 'string' && pattern.length > 0 ? Math.floor(str.length / pattern.length) + 1 : str.length + 1;
        if (typeof limit === 'number' && limit >= 0) matches = Math.min(matches, limit);
        const dollars = replacement.split('$').length - 1;
        const size = str.length + matches * replacement.length + dollars * str.length;
        if (size > LIMITS.stringLength) throw over('$replace result length (worst case)', size, LIMITS.stringLength);
      }
      return (await builtin('replace')).implementation.call(this, str, pattern, replacement, limit);
    },
  ],
  [
    'sort',
    '<af?:a>',
    async function (this: unknown, arr, comparator) {
      if (Array.isArray(arr) && arr.length > LIMITS.sortItems) throw over('$sort items', arr.length, LIMITS.sortItems);
      return (await builtin('sort')).implementation.call(this, arr, comparator);
    },
  ],
  [
    'distinct',
    '<x:x>',
    async function (this: unknown, arr) {
      if (Array.isArray(arr) && arr.length > LIMITS.sortItems) throw over('$distinct items', arr.length, LIMITS.sortItems);
      const f = await builtin('distinct');
      return Array.isArray(arr) && arr.length > 1
        ? interruptible(clockOf(this), () => f.implementation.call(this, arr), '$distinct')
        : f.implementation.call(this, arr);
    },
  ],
  [
    'toMillis',
    '<s-s?:n>',
    async function (this: unknown, timestamp, picture) {
      const f = await builtin('toMillis');
      return picture === undefined
        ? f.implementation.call(this, timestamp)
        : interruptible(clockOf(this), () => f.implementation.call(this, timestamp, picture), '$toMillis');
    },
  ],
];

/** Options for jsonata(): the regex engine above (the sequence cap is set per evaluation). */
export function budgetOptions(): jsonata.JsonataOptions {
  return { RegexEngine: BudgetRegExp as unknown as RegExpConstructor };
}

/** Put an expression (created with budgetOptions()) under the budget. */
export function installBudget(expr: jsonata.Expression): void {
  for (const [name, signature, fn] of GUARDED_BUILTINS) expr.registerFunction(name, fn, signature);
  expr.assign(ENTRY as unknown as string, mayRunRegexes(expr.ast()) ? regexEntryGuard : entryGuard);
  const evaluate = expr.evaluate.bind(expr) as (input: unknown, bindings?: Record<string, unknown>) => Promise<unknown>;
  expr.evaluate = (async (input: unknown, bindings?: Record<string, unknown>) => {
    try {
      return await evaluate(input, bindings);
    } catch (err) {
      throw budgetText(err);
    } finally {
      charge(Date.now());
    }
  }) as jsonata.Expression['evaluate'];
}

/** Whether an AST holds a regex literal or a call of $eval (whose text may hold one). */
function mayRunRegexes(ast: unknown): boolean {
  const seen = new Set<unknown>();
  const walk = (node: unknown): boolean => {
    if (!node || typeof node !== 'object' || seen.has(node) || node instanceof RegExp) return false;
    seen.add(node);
    const n = node as { type?: string; value?: unknown };
    if (n.type === 'regex' || (n.type === 'variable' && n.value === 'eval')) return true;
    return Object.values(node).some(walk);
  };
  return walk(ast);
}

/** JSONata's own limit errors in the budget's words (its D2015 text can name the wrong number). */
function budgetText(err: unknown): unknown {
  const code = (err as { code?: string }).code;
  if (code === 'D2014' || code === 'D2015') {
    const size = Number((err as { value?: unknown }).value);
    const made = Number.isFinite(size) && size > LIMITS.items ? `of ${fmt(size)} items` : 'of more items';
    return new BudgetError(`expression made a sequence or range ${made} than allowed (at most ${fmt(LIMITS.items)})`);
  }
  return err;
}
