/**
 * Pure value helpers: turn whatever a stage hands us into a value of a path's fixed D-Bus type,
 * or into "invalid" (null). Nothing here touches the bus, so other stages and tests use it freely.
 *
 * The rule that matters (contract §7.1, §7.2): a path keeps its declared type for every value,
 * and anything that cannot be represented exactly in that type becomes invalid — never a crash,
 * never a silently different type (no `i` one moment and `d` the next).
 */
import { Variant } from 'dbus-next';
import { INTEGER_RANGES, isIntegerType } from '../venus/coerce.js';
import { INVALID_TEXT, type DbusType, type PathValue } from '../venus/types.js';

export { INTEGER_RANGES, isIntegerType };

/**
 * Coerce a JS value to a path's type. Returns null (invalid) for null/undefined, NaN, ±Infinity,
 * non-integers or out-of-range numbers on integer types, strings on numeric types, objects, and
 * strings holding a NUL character (D-Bus strings cannot carry one). BigInt input is normalised to
 * a number when it fits; booleans become 0/1 on numeric types; numbers become their decimal
 * string on `s` paths. -0 is normalised to 0 so "unchanged" comparisons stay exact.
 */
export function coerceValue(value: unknown, type: DbusType): PathValue {
  if (value === null || value === undefined) return null;
  if (type === 's') return coerceString(value);

  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'bigint') n = bigintToNumber(value, type);
  else if (typeof value === 'boolean') n = value ? 1 : 0;
  else return null;

  if (!Number.isFinite(n)) return null;
  if (type === 'd') return n === 0 ? 0 : n;
  if (!Number.isInteger(n)) return null;
  const [min, max] = INTEGER_RANGES[type];
  if (n < min || n > max) return null;
  return n === 0 ? 0 : n;
}

function coerceString(value: unknown): PathValue {
  let s: string;
  if (typeof value === 'string') s = value;
  else if (typeof value === 'number') {
    if (!Number.isFinite(value)) return null;
    s = String(value);
  } else if (typeof value === 'bigint' || typeof value === 'boolean') s = String(value);
  else return null;
  return s.includes('\0') ? null : s;
}

/** BigInt → number, or NaN when it does not fit the target's range exactly. */
function bigintToNumber(value: bigint, type: DbusType): number {
  if (type === 'd') return Number(value);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) return NaN;
  return Number(value);
}

/**
 * Interpret the argument of a remote `SetValue` for a path of the given type.
 * Returns `{ value }` when accepted (`value` null = the caller invalidates the item, which velib
 * does for any empty array, vedbus.py:555-560), or undefined when the type does not fit (reply 1).
 * Numeric paths accept any numeric variant whose value fits exactly (a `d` 5.0 is fine for an
 * `i` path, 5.5 is not); `s` paths accept only strings.
 */
export function valueFromSetValue(signature: string, value: unknown, type: DbusType): { value: PathValue } | undefined {
  if (signature.startsWith('a') && isEmptyContainer(value)) return { value: null };
  if (signature.length !== 1) return undefined;
  if (type === 's') {
    if (signature !== 's' || typeof value !== 'string' || value.includes('\0')) return undefined;
    return { value };
  }
  if (!'ynqiuxtdb'.includes(signature)) return undefined;
  const coerced = coerceValue(value, type);
  return coerced === null ? undefined : { value: coerced };
}

function isEmptyContainer(value: unknown): boolean {
  if (Array.isArray(value) || Buffer.isBuffer(value)) return value.length === 0;
  // dbus-next decodes an empty `a{..}` dict to {}.
  return typeof value === 'object' && value !== null && Object.keys(value).length === 0;
}

/** The canonical invalid value: a variant holding an empty `ai` (ve_utils.py:11). */
export function invalidVariant(): Variant<number[]> {
  return new Variant('ai', []);
}

/**
 * Wrap a (coerced) value as a dbus-next Variant of the path's type; null → invalid variant.
 * For code that talks to dbus-next directly (its clients, tests); the service itself encodes
 * without Variant objects.
 */
export function toVariant(type: DbusType, value: PathValue): Variant {
  if (value === null) return invalidVariant();
  if (type === 'b') return new Variant('b', value === 1);
  if (type === 'x' || type === 't') return new Variant(type, BigInt(value));
  return new Variant(type, value);
}

/**
 * velib's default GetText (vedbus.py:616-633): `---` for invalid, `0x%X` for /ProductId,
 * otherwise the plain string of the value.
 */
export function defaultFormat(path: string, value: PathValue): string {
  if (value === null) return INVALID_TEXT;
  if (path === '/ProductId' && typeof value === 'number' && Number.isInteger(value) && value >= 0) {
    return '0x' + value.toString(16).toUpperCase();
  }
  return String(value);
}

/** Texts travel as D-Bus strings, which cannot contain NUL; drop it rather than break the message. */
export function sanitizeText(text: string): string {
  return text.includes('\0') ? text.replaceAll('\0', '') : text;
}
