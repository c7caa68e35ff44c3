#!/usr/bin/env node
/**
 * vbat's command line. Declares the commands, dispatches to them, and is the only place that
 * exits the process: commands return data or throw. Each command's help comes from its own
 * CommandSpec (src/cli/args.ts), so `vbat help X` and `vbat X --help` print the same text.
 */
import { FileProblemsError, UsageError } from '../errors.js';
import { VERSION } from '../version.js';
import { helpText, wrap, type CommandSpec } from './args.js';
import { CAPTURE_COMMAND, capture } from './capture.js';
import { CHECK_COMMAND, checkCommand } from './check.js';
import { INIT_COMMAND, init } from './init.js';
import { DEMO_COMMAND, demo } from './demo.js';
import { IMPORT_SEED_COMMAND, importSeedCommand } from './import-seed.js';
import { run, RUN_COMMAND } from './run.js';
import { watch, WATCH_COMMAND } from './watch.js';

interface Command {
  spec: CommandSpec;
  run: (args: string[]) => Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  demo: { spec: DEMO_COMMAND, run: (args) => demo(args) },
  run: { spec: RUN_COMMAND, run },
  watch: { spec: WATCH_COMMAND, run: (args) => watch(args) },
  check: { spec: CHECK_COMMAND, run: (args) => checkCommand(args) },
  'import-seed-config': { spec: IMPORT_SEED_COMMAND, run: (args) => importSeedCommand(args) },
  capture: { spec: CAPTURE_COMMAND, run: (args) => capture(args) },
  init: { spec: INIT_COMMAND, run: (args) => init(args) },
};

const NAMES = Object.keys(COMMANDS).join(', ');

function usage(): string {
  const out = [`vbat ${VERSION} — bring any battery's MQTT data into Victron Venus OS`, '', 'Usage:'];
  for (const { spec } of Object.values(COMMANDS)) {
    out.push(`  vbat ${spec.usage[0]}`);
    out.push(...wrap(spec.summary, 72).map((l) => `      ${l}`));
  }
  out.push(
    '  vbat help [COMMAND]',
    "      This help, or a command's own with every option explained",
    '      (the same as vbat COMMAND --help).',
    '  vbat --version',
    '      Print the version.',
    '',
    'Start with vbat demo. The README says more; config.sample.yaml documents every',
    'setting of vbat run --config.',
  );
  return `${out.join('\n')}\n`;
}

async function help(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (rest.length) throw new UsageError(`help takes one COMMAND at most, got: ${args.join(' ')}`);
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`no command "${name}"; the commands are ${NAMES}`);
  process.stdout.write(helpText(command.spec));
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) {
    process.stdout.write(usage());
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') return help(name === 'help' ? rest : []).catch(usageError());
  if (name === '--version' || name === '-V') {
    process.stdout.write(`vbat ${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    const what = name.startsWith('-') ? `unknown option ${name} before the command` : `unknown command "${name}"`;
    process.stderr.write(`vbat: ${what}; the commands are ${NAMES}\nRun "vbat help" for usage.\n`);
    return 2;
  }
  return command.run(rest).catch(usageError(name));
}

/** A command's usage and file errors: one message, a pointer to its help, and the exit code. */
function usageError(name?: string): (err: unknown) => number {
  return (err) => {
    if (err instanceof UsageError) {
      const hint = name ? `Run "vbat ${name} --help" for its usage.` : 'Run "vbat help" for usage.';
      process.stderr.write(`vbat${name ? ` ${name}` : ''}: ${err.message}\n${hint}\n`);
      return 2;
    }
    if (err instanceof FileProblemsError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  };
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
