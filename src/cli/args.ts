/** Command-line helpers shared by the commands. */
import { UsageError } from '../errors.js';

/** Runs a parseArgs call, turning its complaints into usage errors (exit 2). */
export function parse<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** --var name=value; numbers and true/false are typed, anything else is a string. */
export function parseVars(list: string[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`--var expects NAME=VALUE, got "${item}"`);
    const raw = item.slice(eq + 1);
    out[item.slice(0, eq)] = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return out;
}
