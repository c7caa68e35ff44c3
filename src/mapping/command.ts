/**
 * The payload of a write-back command: the path's `command.payload` expression over the current
 * input document, with the written value as `$value`. Strict like every other expression: one that
 * reads an input the document lacks gives no payload, and the SetValue is refused, so a command is
 * never built from a guess.
 */
import type { PathValue } from '../venus/types.js';
import type { CompiledCommand, CompiledPath } from './compile.js';
import { SLOW, type FastContext } from './fast.js';

/**
 * Why `value` (already of the path's D-Bus type) is no valid command for the path, or undefined:
 * the invalid value, or a number outside the path's min/max. The same check `vbat run` and
 * `vbat check --set` apply.
 */
export function commandValueProblem(p: CompiledPath, value: PathValue): string | undefined {
  if (value === null) return 'an invalid (empty) value is not a command';
  if (typeof value !== 'number') return undefined;
  if (p.min !== undefined && value < p.min) return `${value} is below the minimum ${p.min}`;
  if (p.max !== undefined && value > p.max) return `${value} is above the maximum ${p.max}`;
  return undefined;
}

/**
 * A command's `confirm` or `minInterval` in seconds, with variables (a battery's config may
 * override the mapping's default). A variable set to something that is not a number of seconds
 * counts as `fallback`.
 */
export function commandSeconds(v: number | string, variables: Record<string, unknown>, fallback: number): number {
  if (typeof v === 'number') return v;
  const n = variables[v];
  return typeof n === 'number' && n >= 0 ? n : fallback;
}

export type CommandPayload = { payload: string } | { problem: string };

export async function commandPayload(
  command: CompiledCommand,
  value: Exclude<PathValue, null>,
  doc: unknown,
  variables: Record<string, unknown>,
  readPath: (path: string) => unknown = () => undefined,
): Promise<CommandPayload> {
  const vars = { ...variables, value };
  const expr = command.payload;
  let out: unknown;
  try {
    const ctx: FastContext = { doc, vars, path: readPath };
    out = expr.fast ? expr.fast(ctx) : SLOW;
    if (out === SLOW) out = await expr.jsonata().evaluate(doc ?? {}, { ...vars, path: readPath });
  } catch (err) {
    return { problem: `payload expression failed: ${(err as Error).message ?? String(err)}` };
  }
  if (out === undefined || out === null)
    return { problem: `payload expression \`${expr.source}\` gives no value for ${JSON.stringify(value)}` };
  if (typeof out === 'string') return { payload: out };
  if (typeof out === 'number' || typeof out === 'boolean') return { payload: String(out) };
  return { payload: JSON.stringify(out) };
}
