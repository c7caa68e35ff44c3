/**
 * Battery helpers: the derived fields of the seed driver as plain JS functions. They are registered
 * into JSONata (so any mapping can call them) and called directly by the fast evaluator. Each one
 * returns undefined for missing or non-numeric inputs, like JSONata's own operators, never throws.
 */
import { roundPython } from '../venus/format.js';
import { PACK_HELPERS } from './packs.js';
import { FIELD, field, PRESENT, present, SCALAR, scalar } from './strict.js';

const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);

/** Keys in a cell object that are totals, not cells (the seed's payload may carry them). */
const NOT_CELLS = new Set(['Sum', 'Diff']);

export interface CellStats {
  count: number;
  min: number;
  max: number;
  minId: string;
  maxId: string;
  sum: number;
  avg: number;
  diff: number;
}

let lastCells: object | undefined;
let lastStats: CellStats | undefined;

/** Forget memoised results; called at the start of every evaluation (documents may be reused). */
export function resetHelperMemo(): void {
  lastCells = undefined;
  lastStats = undefined;
}

/**
 * Statistics over an object of cell values ({"Cell1": 3.201, ...}) or an array. Ties go to the
 * first cell, and the sum adds in document order, as Python's min/max/sum do in the seed.
 * Memoised within one evaluation: a mapping asks for min, max, ids and sum of the same cells.
 */
export function cells(input: unknown): CellStats | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  if (input === lastCells) return lastStats;
  const entries: [string, unknown][] = Array.isArray(input) ? input.map((v, i) => [`Cell${i + 1}`, v]) : Object.entries(input);
  let stats: CellStats | undefined;
  for (const [id, raw] of entries) {
    const v = num(raw);
    if (v === undefined || NOT_CELLS.has(id)) continue;
    if (!stats) stats = { count: 0, min: v, max: v, minId: id, maxId: id, sum: 0, avg: 0, diff: 0 };
    stats.count++;
    stats.sum += v;
    if (v < stats.min) {
      stats.min = v;
      stats.minId = id;
    }
    if (v > stats.max) {
      stats.max = v;
      stats.maxId = id;
    }
  }
  if (stats) {
    stats.avg = stats.sum / stats.count;
    stats.diff = stats.max - stats.min;
  }
  lastCells = input;
  lastStats = stats;
  return stats;
}

/** Current from power and voltage, rounded to mA; 0 when the voltage is 0 (seed formula). */
export function current(power: unknown, voltage: unknown): number | undefined {
  const p = num(power);
  const v = num(voltage);
  if (p === undefined || v === undefined) return undefined;
  return v === 0 ? 0 : roundPython(p / v, 3);
}

const THIRTY_DAYS = 60 * 60 * 24 * 30;

/**
 * Seconds until the battery is full (charging) or down to `targetSoc` % (discharging), from the
 * current and the remaining and installed capacity; 30 days when the current is 0 (seed formula).
 */
export function timeToGo(currentA: unknown, capacityAh: unknown, installedAh: unknown, targetSoc: unknown): number | undefined {
  const i = num(currentA);
  const cap = num(capacityAh);
  const inst = num(installedAh);
  const soc = num(targetSoc) ?? 10;
  if (i === undefined || cap === undefined || inst === undefined) return undefined;
  if (i > 0) return Math.abs(roundPython(((inst - cap) / i) * 3600, 0));
  if (i < 0) return Math.abs(roundPython(((cap - (inst * soc) / 100) / i) * 3600 * -1, 0));
  return THIRTY_DAYS;
}

/** Round like Python's round(): exact ties to even, on the binary value. */
export function round(x: unknown, digits: unknown): number | undefined {
  const v = num(x);
  if (v === undefined) return undefined;
  return roundPython(v, num(digits) ?? 0);
}

/** Decode 'ON'/'OFF', 'true'/'false', 1/0 style switch states (ESPHome, Tasmota) to 1/0. */
export function onOff(x: unknown): number | undefined {
  if (typeof x === 'boolean') return x ? 1 : 0;
  if (typeof x === 'number') return x === 0 ? 0 : 1;
  if (typeof x !== 'string') return undefined;
  const s = x.trim().toLowerCase();
  if (s === 'on' || s === 'true' || s === '1' || s === 'yes') return 1;
  if (s === 'off' || s === 'false' || s === '0' || s === 'no') return 0;
  return undefined;
}

/** Bit `n` (0 = lowest) of an integer bitmask, as 0 or 1: BMS error and status words. */
export function bit(mask: unknown, n: unknown): number | undefined {
  const m = typeof mask === 'string' && mask.trim() !== '' ? Number(mask) : mask;
  const b = num(n);
  if (typeof m !== 'number' || !Number.isInteger(m) || b === undefined || b < 0 || b > 52) return undefined;
  return Math.floor(m / 2 ** b) % 2;
}

/** The helpers by the name mappings call them with ($cells, $current, ...). */
export const HELPERS: Record<string, (...args: unknown[]) => unknown> = {
  cells,
  current,
  timeToGo,
  roundHalfEven: round,
  onOff,
  bit,
  ...PACK_HELPERS,
  /** Internal: the presence check strict evaluation wraps every expression in (strict.ts). */
  [PRESENT]: present,
  /** Internal: a single-value field read that never maps over an array (strict.ts). */
  [FIELD]: field,
  /** Internal: the same for a list element, where an array would be flattened in (strict.ts). */
  [SCALAR]: scalar,
};
