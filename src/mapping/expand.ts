/** Range entries: one `/Voltages/Cell{n}` entry with `range: [1, 24]` stands for 24 paths. */
import type { Problem } from '../errors.js';
import type { Expressions, PathEntry } from './model.js';

export interface ExpandedEntry {
  /** The key as written in the file (for line lookup). */
  key: string;
  path: string;
  entry: PathEntry;
}

const PLACEHOLDER = /\{n\}/g;
const MAX_RANGE = 1000;

export function expandPaths(
  paths: Record<string, PathEntry>,
  file: string,
  lineOfKey: (key: string, ...at: (string | number)[]) => number | undefined,
): { entries: ExpandedEntry[]; problems: Problem[] } {
  const entries: ExpandedEntry[] = [];
  const problems: Problem[] = [];
  const seen = new Map<string, string>();
  for (const [key, entry] of Object.entries(paths)) {
    const problem = (reason: string) => problems.push({ file, line: lineOfKey(key), where: key, reason });
    const hasPlaceholder = key.includes('{n}');
    if (!entry.range) {
      if (hasPlaceholder) problem('the key has {n} but no `range` says which numbers it stands for');
      else if (/[{}]/.test(key)) problem('braces in a path are only allowed as the {n} placeholder');
      else add(key, key, entry);
      continue;
    }
    if (!hasPlaceholder) {
      problem('`range` needs the placeholder {n} in the key, e.g. /Voltages/Cell{n}');
      continue;
    }
    const constant = unnumbered(entry);
    if (constant) {
      problems.push({
        file,
        line: lineOfKey(key, ...constant.at),
        where: key,
        reason: `\`${constant.source}\` does not use {n}: every path of the range would get the same value (write e.g. cells[{n} - 1])`,
      });
      continue;
    }
    const [from, to, step = 1] = entry.range as [number, number, number?];
    if (step <= 0 || to < from || (to - from) / step >= MAX_RANGE) {
      problem(`range [${entry.range.join(', ')}] must go upwards with a positive step and at most ${MAX_RANGE} numbers`);
      continue;
    }
    for (let n = from; n <= to; n += step) {
      const { range: _range, ...rest } = entry;
      const one: PathEntry = { ...rest, value: substitute(entry.value, n), fallback: substitute(entry.fallback, n) };
      if (one.value === undefined) delete one.value;
      if (one.fallback === undefined) delete one.fallback;
      add(key, key.replace(PLACEHOLDER, String(n)), one);
    }
  }
  return { entries, problems };

  function add(key: string, path: string, entry: PathEntry): void {
    const first = seen.get(path);
    if (first !== undefined) {
      problems.push({ file, line: lineOfKey(key), where: key, reason: `path ${path} is already defined by ${first}` });
      return;
    }
    seen.set(path, key);
    entries.push({ key, path, entry });
  }
}

/** The first expression of a range entry that does not use its {n} (a number is a constant, which is fine). */
function unnumbered(entry: PathEntry): { source: string; at: (string | number)[] } | undefined {
  for (const field of ['value', 'fallback'] as const) {
    const e = entry[field];
    if (typeof e === 'string' && !e.includes('{n}')) return { source: e, at: [field] };
    if (Array.isArray(e)) {
      const i = e.findIndex((x) => !x.includes('{n}'));
      if (i >= 0) return { source: e[i]!, at: [field, i] };
    }
  }
  return undefined;
}

function substitute(e: Expressions | undefined, n: number): Expressions | undefined {
  if (e === undefined || typeof e === 'number') return e;
  if (Array.isArray(e)) return e.map((x) => x.replace(PLACEHOLDER, String(n)));
  return e.replace(PLACEHOLDER, String(n));
}
