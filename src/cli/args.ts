/**
 * Command-line helpers shared by the commands. Each command describes itself once, as a
 * CommandSpec: its synopsis, what it does, its arguments and every flag with an explanation.
 * The same spec gives `vbat <command> --help`, the parser's options, and the list of flags an
 * unknown flag is answered with, so help and parsing cannot drift apart.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { editDistance } from '../util/edit-distance.js';

export interface FlagSpec {
  type: 'string' | 'boolean';
  /** What the value is, as shown in the help: `--topic FILTER`. String flags only. */
  arg?: string;
  /** May be given several times (values collected in order). */
  multiple?: boolean;
  short?: string;
  /** The explanation in the help; wrapped to the terminal width of 80. */
  help: string;
}

export interface CommandSpec {
  name: string;
  /** Synopsis lines after `vbat `, e.g. `check MAPPING PAYLOAD... [--json]`. */
  usage: string[];
  /** One line for `vbat help`. */
  summary: string;
  /** Paragraphs: what the command does. */
  description: string[];
  /** Positional arguments, explained. */
  args?: [name: string, help: string][];
  flags: Record<string, FlagSpec>;
  /** Paragraphs after the options: exit status, examples, pointers. One with line breaks is kept as it is. */
  notes?: string[];
}

const WIDTH = 79;
const HELP_FLAG: FlagSpec = { type: 'boolean', short: 'h', help: 'show this help and exit' };

type FlagValue<F extends FlagSpec> = F['type'] extends 'boolean' ? boolean : F['multiple'] extends true ? string[] : string;
export type FlagValues<S extends CommandSpec> = { [K in keyof S['flags']]?: FlagValue<S['flags'][K]> } & { help: boolean };

/**
 * Parses a command's arguments by its spec. Every flag's problem is a usage error that says
 * what is wrong and, for an unknown flag, which flags the command has.
 */
export function parseCommand<S extends CommandSpec>(spec: S, args: string[]): { values: FlagValues<S>; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
  for (const [name, f] of Object.entries(allFlags(spec)))
    options[name] = { type: f.type, ...(f.multiple ? { multiple: true } : {}), ...(f.short ? { short: f.short } : {}) };
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: (spec.args?.length ?? 0) > 0, strict: true });
    return { values: { ...values, help: values.help === true } as FlagValues<S>, positionals };
  } catch (err) {
    throw new UsageError(flagProblem(spec, err as Error & { code?: string }));
  }
}

function allFlags(spec: CommandSpec): Record<string, FlagSpec> {
  return { ...spec.flags, help: HELP_FLAG };
}

/** `--topic FILTER`, `-h, --help`. */
function flagLabel(name: string, f: FlagSpec): string {
  return `${f.short ? `-${f.short}, ` : ''}--${name}${f.type === 'string' ? ` ${f.arg ?? 'VALUE'}` : ''}`;
}

function flagProblem(spec: CommandSpec, err: Error & { code?: string }): string {
  const flags = allFlags(spec);
  const list = Object.entries(flags)
    .map(([n, f]) => `--${n}${f.type === 'string' ? ` ${f.arg ?? 'VALUE'}` : ''}`)
    .join(', ');
  const quoted = /'([^']+)'/.exec(err.message)?.[1] ?? '';
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const near = closest(quoted.replace(/^-+/, '').replace(/=.*/, ''), Object.keys(flags));
      return `unknown option ${quoted}${near ? ` (did you mean --${near}?)` : ''}; vbat ${spec.name} takes ${list}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const name = quoted.replace(/^-+/, '').replace(/ .*/, '');
      const f = flags[name] ?? Object.entries(flags).find(([, x]) => x.short === name)?.[1];
      if (f?.type === 'boolean') return `--${name} takes no value`;
      return `--${name} needs a value: --${name} ${f?.arg ?? 'VALUE'} (a value starting with "-" is written --${name}=-VALUE)`;
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `takes no arguments, got "${quoted}"`;
    default:
      return err.message;
  }
}

/** The flag an unknown one was most likely meant to be: a prefix, or one or two letters off. */
function closest(word: string, names: string[]): string | undefined {
  if (!word) return undefined;
  const prefixed = names.filter((n) => n.startsWith(word) || word.startsWith(n));
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestDistance = word.length <= 4 ? 2 : 3;
  for (const n of names) {
    const d = editDistance(word, n);
    if (d < bestDistance) [best, bestDistance] = [n, d];
  }
  return best;
}

/** `vbat <command> --help`: synopsis, what it does, arguments and every option explained. */
export function helpText(spec: CommandSpec): string {
  const out: string[] = [];
  spec.usage.forEach((u, i) => out.push(...synopsis(`${i === 0 ? 'Usage: ' : '       '}vbat ${u}`)));
  for (const p of spec.description) out.push('', ...wrap(p, WIDTH));
  const flags = Object.entries(allFlags(spec)).map(([n, f]) => [flagLabel(n, f), f.help] as const);
  const rows = [...(spec.args ?? []), ...flags];
  const col = Math.min(24, Math.max(...rows.map(([label]) => label.length)) + 2);
  const table = (items: readonly (readonly [string, string])[]) => {
    for (const [label, help] of items) {
      const lines = wrap(help, WIDTH - 2 - col);
      if (label.length + 2 > col) out.push(`  ${label}`, ...lines.map((l) => `${' '.repeat(col + 2)}${l}`));
      else out.push(...lines.map((l, i) => `  ${(i === 0 ? label : '').padEnd(col)}${l}`));
    }
  };
  if (spec.args?.length) {
    out.push('', 'Arguments:');
    table(spec.args);
  }
  out.push('', 'Options:');
  table(flags);
  for (const p of spec.notes ?? []) out.push('', ...(p.includes('\n') ? p.split('\n') : wrap(p, WIDTH)));
  return `${out.join('\n')}\n`;
}

/** A synopsis too long for the width goes on under the command, broken before an option. */
function synopsis(line: string): string[] {
  if (line.length <= WIDTH) return [line];
  const indent = ' '.repeat(line.indexOf('vbat ') + 5 + line.slice(line.indexOf('vbat ') + 5).indexOf(' ') + 1);
  const out: string[] = [];
  let cur = '';
  for (const part of line.split(/ (?=\[)/)) {
    if (cur && cur.length + 1 + part.length > WIDTH) {
      out.push(cur);
      cur = indent + part;
    } else cur = cur ? `${cur} ${part}` : part;
  }
  return [...out, cur];
}

/** Greedy word wrap; a word longer than the width stands on its own line. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** --var name=value; numbers and true/false are typed, anything else is a string. */
export function parseVars(list: string[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`--var expects NAME=VALUE, got "${item}"`);
    const raw = item.slice(eq + 1);
    out[item.slice(0, eq)] =
      raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return out;
}
