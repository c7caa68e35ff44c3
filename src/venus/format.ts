/**
 * Text formats for BusItem values, written as printf-style strings in mappings ("%.2fV", "%iW",
 * "%i%%", "%s", "0x%X"). They reproduce Python's `%` operator, which the original driver and velib
 * use, so texts match the seed byte for byte: `%i` truncates toward zero and `%.Nf` rounds the
 * exact binary value half-to-even.
 */
import type { PathValue } from './types.js';

export type TextFormatter = (value: Exclude<PathValue, null>) => string;

type Piece = string | ((v: number | string) => string);

const SPEC = /%(?:%|\.(\d+)f|([idsxX]))/g;

/** Compile a printf-style format; throws an Error naming the bad directive. */
export function compileFormat(format: string): TextFormatter {
  const pieces: Piece[] = [];
  let last = 0;
  let directives = 0;
  for (const m of format.matchAll(SPEC)) {
    if (m.index! > last) pieces.push(format.slice(last, m.index));
    last = m.index! + m[0].length;
    if (m[0] === '%%') {
      pieces.push('%');
      continue;
    }
    directives++;
    if (m[1] !== undefined) {
      const digits = Number(m[1]);
      if (digits > 20) throw new Error(`format "${format}": at most 20 decimals`);
      pieces.push((v) => toFixedPython(toNumber(v), digits));
    } else if (m[2] === 's') pieces.push((v) => (typeof v === 'number' ? pythonStr(v) : v));
    else if (m[2] === 'x') pieces.push((v) => Math.trunc(toNumber(v)).toString(16));
    else if (m[2] === 'X') pieces.push((v) => Math.trunc(toNumber(v)).toString(16).toUpperCase());
    else pieces.push((v) => truncInt(toNumber(v)));
  }
  const rest = format.slice(last);
  if (rest.includes('%')) throw new Error(`format "${format}": unknown directive at "${rest.slice(rest.indexOf('%'))}"`);
  if (rest) pieces.push(rest);
  if (directives > 1) throw new Error(`format "${format}": use at most one value directive`);
  if (directives === 0) throw new Error(noDirective(format));
  if (pieces.length === 1 && typeof pieces[0] === 'function') {
    const only = pieces[0];
    return (v) => only(typeof v === 'boolean' ? Number(v) : v);
  }
  return (v) => {
    let out = '';
    for (const p of pieces) out += typeof p === 'string' ? p : p(v);
    return out;
  };
}

/**
 * A format without a directive would show the same text whatever the value. Most often it is
 * Python's str.format style ("{:.1f}A"), which reads naturally but is not what velib uses.
 */
function noDirective(format: string): string {
  const printf = format
    .replace(/\{:?\.(\d+)f\}/g, '%.$1f')
    .replace(/\{:d\}/g, '%i')
    .replace(/\{\}/g, '%s')
    .replace(/\{:[xX]\}/g, (m) => `%${m[2]}`);
  const hint = printf !== format && printf.includes('%') ? `: write "${printf}"` : ', e.g. "%.1fA", "%iW", "%s"';
  return `format "${format}" is not a printf format: it has no %i, %.Nf, %s, %x or %X for the value${hint}`;
}

/** velib's default text when a path declares no format: Python's str(value). */
export const defaultFormatter: TextFormatter = (v) => (typeof v === 'number' ? pythonStr(v) : v);

function toNumber(v: number | string): number {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) throw new Error(`cannot format ${JSON.stringify(v)} as a number`);
  return n;
}

function truncInt(n: number): string {
  const t = Math.trunc(n);
  return Object.is(t, -0) ? '0' : String(t);
}

/** Python's str() of a float-ish number: integers print without a fraction. */
function pythonStr(n: number): string {
  return String(n);
}

/**
 * `%.Nf` as Python does it. JavaScript's toFixed is exact on the binary value too, but it rounds
 * exact ties away from zero where Python rounds them to even (0.125 → "0.12" in Python).
 */
export function toFixedPython(n: number, digits: number): string {
  if (Object.is(n, -0)) return `-${(0).toFixed(digits)}`; // JS drops the sign of -0, Python keeps it
  const fixed = n.toFixed(digits);
  if (!isExactTie(n, digits)) return fixed;
  const scaled = Math.abs(n) * 10 ** digits;
  const down = Math.floor(scaled);
  if (down % 2 === 0) {
    // toFixed rounded the tie up, away from zero; step back one unit in the last place.
    const units = (down / 10 ** digits).toFixed(digits);
    return n < 0 ? `-${units}` : units;
  }
  return fixed;
}

/** Round like Python's round(x, digits): correctly rounded, exact ties to even. */
export function roundPython(n: number, digits = 0): number {
  if (!Number.isFinite(n)) return n;
  if (digits < 0 || digits > 20) return n;
  return Number(toFixedPython(n, digits));
}

function isExactTie(n: number, digits: number): boolean {
  const scaled = Math.abs(n) * 10 ** digits;
  const frac = scaled - Math.floor(scaled);
  if (Math.abs(frac - 0.5) > 1e-6) return false;
  // Confirm on the exact decimal expansion of the double: digit N+1 is 5 and nothing follows.
  const exact = Math.abs(n).toFixed(Math.min(100, digits + 60));
  const tail = exact.slice(exact.indexOf('.') + 1 + digits);
  return /^50*$/.test(tail);
}
