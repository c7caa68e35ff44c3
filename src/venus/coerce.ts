/**
 * Coercion of loosely typed input (JSON, plain-value topics, JSONata results) to a path's fixed
 * D-Bus type. A value that cannot be represented becomes invalid (null) with a reason, never a
 * different type: Victron consumers must see the same signature on a path for its whole life.
 * Numeric paths take JSON numbers only: text ("1e3") and booleans are refused rather than read as
 * 1000 A or 1 A, since a charge limit must be a number the BMS actually sent (a mapping that wants
 * text or switch states converts them itself: `$number()`, `$onOff()`). Integers are rounded. The
 * D-Bus layer checks strictly with the same ranges (src/dbus/values.ts).
 */
import type { DbusType, PathValue } from './types.js';

export interface Coerced {
  value: PathValue;
  /** Set when the input was present but unusable: the path goes invalid and this is logged. */
  problem?: string;
}

/** Integer D-Bus types (plus `b`, which Victron code carries as the integers 0/1). */
export type IntegerDbusType = Exclude<DbusType, 'd' | 's'>;

/**
 * Inclusive ranges per integer type. `x` and `t` stop at ±(2^53 − 1): a JS number beyond that
 * cannot hold every integer exactly, so a bigger 64-bit value would be published rounded; that is
 * invalid rather than a number that was never measured.
 */
export const INTEGER_RANGES: Readonly<Record<IntegerDbusType, readonly [number, number]>> = {
  y: [0, 0xff],
  n: [-0x8000, 0x7fff],
  q: [0, 0xffff],
  i: [-0x80000000, 0x7fffffff],
  u: [0, 0xffffffff],
  x: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  t: [0, Number.MAX_SAFE_INTEGER],
  b: [0, 1],
};

/** True for every integer type, `b` included. */
export function isIntegerType(type: DbusType): type is IntegerDbusType {
  return type !== 's' && type !== 'd';
}

/** Coerce `input` to `type`. null/undefined → invalid without a problem (absence is not an error). */
export function coerce(input: unknown, type: DbusType): Coerced {
  if (input === null || input === undefined) return { value: null };
  if (type === 's') return coerceString(input);
  // An empty string is "no value" (serialbattery's release sends "" for invalid values).
  if (typeof input === 'string' && input.trim() === '') return { value: null };
  const n = toNumber(input);
  if (n === undefined) return { value: null, problem: `expected a number, got ${describe(input)}` };
  if (!Number.isFinite(n)) return { value: null, problem: `${describe(input)} is not a finite number` };
  if (type === 'd') return { value: n === 0 ? 0 : n };
  if (type === 'b' && n !== 0 && n !== 1) return { value: null, problem: `${n} is not a boolean (0/1)` };
  const rounded = Math.round(n);
  const [min, max] = INTEGER_RANGES[type];
  if (rounded < min || rounded > max) {
    return { value: null, problem: `${n} is out of range for D-Bus type ${type} (${min}..${max})` };
  }
  return { value: rounded === 0 ? 0 : rounded };
}

/**
 * coerce() of a finite number to a numeric type it fits, without building a result: the value
 * coerce() gives. Undefined whenever coerce() has more to say (text, out of range, a problem).
 */
export function coercedNumber(input: unknown, type: DbusType): number | undefined {
  if (typeof input !== 'number' || !Number.isFinite(input) || type === 's') return undefined;
  if (type === 'd') return input === 0 ? 0 : input;
  const rounded = Math.round(input);
  if (type === 'b' && input !== 0 && input !== 1) return undefined;
  const range = INTEGER_RANGES[type];
  if (rounded < range[0] || rounded > range[1]) return undefined;
  return rounded === 0 ? 0 : rounded;
}

function coerceString(input: unknown): Coerced {
  if (typeof input === 'string') return input.includes('\0') ? { value: null, problem: 'a string with a NUL character' } : { value: input };
  if (typeof input === 'number')
    return Number.isFinite(input) ? { value: String(input) } : { value: null, problem: `${input} is not a finite number` };
  if (typeof input === 'boolean' || typeof input === 'bigint') return { value: String(input) };
  return { value: null, problem: `expected a string, got ${describe(input)}` };
}

function toNumber(input: unknown): number | undefined {
  switch (typeof input) {
    case 'number':
      return input;
    case 'bigint':
      // Beyond 2^53 a double cannot hold it exactly; the range check then makes it invalid.
      return input > BigInt(Number.MAX_SAFE_INTEGER) || input < -BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_VALUE : Number(input);
    default:
      return undefined;
  }
}

/** A short, log-safe description of an unexpected input value. */
export function describe(input: unknown): string {
  if (Array.isArray(input)) return `an array of ${input.length}`;
  if (typeof input === 'object' && input !== null) return 'an object';
  if (typeof input === 'string') return `the string ${JSON.stringify(input.length > 40 ? input.slice(0, 40) + '…' : input)}`;
  return `${typeof input} ${String(input)}`;
}
