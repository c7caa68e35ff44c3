#!/usr/bin/env node
/**
 * vbat's command line. Declares the commands, parses arguments, and is the only place that
 * exits the process: commands return data or throw.
 */
import { parseArgs } from 'node:util';
import { FileProblemsError, UsageError } from '../errors.js';
import { check } from './check.js';
import { renderCheck } from './table.js';

const USAGE = `vbat — bring any battery's MQTT data into Victron Venus OS

Usage:
  vbat check MAPPING PAYLOAD... [--json] [--topic FILTER] [--var NAME=VALUE]...
      Validate a mapping and show what it would put on D-Bus for each payload file
      (a JSON payload, or a capture: a JSON object of topic → payload text).
      Exit 0 when all is well, 1 on mapping errors or a payload missing required inputs,
      2 on usage errors.
  vbat help
`;

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  check: runCheck,
  help: async () => {
    process.stdout.write(USAGE);
    return 0;
  },
};

async function runCheck(args: string[]): Promise<number> {
  const { values, positionals } = parse(() =>
    parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        topic: { type: 'string' },
        var: { type: 'string', multiple: true },
        help: { type: 'boolean', default: false },
      },
    }),
  );
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [mapping, ...payloads] = positionals;
  if (!mapping || payloads.length === 0) throw new UsageError('vbat check needs a mapping file and at least one payload file');
  const result = await check({ mapping, payloads, topic: values.topic, variables: parseVars(values.var) });
  process.stdout.write((values.json ? JSON.stringify(result, null, 2) : renderCheck(result)) + '\n');
  return result.ok && result.problems.length === 0 ? 0 : 1;
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

/** Runs a parseArgs call, turning its complaints into usage errors (exit 2). */
export function parse<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  try {
    if (!command) throw new UsageError(`unknown command "${name}"`);
    return await command(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`vbat: ${err.message}\nRun "vbat help" for usage.\n`);
      return 2;
    }
    if (err instanceof FileProblemsError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`vbat: internal error: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 70;
  },
);
