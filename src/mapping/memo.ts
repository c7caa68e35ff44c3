/**
 * A path's last result, reused while everything it reads holds the same values. Most of a BMS
 * payload repeats from one message to the next (capacity, alarms, settings, most cells), and a GX
 * device pays for every path it recomputes; this makes the cost follow what changed.
 *
 * Only where the inputs are known exactly: every expression of the path has a fast function whose
 * reads fastInputs() found statically, no fallback (derived values depend on what the newest
 * message lacks, and on time), and a result JSONata produced is never kept (its time budget makes
 * it depend on more than the inputs). An input that is an object or an array, or is read through
 * one, counts as changed every time: objects are merged into in place, so identity says nothing.
 */
import type { PathValue } from '../venus/types.js';
import type { CompiledMapping, CompiledPath } from './compile.js';
import { SLOW, walk } from './fast.js';

/** An input that cannot be compared (an object or array, or read through an array). */
const UNCOMPARABLE: unique symbol = Symbol('uncomparable');

/** The value at `keys` from the root, as the fast evaluator's field reads resolve it (walk). */
function inputAt(doc: unknown, keys: readonly string[]): unknown {
  const v = walk(doc, keys);
  return v === SLOW || (v !== null && typeof v === 'object') ? UNCOMPARABLE : v;
}

export class PathMemo {
  private inputs: unknown[];
  private scratch: unknown[];
  private valid = false;
  value: PathValue = null;
  text = '';
  origin = 0;
  problem: string | undefined;

  /** The document's top-level keys the fields are under; undefined when one reads the root itself. */
  private readonly roots: readonly string[] | undefined;

  private constructor(
    private readonly fields: readonly (readonly string[])[],
    /** Indexes of the `$path` targets (evaluated before this path). */
    private readonly paths: readonly number[],
  ) {
    this.inputs = new Array<unknown>(fields.length + paths.length);
    this.scratch = new Array<unknown>(fields.length + paths.length);
    this.roots = fields.some((f) => f.length === 0) ? undefined : [...new Set(fields.map((f) => f[0]!))];
  }

  /** A memo for `p`, or undefined when what it reads is not known exactly. */
  static for(p: CompiledPath, mapping: CompiledMapping): PathMemo | undefined {
    if (p.fallback.length || p.interval !== undefined) return undefined;
    // Each input once (the strict rewrite reads every field twice: once to check it is there).
    const fields = new Map<string, string[]>();
    const paths = new Set<number>();
    for (const e of p.value) {
      if (!e.fast || !e.inputs) return undefined;
      for (const keys of e.inputs.fields) fields.set(keys.join('\u0000'), keys);
      for (const t of e.inputs.paths) {
        const target = mapping.byPath.get(t);
        if (!target) return undefined;
        paths.add(target.index);
      }
    }
    return new PathMemo([...fields.values()], [...paths]);
  }

  /**
   * Read the inputs from `doc` and this evaluation's values; true when a result is kept and they
   * are the same as when it was computed (then value, text, origin and problem are that result).
   */
  unchanged(doc: unknown, current: readonly PathValue[]): boolean {
    let same = this.valid;
    const fields = this.fields;
    const scratch = this.scratch;
    const inputs = this.inputs;
    let k = 0;
    for (let f = 0; f < fields.length; f++, k++) {
      const v = inputAt(doc, fields[f]!);
      scratch[k] = v;
      if (same && (v === UNCOMPARABLE || !Object.is(v, inputs[k]))) same = false;
    }
    for (let j = 0; j < this.paths.length; j++, k++) {
      const v = current[this.paths[j]!];
      scratch[k] = v;
      if (same && !Object.is(v, inputs[k])) same = false;
    }
    return same;
  }

  /**
   * Like unchanged(), without reading the document: true when a result is kept, nothing under its
   * fields' top-level keys is in `changes` (what the document's store says changed since the
   * evaluation that kept it), and the `$path` values it read are the same.
   */
  untouched(changes: ReadonlySet<string>, current: readonly PathValue[]): boolean {
    const roots = this.roots;
    if (!this.valid || roots === undefined) return false;
    for (let r = 0; r < roots.length; r++) if (changes.has(roots[r]!)) return false;
    const inputs = this.inputs;
    const base = this.fields.length;
    for (let j = 0; j < this.paths.length; j++) if (!Object.is(current[this.paths[j]!], inputs[base + j])) return false;
    return true;
  }

  /** Keep the result computed from the inputs unchanged() just read. */
  store(value: PathValue, text: string, origin: number, problem: string | undefined): void {
    const read = this.scratch;
    this.scratch = this.inputs;
    this.inputs = read;
    this.valid = !read.includes(UNCOMPARABLE);
    this.value = value;
    this.text = text;
    this.origin = origin;
    this.problem = problem;
  }

  forget(): void {
    this.valid = false;
    this.inputs.fill(undefined);
  }
}
