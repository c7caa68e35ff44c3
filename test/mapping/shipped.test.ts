/** Every shipped mapping compiles and points editors at the schema. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadMapping } from '../../src/mapping/index.js';
import { repoRoot } from '../support/paths.js';

const dir = join(repoRoot, 'mappings');
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

test('there are the default and the foreign example mappings', () => {
  for (const f of [
    'default.yaml',
    'esphome-jk-bms.yaml',
    'serialbattery-jsondata.yaml',
    'venus-battery.yaml',
    'packs-json.yaml',
    'opendtu-onbattery.yaml',
    'batmon-ha.yaml',
    'daly-bms-mqtt.yaml',
  ])
    assert.ok(files.includes(f), f);
});

for (const f of files) {
  test(`mappings/${f} references the schema and compiles`, () => {
    const text = readFileSync(join(dir, f), 'utf8');
    assert.match(text.split('\n')[0]!, /^# yaml-language-server: \$schema=\.\.\/schemas\/mapping\.schema\.json$/);
    const m = loadMapping(join(dir, f), { servicePaths: f === 'service-paths.yaml' });
    assert.ok(m.paths.length > 10);
    assert.ok(m.required.length > 0, 'a mapping names its required inputs');
  });
}

test('write-back: only the JK mapping sends commands, each to an ESPHome switch command topic, never retained', () => {
  for (const f of files) {
    const m = loadMapping(join(dir, f), { servicePaths: f === 'service-paths.yaml' });
    const commands = m.paths.filter((p) => p.command);
    if (f !== 'esphome-jk-bms.yaml') {
      assert.deepEqual(
        commands.map((p) => p.path),
        [],
        `${f}: write-back stays off unless declared`,
      );
      continue;
    }
    assert.equal(commands.length, 6);
    for (const p of commands) {
      assert.match(p.command!.topic, /^jk-bms\/switch\/(charging|discharging|balancer)\/command$/, p.path);
      assert.equal(p.command!.retain, false, p.path);
      assert.equal(p.command!.confirmable, true, `${p.path} reads the switch state it is confirmed with`);
      assert.deepEqual([p.min, p.max], [0, 1], p.path);
    }
  }
});

test('every shipped mapping with cell voltages also publishes /Voltages/Sum and /Voltages/Diff', () => {
  for (const f of files.filter((x) => x !== 'service-paths.yaml')) {
    const m = loadMapping(join(dir, f));
    if (!m.byPath.has('/Voltages/Cell1')) continue;
    for (const p of ['/Voltages/Sum', '/Voltages/Diff', '/System/NrOfCellsPerBattery']) assert.ok(m.byPath.has(p), `${f}: ${p}`);
  }
});
