#!/usr/bin/env node
/**
 * vbat's command line. Declares the commands, parses arguments, and is the only place that
 * exits the process: commands return data or throw.
 */
import { parseArgs } from 'node:util';
import { FileProblemsError, UsageError } from '../errors.js';
import { parse, parseVars } from './args.js';
import { check } from './check.js';
import { demo } from './demo.js';
import { run } from './run.js';
import { renderCheck } from './table.js';
import { watch } from './watch.js';

const USAGE = `vbat — bring any battery's MQTT data into Victron Venus OS

Usage:
  vbat check MAPPING PAYLOAD... [--json] [--topic FILTER] [--var NAME=VALUE]...
      Validate a mapping and show what it would put on D-Bus for each payload file
      (a JSON payload, or a capture: a JSON object of topic → payload text).
      Exit 0 when all is well, 1 on mapping errors or a payload missing required inputs,
      2 on usage errors.
  vbat run [--config FILE] [--broker URL] [--topic TOPIC] [--mapping FILE] ...
      Run the MQTT → D-Bus battery daemon (vbat run --help lists the options).
  vbat demo [--bus ADDRESS] [--port PORT] [--duration SECONDS] [--once]
      Try vbat with nothing set up: embedded MQTT broker, private D-Bus, a simulated BMS,
      and a live view of the battery as Venus OS sees it, until Ctrl-C.
  vbat watch [SERVICE] [--bus ADDRESS] [--json] [--duration SECONDS]
      Live view of a com.victronenergy.battery.* service on a D-Bus (default: the system bus);
      --json prints every path once.
  vbat help
`;

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  check: runCheck,
  run,
  demo: (args) => demo(args),
  watch: (args) => watch(args),
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
