/**
 * The command line a person expects: each command's own help with every option explained,
 * `vbat help COMMAND`, `vbat --version`, and usage errors that say what exists. The texts come
 * from each command's CommandSpec; a few runs of the real CLI check the wiring end to end.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { helpText, parseCommand, wrap, type CommandSpec } from '../../src/cli/args.js';
import { CAPTURE_COMMAND } from '../../src/cli/capture.js';
import { CHECK_COMMAND } from '../../src/cli/check.js';
import { INIT_COMMAND } from '../../src/cli/init.js';
import { DEMO_COMMAND } from '../../src/cli/demo.js';
import { IMPORT_SEED_COMMAND } from '../../src/cli/import-seed.js';
import { RUN_COMMAND, RUN_USAGE, runFlags } from '../../src/cli/run.js';
import { WATCH_COMMAND } from '../../src/cli/watch.js';
import { UsageError } from '../../src/errors.js';
import { VERSION } from '../../src/version.js';
import { runCli } from '../support/cli.js';
import { repoRoot } from '../support/paths.js';

const SPECS: CommandSpec[] = [CHECK_COMMAND, RUN_COMMAND, WATCH_COMMAND, DEMO_COMMAND, IMPORT_SEED_COMMAND, CAPTURE_COMMAND, INIT_COMMAND];
const packageVersion = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

/** The message of the UsageError fn throws. */
function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UsageError, `a UsageError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('no usage error');
}

describe('each command explains itself', () => {
  for (const spec of SPECS) {
    test(`vbat ${spec.name} --help: its own synopsis, and every option with an explanation`, () => {
      const text = helpText(spec);
      assert.match(text, new RegExp(`^Usage: vbat ${spec.name} `));
      for (const line of text.split('\n')) assert.ok(line.length <= 79, `fits 80 columns: "${line}"`);
      const flags = { ...spec.flags, help: { type: 'boolean', help: '' } };
      for (const [name, f] of Object.entries(flags)) {
        // The option's line: the flag (with its value's name), then words explaining it.
        const label = `--${name}${f.type === 'string' ? ` ${'arg' in f ? f.arg : 'VALUE'}` : ''}`;
        const line = text.split('\n').find((l) => l.includes(label) && /^\s+(-\w, )?--/.test(l));
        assert.ok(line, `${spec.name}: --${name} is listed as ${label}`);
        const after = line.slice(line.indexOf(label) + label.length).trim();
        const next = text.split('\n')[text.split('\n').indexOf(line) + 1] ?? '';
        assert.match(after || next, /\w+ \w+/, `${spec.name}: --${name} is explained`);
      }
      for (const [arg] of spec.args ?? []) assert.match(text, new RegExp(`^  ${arg}\\s+\\S`, 'm'), `${spec.name}: ${arg} is explained`);
    });
  }

  test('vbat run --help explains --var, --log-level and --config (once listed, never explained)', () => {
    assert.match(RUN_USAGE, /^ {2}--var NAME=VALUE\s+set a mapping variable/m);
    assert.match(RUN_USAGE, /^ {2}--log-level LEVEL\s+error, warn, info or debug/m);
    assert.match(RUN_USAGE, /^ {2}--config FILE\s+the config file/m);
  });

  test('wrap: words never split, lines within the width', () => {
    assert.deepEqual(wrap('a bb ccc dddd', 6), ['a bb', 'ccc', 'dddd']);
    assert.deepEqual(wrap('  spaced   out  ', 20), ['spaced out']);
    assert.deepEqual(wrap('unbreakable-word-longer-than-width', 5), ['unbreakable-word-longer-than-width']);
  });
});

describe('flag parsing by the spec', () => {
  test('values are typed; a repeated flag collects; -h is --help', () => {
    const { values, positionals } = parseCommand(CHECK_COMMAND, ['m.yaml', '--var', 'a=1', 'p.json', '--var', 'b=x', '--json']);
    assert.deepEqual(positionals, ['m.yaml', 'p.json']);
    assert.deepEqual(values.var, ['a=1', 'b=x']);
    assert.equal(values.json, true);
    assert.equal(values.help, false);
    assert.equal(parseCommand(RUN_COMMAND, ['-h']).values.help, true);
  });

  test('an unknown flag names every flag the command has, and the likely one', () => {
    for (const spec of SPECS) {
      const msg = usageMessage(() => parseCommand(spec, ['--frobnicate']));
      assert.match(msg, new RegExp(`^unknown option --frobnicate; vbat ${spec.name} takes `));
      for (const name of [...Object.keys(spec.flags), 'help'])
        assert.ok(msg.includes(`--${name}`), `${spec.name}: lists --${name}: ${msg}`);
    }
    assert.match(
      usageMessage(() => parseCommand(WATCH_COMMAND, ['--jsn'])),
      /unknown option --jsn \(did you mean --json\?\)/,
    );
    assert.match(
      usageMessage(() => parseCommand(RUN_COMMAND, ['--log'])),
      /did you mean --log-level\?/,
    );
    assert.match(
      usageMessage(() => parseCommand(RUN_COMMAND, ['--var=a=1', '-x'])),
      /^unknown option -x; vbat run takes --config FILE, --broker URL/,
    );
  });

  test('a missing value, a value for a switch, a stray argument', () => {
    assert.equal(
      usageMessage(() => parseCommand(RUN_COMMAND, ['--topic'])),
      '--topic needs a value: --topic TOPIC (a value starting with "-" is written --topic=-VALUE)',
    );
    assert.equal(
      usageMessage(() => parseCommand(WATCH_COMMAND, ['--json=yes'])),
      '--json takes no value',
    );
    assert.equal(
      usageMessage(() => parseCommand(DEMO_COMMAND, ['now'])),
      'takes no arguments, got "now"',
    );
  });

  test('vbat run: numbers and log levels are checked; --help needs nothing else to be right', () => {
    assert.equal(
      usageMessage(() => runFlags(['--instance', 'ten'])),
      '--instance expects a number, got "ten"',
    );
    assert.equal(
      usageMessage(() => runFlags(['--log-level', 'loud'])),
      '--log-level expects one of error, warn, info, debug, got "loud"',
    );
    assert.equal(runFlags(['--instance', 'ten', '--help']).help, true);
    assert.deepEqual(runFlags(['--topic', 'bms/x', '--var', 'n=16', '--log-level', 'debug']).flags, {
      broker: undefined,
      topic: 'bms/x',
      mapping: undefined,
      instance: undefined,
      timeout: undefined,
      bus: undefined,
      name: undefined,
      logLevel: 'debug',
      variables: { n: 16 },
    });
  });
});

describe('the vbat command line', () => {
  test("vbat check --help prints check's help, not the general usage; vbat help check the same", async () => {
    const [flag, short, viaHelp] = await Promise.all([runCli(['check', '--help']), runCli(['check', '-h']), runCli(['help', 'check'])]);
    assert.equal(flag.code, 0, flag.stderr);
    assert.equal(flag.stdout, helpText(CHECK_COMMAND));
    assert.equal(short.stdout, flag.stdout);
    assert.equal(viaHelp.code, 0, viaHelp.stderr);
    assert.equal(viaHelp.stdout, flag.stdout);
    assert.equal(flag.stderr + viaHelp.stderr, '');
  });

  test('vbat help COMMAND for every command, and vbat help / --help for the overview', async () => {
    const runs = await Promise.all([...SPECS.map((s) => runCli(['help', s.name])), runCli(['help']), runCli(['--help'])]);
    SPECS.forEach((s, i) => {
      assert.equal(runs[i]!.code, 0, runs[i]!.stderr);
      assert.equal(runs[i]!.stdout, helpText(s), `vbat help ${s.name}`);
    });
    const [overview, dashed] = runs.slice(SPECS.length) as [Awaited<ReturnType<typeof runCli>>, Awaited<ReturnType<typeof runCli>>];
    assert.equal(overview.code, 0);
    assert.equal(dashed.stdout, overview.stdout);
    for (const s of SPECS) assert.ok(overview.stdout.includes(`  vbat ${s.usage[0]}\n`), `the overview lists vbat ${s.name}`);
    assert.match(overview.stdout, /vbat help \[COMMAND\]/);
    assert.match(overview.stdout, /vbat --version/);
  });

  test('vbat --version prints the version of package.json', async () => {
    assert.equal(VERSION, packageVersion, 'src/version.ts is kept in step with package.json');
    const r = await runCli(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `vbat ${packageVersion}\n`);
  });

  test('usage errors: exit 2, what is wrong, what exists, and where the help is', async () => {
    const [flag, command, help, none] = await Promise.all([
      runCli(['watch', '--nope']),
      runCli(['frobnicate']),
      runCli(['help', 'frobnicate']),
      runCli([]),
    ]);
    assert.equal(flag.code, 2);
    assert.equal(flag.stdout, '');
    assert.equal(
      flag.stderr,
      'vbat watch: unknown option --nope; vbat watch takes --bus ADDRESS, --json, --duration SECONDS, --help\nRun "vbat watch --help" for its usage.\n',
    );
    assert.equal(command.code, 2);
    assert.match(
      command.stderr,
      /^vbat: unknown command "frobnicate"; the commands are demo, run, watch, check, import-seed-config, capture, init\nRun "vbat help" for usage\.\n$/,
    );
    assert.equal(help.code, 2);
    assert.match(
      help.stderr,
      /^vbat: no command "frobnicate"; the commands are demo, run, watch, check, import-seed-config, capture, init\n/,
    );
    assert.equal(none.code, 2, 'no command at all is a usage error');
    assert.match(none.stdout, /^vbat \S+ — /);
  });
});
