/**
 * Battery helpers: the derived fields of the seed driver as plain JS functions. They are registered
 * into JSONata (so any mapping can call them) and called directly by the fast evaluator. Each one
 * returns undefined for missing or non-numeric inputs, like JSONata's own operators, never throws.
 */
import { roundPython } from '../venus/format.js';
import { PACK_HELPERS } from './packs.js';
import { FIELD, field, PRESENT, present, SCALAR, scalar } from './strict.js';

const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);

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
let lastUnit: unknown;
let lastMin: unknown;
let lastStats: CellStats | undefined;

/** Forget memoised results; called at the start of every evaluation (documents may be reused). */
export function resetHelperMemo(): void {
  lastCells = undefined;
  lastStats = undefined;
}

/**
 * The cell number a key carries (Cell1, cell_01_voltage, cell_voltage_1, 1: its last run of
 * digits), remembered per key: the same few dozen keys come in every message. Bounded, since keys
 * are the publisher's to choose.
 */
const cellNumbers = new Map<string, number | undefined>();
const MAX_CELL_KEYS = 1024;

function cellNumber(key: string): number | undefined {
  if (cellNumbers.has(key)) return cellNumbers.get(key);
  const digits = /(\d+)\D*$/.exec(key)?.[1];
  const n = digits === undefined ? undefined : Number(digits);
  if (cellNumbers.size >= MAX_CELL_KEYS) cellNumbers.clear();
  cellNumbers.set(key, n);
  return n;
}

/** Factors of the unit prefixes BMSes report in (mV, cV, dA, kW ...), to the base unit. */
const PREFIX: Record<string, number> = { m: 1e-3, c: 1e-2, d: 1e-1, k: 1e3 };
const BASE_UNITS = new Set(['V', 'A', 'Ah', 'W', 'Wh', '%']);

/** The factor that turns a value in `unit` into the base unit; undefined for a unit it does not know. */
function unitFactor(unit: unknown): number | undefined {
  if (unit === undefined || unit === null) return 1;
  if (typeof unit !== 'string') return undefined;
  if (BASE_UNITS.has(unit)) return 1;
  const f = PREFIX[unit[0]!];
  return f !== undefined && BASE_UNITS.has(unit.slice(1)) ? f : undefined;
}

/** Dividing by 1000 rounds cleaner than multiplying by 0.001 (3412 mV is 3.412 V, not 3.4120000000000004). */
const scaled = (v: number, factor: number): number => (factor === 1 ? v : factor < 1 ? v / Math.round(1 / factor) : v * factor);

/** A leaf written as {"state": 3.3}, {"Reading": 3.3} or {"value": 3.3}: its one value. */
function leaf(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  const values = Object.values(v);
  return values.length === 1 ? values[0] : undefined;
}

/** A number, or a numeric string as plain-value topics deliver them. */
const numeric = (x: unknown): number | undefined =>
  typeof x === 'number' ? num(x) : typeof x === 'string' && x.trim() !== '' ? num(Number(x)) : undefined;

/**
 * Statistics over cell voltages in any common shape: an array ([3.301, 3.302]) or an object whose
 * cell keys carry the cell number in any spelling (Cell1, cell_01_voltage, cell_voltage_1, 1).
 * Keys without a number (Sum, Diff, delta, average) are not cells; a cell's value may be wrapped
 * as {"state": x}. Every shape gets the same ids: Cell<number> (Cell1 for cell_01_voltage, the
 * first array item is Cell1). `unit` ('mV', default 'V') converts to volts; cells below `min`
 * volts (unused slots reading 0 V) are left out. Ties go to the first cell, and the sum adds in
 * document order, as Python's min/max/sum do in the seed. Memoised within one evaluation: a
 * mapping asks for min, max, ids and sum of the same cells.
 */
export function cells(input: unknown, unit?: unknown, min?: unknown): CellStats | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  if (input === lastCells && unit === lastUnit && min === lastMin) return lastStats;
  const factor = unitFactor(unit);
  const floor = min === undefined || min === null ? -Infinity : num(min);
  let stats: CellStats | undefined;
  if (factor !== undefined && floor !== undefined) {
    // Cell numbers, not id strings, while scanning: only the two ids kept are spelled out.
    const list = Array.isArray(input) ? (input as unknown[]) : undefined;
    const keys = list ? undefined : Object.keys(input);
    const count = list ? list.length : keys!.length;
    let minN = 0;
    let maxN = 0;
    for (let i = 0; i < count; i++) {
      let n: number | undefined;
      let raw: unknown;
      if (list) {
        n = i + 1;
        raw = list[i];
      } else {
        const key = keys![i]!;
        n = cellNumber(key);
        if (n === undefined) continue;
        raw = (input as Record<string, unknown>)[key];
      }
      const read = numeric(leaf(raw));
      if (read === undefined) continue;
      const v = scaled(read, factor);
      if (v < floor) continue;
      if (!stats) {
        stats = { count: 0, min: v, max: v, minId: '', maxId: '', sum: 0, avg: 0, diff: 0 };
        minN = n;
        maxN = n;
      }
      stats.count++;
      stats.sum += v;
      if (v < stats.min) {
        stats.min = v;
        minN = n;
      }
      if (v > stats.max) {
        stats.max = v;
        maxN = n;
      }
    }
    if (stats) {
      stats.minId = `Cell${minN}`;
      stats.maxId = `Cell${maxN}`;
    }
  }
  if (stats) {
    stats.avg = stats.sum / stats.count;
    stats.diff = stats.max - stats.min;
  }
  lastCells = input;
  lastUnit = unit;
  lastMin = min;
  lastStats = stats;
  return stats;
}

/** A value in `unit` (mV, mA, cV, dA, kW, mAh ...) in the base unit (V, A, W, Ah). */
export function unit(x: unknown, u: unknown): number | undefined {
  const v = numeric(x);
  const f = unitFactor(u);
  if (v === undefined || f === undefined) return undefined;
  return scaled(v, f);
}

/** Amp-hours from watt-hours at a voltage (a BMS that counts energy, not charge). */
export function ah(wh: unknown, volts: unknown): number | undefined {
  const e = numeric(wh);
  const v = numeric(volts);
  return e === undefined || v === undefined || v === 0 ? undefined : e / v;
}

/** Texts BMS firmwares and bridges publish for "no reading". */
const NO_VALUE_TEXTS = new Set(['nan', 'null', 'none', 'unknown', 'unavailable', 'n/a', '']);

/**
 * The value, or nothing when it is a "no value" marker: NaN or its texts (nan, NaN, unavailable,
 * ...), or one of the given sentinels (-40 from an absent temperature sensor, 65535 from an
 * unset register). Nothing means the path is invalid — not a warning on every message.
 */
export function valid(x: unknown, ...sentinels: unknown[]): unknown {
  if (x === undefined || x === null) return undefined;
  if (typeof x === 'number' && Number.isNaN(x)) return undefined;
  if (typeof x === 'string' && NO_VALUE_TEXTS.has(x.trim().toLowerCase())) return undefined;
  const n = numeric(x);
  for (const s of sentinels) if (s === x || (n !== undefined && numeric(s) === n)) return undefined;
  return x;
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
  unit,
  ah,
  valid,
  ...PACK_HELPERS,
  /** Internal: the presence check strict evaluation wraps every expression in (strict.ts). */
  [PRESENT]: present,
  /** Internal: a single-value field read that never maps over an array (strict.ts). */
  [FIELD]: field,
  /** Internal: the same for a list element, where an array would be flattened in (strict.ts). */
  [SCALAR]: scalar,
};
