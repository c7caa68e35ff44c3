/**
 * Evaluates a compiled mapping on input documents, one Evaluator per battery (it remembers the
 * last good values, when derived values were last recomputed, and texts to reuse). A failing
 * expression makes only its own path invalid; a message that leaves a required path invalid is
 * rejected whole and the previous state stays.
 */
import { coerce, coercedNumber } from '../venus/coerce.js';
import type { PathValue } from '../venus/types.js';
import { INVALID_TEXT } from '../venus/types.js';
import { type CompiledExpr, type CompiledMapping, type CompiledPath } from './compile.js';
import { SLOW, type FastContext } from './fast.js';
import { resetHelperMemo } from './helpers.js';
import { PathMemo } from './memo.js';

/** Where a path's value came from in one evaluation. */
export const enum Origin {
  None = 0,
  /** From the path's `value` expressions. */
  Value = 1,
  /** From its `fallback` expressions: a derived value. */
  Derived = 2,
  Default = 3,
  /** A derived value kept from an earlier message because its interval has not passed. */
  Held = 4,
}

export interface Evaluation {
  values: PathValue[];
  texts: string[];
  origins: Uint8Array;
  /** Per path: why it is invalid or was refused (wrong type, out of range, failing expression). */
  problems: (string | undefined)[];
  problemCount: number;
  /** Indexes whose value or text differ from the evaluator's previous accepted state. */
  changed: number[];
  /** Required paths left invalid; non-empty means the message was rejected. */
  missingRequired: string[];
}

export class Evaluator {
  /** Last accepted state. */
  readonly values: PathValue[];
  readonly texts: string[];
  private readonly derivedAt: number[];
  private readonly vars: Record<string, unknown>;
  private readonly bindings: Record<string, unknown>;
  private current: PathValue[] = [];
  /** Per path: its last result and what it read, where that is known exactly (see memo.ts). */
  private readonly memos: (PathMemo | undefined)[];

  /** `reuse` false: recompute every path every time (the reference the memo is tested against). */
  constructor(
    readonly mapping: CompiledMapping,
    variables: Record<string, unknown> = {},
    reuse = true,
  ) {
    const n = mapping.paths.length;
    this.values = new Array<PathValue>(n).fill(null);
    this.texts = new Array<string>(n).fill(INVALID_TEXT);
    this.derivedAt = new Array<number>(n).fill(-Infinity);
    this.vars = { ...mapping.variables, ...variables };
    this.memos = mapping.paths.map((p) => (reuse ? PathMemo.for(p, mapping) : undefined));
    const pathFn = (p: string) => this.readPath(p);
    this.bindings = { ...this.vars, path: pathFn };
  }

  /** Forget the accepted state (the battery went stale and D-Bus shows everything invalid). */
  reset(): void {
    this.values.fill(null);
    this.texts.fill(INVALID_TEXT);
    this.derivedAt.fill(-Infinity);
    for (const m of this.memos) m?.forget();
  }

  private readPath(p: string): unknown {
    const target = this.mapping.byPath.get(p);
    if (!target) return undefined;
    const v = this.current[target.index];
    return v === null ? undefined : v;
  }

  /**
   * Evaluate one input document. `now` is in milliseconds (injectable for tests). With `latest`
   * (what the newest message alone delivered), a derived path's `value` reads only `latest`: as
   * in the seed driver, a derived field is recomputed whenever the newest message lacks it, so it
   * never lags behind the inputs it is derived from (a held Dc.Current beside a new Power).
   */
  /**
   * `changes`: the top-level keys of `doc` written since the previous evaluate() of this evaluator
   * (the input store keeps them; see LeafStore.changes); paths reading only other keys are reused
   * without reading `doc`. Undefined: compare every input.
   */
  async evaluate(doc: unknown, now = Date.now(), latest?: unknown, changes?: ReadonlySet<string>): Promise<Evaluation> {
    resetHelperMemo();
    const { paths, order } = this.mapping;
    const n = paths.length;
    const values: PathValue[] = new Array(n).fill(null);
    const texts: string[] = new Array(n);
    const origins = new Uint8Array(n);
    const problems: (string | undefined)[] = new Array(n);
    const derivedAt: [number, number][] = [];
    let problemCount = 0;
    this.current = values;
    const ctx: FastContext = { doc, vars: this.vars, path: (p) => this.readPath(p) };
    const latestCtx: FastContext = latest === undefined ? ctx : { ...ctx, doc: latest };

    for (let o = 0; o < order.length; o++) {
      const i = order[o]!;
      const p = paths[i]!;
      const memo = this.memos[i];
      if (memo !== undefined && ((changes !== undefined && memo.untouched(changes, values)) || memo.unchanged(doc, values))) {
        values[i] = memo.value;
        texts[i] = memo.text;
        origins[i] = memo.origin;
        if (memo.problem !== undefined) {
          problems[i] = memo.problem;
          problemCount++;
        }
        continue;
      }
      let raw: unknown;
      let origin = Origin.None;
      let problem: string | undefined;
      let viaJsonata = false;
      try {
        const derived = p.fallback.length > 0 && latest !== undefined;
        raw = derived ? this.first(p.value, latest, latestCtx) : this.first(p.value, doc, ctx);
        if (raw instanceof Promise) {
          viaJsonata = true;
          raw = await raw;
        }
        if (raw !== undefined) origin = Origin.Value;
        else if (p.fallback.length) {
          const interval = this.intervalOf(p);
          if (interval > 0 && now - this.derivedAt[i]! < interval * 1000 && this.values[i] !== null) {
            raw = this.values[i];
            origin = Origin.Held;
          } else {
            raw = this.first(p.fallback, doc, ctx);
            if (raw instanceof Promise) raw = await raw;
            if (raw !== undefined) {
              origin = Origin.Derived;
              if (interval > 0) derivedAt.push([i, now]);
            }
          }
        }
      } catch (err) {
        problem = `expression failed: ${errorText(err)}`;
        raw = undefined;
      }
      if (raw === undefined && !problem && p.default !== null) {
        raw = p.default;
        origin = Origin.Default;
      }
      let value: PathValue = null;
      if (raw !== undefined && !problem) {
        const quick = coercedNumber(raw, p.type);
        if (quick !== undefined) value = quick;
        else {
          const c = coerce(raw, p.type);
          value = c.value;
          problem = c.problem;
        }
        if (value !== null && typeof value === 'number') problem = rangeProblem(p, value);
        if (problem) value = null;
      }
      if (problem) {
        problems[i] = problem;
        problemCount++;
      }
      values[i] = value;
      origins[i] = origin;
      texts[i] = value === null ? INVALID_TEXT : value === this.values[i] ? this.texts[i]! : formatText(p, value);
      if (memo !== undefined) {
        if (viaJsonata) memo.forget();
        else memo.store(value, texts[i]!, origin, problem);
      }
    }

    const missingRequired = this.mapping.required.filter((i) => values[i] === null).map((i) => paths[i]!.path);
    const changed: number[] = [];
    if (missingRequired.length === 0) {
      for (let i = 0; i < n; i++) {
        if (values[i] !== this.values[i] || texts[i] !== this.texts[i]) changed.push(i);
        this.values[i] = values[i]!;
        this.texts[i] = texts[i]!;
      }
      for (const [i, t] of derivedAt) this.derivedAt[i] = t;
    }
    this.current = this.values;
    return { values, texts, origins, problems, problemCount, changed, missingRequired };
  }

  private intervalOf(p: CompiledPath): number {
    if (p.interval === undefined) return 0;
    if (typeof p.interval === 'number') return p.interval;
    const v = Number(this.vars[p.interval]);
    return Number.isFinite(v) ? v : 0;
  }

  /**
   * The first defined result of a list of expressions (a list is "first that is defined").
   * Synchronous while the fast evaluator answers; a Promise only once JSONata has to run, so the
   * common case costs no microtask per path.
   */
  private first(exprs: CompiledExpr[], doc: unknown, ctx: FastContext): unknown {
    for (let k = 0; k < exprs.length; k++) {
      const e = exprs[k]!;
      const v = e.fast ? e.fast(ctx) : SLOW;
      if (v === SLOW) return this.firstSlow(exprs, k, doc, ctx);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  private async firstSlow(exprs: CompiledExpr[], from: number, doc: unknown, ctx: FastContext): Promise<unknown> {
    for (let k = from; k < exprs.length; k++) {
      const e = exprs[k]!;
      let v = k > from && e.fast ? e.fast(ctx) : SLOW;
      if (v === SLOW) {
        v = await e.jsonata().evaluate(doc, this.bindings);
      }
      if (v !== undefined) return v;
    }
    return undefined;
  }
}

function rangeProblem(p: CompiledPath, v: number): string | undefined {
  if (p.min !== undefined && v < p.min) return `out of range: ${v} is below the minimum ${p.min}`;
  if (p.max !== undefined && v > p.max) return `out of range: ${v} is above the maximum ${p.max}`;
  return undefined;
}

function formatText(p: CompiledPath, value: Exclude<PathValue, null>): string {
  try {
    return p.format(value);
  } catch {
    return String(value);
  }
}

function errorText(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ? `${e.code} ${e.message}` : (e.message ?? String(err));
}
