/**
 * `vbat import-seed-config PATH/config.ini [-o FILE]`: a vbat config from the config.ini of
 * mr-manuel's dbus-mqtt-battery, the Python driver most vbat users come from. The result is
 * checked by the same loader `vbat run` uses before it is written; what could not be carried
 * over is said on stderr and kept as comments at the top of the file.
 */
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import yaml from 'js-yaml';
import { loadConfig } from '../config/index.js';
import { FileProblemsError, formatProblem, UsageError } from '../errors.js';
import { importSeedConfig, type SeedImport } from '../seed/index.js';
import { VERSION } from '../version.js';
import { helpText, parseCommand, wrap, type CommandSpec } from './args.js';

export const IMPORT_SEED_COMMAND = {
  name: 'import-seed-config',
  usage: ['import-seed-config PATH/config.ini [-o FILE] [--force]'],
  summary: "Write a vbat config from the config.ini of mr-manuel's dbus-mqtt-battery (the Python driver).",
  description: [
    "Reads the config.ini of dbus-mqtt-battery (on a GX device: /data/etc/dbus-mqtt-battery/config.ini) as the driver itself reads it and writes a vbat config with the same broker, TLS, user and password, topic, device instance, device name, timeout, log level and TimeToGo settings. The battery keeps the seed's JSON, which vbat's default mapping reads.",
    'What cannot be carried over, or works otherwise in vbat, is listed on stderr and as comments at the top of the new file. The new config is checked by the loader vbat run uses; a config.ini the driver itself could not run with is refused with its line.',
  ],
  args: [['PATH/config.ini', "dbus-mqtt-battery's config file"]],
  flags: {
    output: {
      type: 'string',
      short: 'o',
      arg: 'FILE',
      help: 'write the config there (mode 600: it may hold the password) instead of to stdout',
    },
    force: { type: 'boolean', help: 'replace FILE when it exists' },
  },
  notes: [
    'Exit status: 0 written (notes or not), 1 the config.ini cannot be imported or FILE exists, 2 usage.',
    'On the GX device, install.sh --import-seed does this:\n  cd /data/apps/available/vbat\n  node vbat.js import-seed-config /data/etc/dbus-mqtt-battery/config.ini \\\n    -o config.yaml --force',
  ],
} satisfies CommandSpec;

export async function importSeedCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(IMPORT_SEED_COMMAND, args);
  if (values.help) {
    process.stdout.write(helpText(IMPORT_SEED_COMMAND));
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`give one config.ini, got ${positionals.length}`);
  const source = resolve(positionals[0]!);
  const out = values.output === undefined ? undefined : resolve(values.output);
  if (out && existsSync(out) && !values.force) {
    throw new FileProblemsError([{ file: out, reason: 'exists: give --force to replace it' }]);
  }
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (err) {
    throw new FileProblemsError([
      { file: source, reason: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` },
    ]);
  }
  const result = importSeedConfig(source, text);
  const body = seedConfigYaml(result, source);

  // Checked as vbat run will check it, from where it will be (relative paths, the TLS files).
  const tmp = out ? `${out}.new.${process.pid}` : join(mkdtempSync(join(tmpdir(), 'vbat-import-')), 'config.yaml');
  try {
    writeFileSync(tmp, body, { mode: 0o600 });
  } catch (err) {
    throw new FileProblemsError([
      { file: out ?? tmp, reason: `cannot write: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` },
    ]);
  }
  let refused: string[] = [];
  try {
    loadConfig(tmp);
  } catch (err) {
    if (!(err instanceof FileProblemsError)) throw err;
    refused = err.problems.map((p) => formatProblem({ ...p, file: out ?? 'the config' }));
  }
  if (out) renameSync(tmp, out);
  else rmSync(dirname(tmp), { recursive: true, force: true });

  const say = (s: string) => process.stderr.write(`${s}\n`);
  const m = result.config.mqtt;
  const b = result.config.batteries[0];
  say(
    `imported ${source}: broker ${m.url}${m.ca ? ` (CA ${m.ca})` : ''}${m.username ? `, user ${m.username} with password` : ''}, topic ${b.topic}, ` +
      `instance ${b.instance}, name "${b.customName}", timeout ${b.timeout} s, TimeToGo ${b.variables.ttgEnabled ? `to ${b.variables.ttgSoc} % every ${b.variables.ttgInterval} s` : 'off'}`,
  );
  if (result.notes.length) {
    say('not carried over, or different in vbat:');
    for (const n of result.notes)
      say(
        wrap(n, 76)
          .map((l, i) => `${i === 0 ? '  - ' : '    '}${l}`)
          .join('\n'),
      );
  }
  for (const r of refused) say(`vbat run will refuse it until this is fixed: ${r}`);
  if (out) say(`wrote ${out}`);
  else process.stdout.write(body);
  return 0;
}

export function seedConfigYaml(result: SeedImport, source: string): string {
  const head = [
    `vbat config imported from ${source} (mr-manuel's dbus-mqtt-battery) by vbat ${VERSION} import-seed-config.`,
    'Every setting is explained in config.sample.yaml. The battery reads the JSON the seed reads, with the shipped mappings/default.yaml.',
  ];
  if (result.config.mqtt.password) {
    head.push(
      'This file holds the MQTT password, as config.ini did: keep it private (mode 600), or move it to a file named by mqtt.passwordFile.',
    );
  }
  const lines = ['#'];
  for (const p of head) lines.push(...wrap(p, 96).map((l) => `# ${l}`));
  if (result.notes.length) {
    lines.push('#', '# Not carried over, or different in vbat:');
    for (const n of result.notes) lines.push(...wrap(n, 94).map((l, i) => `#${i === 0 ? ' - ' : '   '}${l}`));
  }
  lines.push('');
  return `${lines.join('\n')}\n${yaml.dump(result.config, { lineWidth: -1, noRefs: true, quotingType: '"' })}`;
}
