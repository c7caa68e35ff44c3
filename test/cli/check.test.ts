/** `vbat check` end to end, as a user runs it. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { fixture, mappingFile } from '../support/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'vbat-check-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('the full seed payload: 169 paths with the seed texts, exit 0', async () => {
  const r = await runCli(['check', mappingFile('default.yaml'), fixture('seed', 'seed-full.json')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /169 paths, OK/);
  assert.match(r.stdout, /^\/Dc\/0\/Power\s+321\.6\s+d\s+321W\s*$/m);
  assert.match(r.stdout, /^\/Voltages\/Diff\s+0\.025\s+d\s+0\.025V\s+derived$/m);
  assert.match(r.stdout, /^\/Alarms\/BmsCable\s+\(invalid\)\s+ai\s+---\s+invalid$/m);
  assert.match(r.stdout, /169 paths: \d+ valid, \d+ invalid, 3 derived, 0 warnings/);
});

test('--json prints the same as data', async () => {
  const r = await runCli(['check', '--json', mappingFile('default.yaml'), fixture('seed', 'seed-min.json')]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.ok, true);
  const paths = out.payloads[0].paths as { path: string; value: unknown; text: string; type: string; source: string }[];
  assert.equal(paths.length, 169);
  assert.deepEqual(
    paths.find((p) => p.path === '/Dc/0/Current'),
    { path: '/Dc/0/Current', type: 'd', value: 6.102, text: '6.1A', source: 'derived', invalid: false, outOfRange: false },
  );
});

test('a payload missing required inputs: exit 1 and says which', async () => {
  const file = join(tmp, 'no-soc.json');
  writeFileSync(file, JSON.stringify({ Dc: { Power: 1, Voltage: 50 } }));
  const r = await runCli(['check', mappingFile('default.yaml'), file]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /REJECTED: required input missing or invalid for \/Soc/);
});

test('warnings are marked but do not fail the check', async () => {
  const file = join(tmp, 'hot.json');
  writeFileSync(file, JSON.stringify({ Dc: { Power: 1, Voltage: 50, Temperature: 'hot' }, Soc: 10 }));
  const r = await runCli(['check', mappingFile('default.yaml'), file]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^\/Dc\/0\/Temperature\s+\(invalid\)\s+ai\s+---\s+WARNING, invalid$/m);
  assert.match(r.stdout, /warning: \/Dc\/0\/Temperature: expected a number, got the string "hot"/);
});

test('a broken mapping: exit 1 with file:line reasons', async () => {
  const file = join(tmp, 'broken.yaml');
  writeFileSync(file, 'paths:\n  /Soc:\n    type: d\n    value: Soc +\n');
  const r = await runCli(['check', file, fixture('seed', 'seed-min.json')]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4: /Soc value: JSONata error`));
});

test('usage errors exit 2', async () => {
  assert.equal((await runCli(['check', mappingFile('default.yaml')])).code, 2);
  assert.equal((await runCli(['check', '--nope', 'a', 'b'])).code, 2);
  assert.equal((await runCli(['frobnicate'])).code, 2);
});

test('an unreadable or malformed payload file fails the check', async () => {
  const file = join(tmp, 'bad.json');
  writeFileSync(file, '{"Soc": ');
  const r = await runCli(['check', mappingFile('default.yaml'), file, join(tmp, 'missing.json')]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /ERROR: not valid JSON/);
  assert.match(r.stdout, /ERROR: cannot read/);
});

const ESPHOME = fixture('foreign', 'esphome-jk-bms', 'mqtt-capture.json');

test('mosquitto_sub -v output and JSON lines read like the topic object they record', async () => {
  const capture = JSON.parse(readFileSync(ESPHOME, 'utf8')) as Record<string, string>;
  const sub = join(tmp, 'esphome.txt');
  writeFileSync(
    sub,
    Object.entries(capture)
      .map(([t, p]) => `${t} ${p}\n`)
      .join(''),
  );
  const lines = join(tmp, 'esphome.jsonl');
  writeFileSync(
    lines,
    Object.entries(capture)
      .map(([topic, payload]) => JSON.stringify({ topic, payload }) + '\n')
      .join(''),
  );
  const results = [];
  for (const f of [ESPHOME, sub, lines]) {
    const r = await runCli(['check', '--json', mappingFile('esphome-jk-bms.yaml'), f]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    results.push(JSON.parse(r.stdout).payloads[0].paths);
  }
  assert.equal(results[0].find((p: { path: string }) => p.path === '/Dc/0/Voltage').value, 54.66);
  assert.deepEqual(results[1], results[0]);
  assert.deepEqual(results[2], results[0]);
});

test('a timed capture is replayed in order: --steps shows each message, a refusal, and the battery going stale', async () => {
  const file = join(tmp, 'timed.jsonl');
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, s)).toISOString();
  writeFileSync(
    file,
    [
      { topic: 'bms', payload: { Dc: { Power: -632.4000000000001, Voltage: 52.7 }, Soc: 63 }, time: at(0) },
      { topic: 'bms', payload: 'garbage', time: at(5) },
      { topic: 'other', payload: '{}', time: at(6) },
      { topic: 'bms', payload: { Dc: { Power: 1, Voltage: 52.8 }, Soc: 64 }, time: at(8), retained: true },
      { topic: 'bms', payload: { Dc: { Power: 1, Voltage: 52.8 }, Soc: 64 }, time: at(40) },
    ]
      .map((m) => JSON.stringify(m))
      .join('\n'),
  );
  const r = await runCli(['check', mappingFile('default.yaml'), file, '--topic', 'bms', '--timeout', '20', '--steps']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ {2}\+0s {2}bms → published$/m);
  assert.match(r.stdout, /^ {6}\/Dc\/0\/Power = -632\.4 {2}\(-632W\)$/m, 'no float noise');
  assert.match(r.stdout, /^ {2}\+5s {2}bms → refused\n {6}bad message on bms: not valid JSON/m);
  assert.match(r.stdout, /^ {2}\+6s {2}other → ignored$/m);
  assert.match(r.stdout, /^ {2}\+8s {2}bms → refused$/m, 'retained: not proof of a live BMS');
  assert.match(
    r.stdout,
    /^ {2}\+20s {2}clock\n {6}no valid message on bms for 20 s\n {6}battery stale .*\n {6}\/Dc\/0\/Power = \(invalid\) {2}\(---\)/m,
  );
  assert.match(r.stdout, /^ {2}\+40s {2}bms → published\n {6}data is arriving/m);
  assert.match(r.stdout, /refused message on bms: retained message/);
  assert.match(r.stdout, /^\/Soc\s+64\s+d\s+64%$/m, 'the final state');

  // The same capture cut before the last message ends stale.
  writeFileSync(
    file,
    readFileSync(file, 'utf8').split('\n').slice(0, 4).join('\n') + '\n' + JSON.stringify({ topic: 'x', payload: 1, time: at(30) }),
  );
  const stale = await runCli(['check', '--json', mappingFile('default.yaml'), file, '--topic', 'bms', '--timeout', '20']);
  const out = JSON.parse(stale.stdout);
  assert.equal(out.payloads[0].stale, true);
  assert.equal(out.payloads[0].paths.find((p: { path: string }) => p.path === '/Dc/0/Power').value, null);
});

test('an unknown --var is an error, with the name it was probably meant to be', async () => {
  const r = await runCli(['check', mappingFile('default.yaml'), fixture('seed', 'seed-min.json'), '--var', 'ttgsoc=20']);
  assert.equal(r.code, 1);
  assert.match(
    r.stdout,
    /<command line>: --var ttgsoc: variable "ttgsoc" is not declared by the mapping .*default\.yaml \(did you mean ttgSoc\?\)/,
  );
});

test('an unknown --var is reported in the same pass as the problems of the mapping; a name like toString is unknown too', async () => {
  const bad = join(tmp, 'broken-with-vars.yaml');
  writeFileSync(
    bad,
    [
      'variables:',
      '  cells: {default: 16}',
      'paths:',
      '  /Soc: {type: d, value: Soc}',
      '  /Info/MaxChargeCurent: {type: d, value: x}',
      '',
    ].join('\n'),
  );
  const r = await runCli(['check', bad, fixture('seed', 'seed-min.json'), '--var', 'cell=8', '--var', 'toString=1']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /broken-with-vars\.yaml:5: \/Info\/MaxChargeCurent: .*did you mean \/Info\/MaxChargeCurrent\?/);
  assert.match(r.stdout, /<command line>: --var cell: variable "cell" is not declared .*\(did you mean cells\?\)/);
  assert.match(r.stdout, /<command line>: --var toString: variable "toString" is not declared/);

  const config = join(tmp, 'config-broken.yaml');
  writeFileSync(
    config,
    ['batteries:', '  - name: shed', '    topic: bms/shed', '    mapping: broken-with-vars.yaml', '    variables: {cell: 8}', ''].join(
      '\n',
    ),
  );
  const ran = await runCli(['run', '--config', config, '--bus', `unix:path=${join(tmp, 'no-bus')}`]);
  assert.equal(ran.code, 1);
  const refusals = ran.stderr.trim().split('\n');
  assert.equal(refusals.length, 2, ran.stderr);
  assert.ok(
    refusals.some((l) => /config-broken\.yaml:5: battery shed › variables › cell: variable "cell" is not declared/.test(l)),
    ran.stderr,
  );
  assert.ok(
    refusals.some((l) => /broken-with-vars\.yaml:5: battery shed › \/Info\/MaxChargeCurent/.test(l)),
    ran.stderr,
  );
  const checked = await runCli(['check', '--config', config, fixture('seed', 'seed-min.json')]);
  for (const line of refusals) assert.ok(checked.stdout.includes(line), `check reports it too: ${line}\n${checked.stdout}`);
});

test('--config checks every battery as run would, and refuses exactly what run refuses', async () => {
  const bad = join(tmp, 'bad-mapping.yaml');
  writeFileSync(bad, 'paths:\n  /Soc: {type: d, value: Soc}\n  /CustomName: {type: s, value: name}\n');
  const config = join(tmp, 'config.yaml');
  const good = ['batteries:', '  - name: house', '    topic: bms/house', '    variables: {ttgSoc: 20}'];
  writeFileSync(
    config,
    [
      'batteries:',
      '  - name: house',
      '    topic: bms/house',
      '    variables: {ttgSok: 20}',
      '  - name: shed',
      '    instance: 101',
      '    topic: bms/shed',
      '    mapping: bad-mapping.yaml',
      '',
    ].join('\n'),
  );
  const checked = await runCli(['check', '--config', config, fixture('seed', 'seed-min.json')]);
  assert.equal(checked.code, 1);
  const ran = await runCli(['run', '--config', config, '--bus', `unix:path=${join(tmp, 'no-bus')}`]);
  assert.equal(ran.code, 1);
  const refusals = ran.stderr.trim().split('\n');
  assert.equal(refusals.length, 2, ran.stderr);
  assert.match(
    refusals[0]!,
    /config\.yaml:4: battery house › variables › ttgSok: variable "ttgSok" is not declared .*\(did you mean ttgSoc\?\)/,
  );
  assert.match(refusals[1]!, /bad-mapping\.yaml:3: battery shed › \/CustomName: \/CustomName is a service path/);
  for (const line of refusals) assert.ok(checked.stdout.includes(line), `check reports it too: ${line}\n${checked.stdout}`);

  writeFileSync(
    config,
    [
      ...good,
      '  - name: jk',
      '    instance: 101',
      `    mapping: ${mappingFile('esphome-jk-bms.yaml')}`,
      '    variables: {chargeCellVoltage: 3.5}',
      '',
    ].join('\n'),
  );
  const capture = join(tmp, 'both.jsonl');
  const esphome = Object.entries(JSON.parse(readFileSync(ESPHOME, 'utf8')) as Record<string, string>);
  writeFileSync(
    capture,
    [
      JSON.stringify({ topic: 'bms/house', payload: readFileSync(fixture('seed', 'seed-min.json'), 'utf8') }),
      ...esphome.map(([topic, payload]) => JSON.stringify({ topic, payload })),
    ].join('\n'),
  );
  const r = await runCli(['check', '--json', '--config', config, capture]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout) as {
    batteries: { name: string; payloads: { ignored: number; paths: { path: string; value: unknown }[] }[] }[];
  };
  assert.deepEqual(
    out.batteries.map((b) => b.name),
    ['house', 'jk'],
  );
  const value = (b: number, path: string) => out.batteries[b]!.payloads[0]!.paths.find((p) => p.path === path)!.value;
  assert.equal(value(0, '/Soc'), 63);
  assert.equal(out.batteries[0]!.payloads[0]!.ignored, esphome.length, 'house subscribes to bms/house only');
  assert.equal(value(1, '/Info/MaxChargeVoltage'), 56, "the config's chargeCellVoltage, 16 × 3.5 V");
  assert.equal(
    out.batteries[1]!.payloads[0]!.ignored,
    2,
    "jk takes its mapping's topic, jk-bms/#: bms/house is outside it, jk-bms/status is its availability topic",
  );
});
