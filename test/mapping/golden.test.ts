/**
 * Golden tests: the default mapping against what the original driver (v1.0.12) put on D-Bus for
 * the seed's documented payloads (test/fixtures/seed/expected, see its README). Values and texts
 * must match exactly; D-Bus types follow the contract, which fixes doubles for measurements where
 * the original used the JSON literal's type.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DocumentBuilder } from '../../src/input/index.js';
import { Evaluator, loadMapping } from '../../src/mapping/index.js';
import { fixture, mappingFile } from '../support/paths.js';

interface ExpectedItem {
  Value: unknown;
  Text: string;
  Type: string;
}

/** Paths the original typed by the JSON literal (int) that the contract makes doubles. */
const CONTRACT_TYPES: Record<string, string> = {
  '/Dc/0/Temperature': 'd',
  '/Soc': 'd',
  '/Soh': 'd',
  '/TimeToGo': 'd',
};

/**
 * Where vbat deliberately publishes more than the original: it left /System/NrOfCellsPerBattery
 * at the payload's 0, which dbus-aggregate-batteries cannot use; vbat counts the cells.
 */
const DERIVED_BY_VBAT: Record<string, Record<string, ExpectedItem>> = {
  'seed-full': { '/System/NrOfCellsPerBattery': { Value: 24, Text: '24', Type: 'i' } },
};

/** Paths the service adds (identity, management); the mapping owns the 169 data paths. */
const SERVICE_PATHS = new Set([
  '/Mgmt/ProcessName',
  '/Mgmt/ProcessVersion',
  '/Mgmt/Connection',
  '/DeviceInstance',
  '/ProductId',
  '/ProductName',
  '/CustomName',
  '/FirmwareVersion',
  '/Connected',
  '/UpdateIndex',
  '/Latency',
]);

async function evaluateSeed(name: string) {
  const mapping = loadMapping(mappingFile('default.yaml'));
  const expected = JSON.parse(readFileSync(fixture('seed', 'expected', `${name}.json`), 'utf8')) as { items: Record<string, ExpectedItem> };
  const builder = new DocumentBuilder({ input: mapping.input, topics: ['battery'] });
  const accepted = builder.accept('battery', readFileSync(fixture('seed', `${name}.json`)));
  assert.ok(accepted.ok);
  const ev = await new Evaluator(mapping).evaluate(accepted.doc);
  return { mapping, expected: expected.items, ev };
}

for (const name of ['seed-full', 'seed-min']) {
  test(`default mapping reproduces the original driver on ${name}.json`, async () => {
    const { mapping, expected, ev } = await evaluateSeed(name);
    const dataPaths = Object.keys(expected)
      .filter((p) => !SERVICE_PATHS.has(p))
      .sort();
    assert.equal(dataPaths.length, 169);
    assert.deepEqual(mapping.paths.map((p) => p.path).sort(), dataPaths, 'the mapping exports exactly the original data paths');
    assert.deepEqual(ev.missingRequired, []);
    for (const p of mapping.paths) {
      const want = DERIVED_BY_VBAT[name]?.[p.path] ?? expected[p.path]!;
      const value = ev.values[p.index];
      assert.equal(value, want.Value, `${p.path} value`);
      assert.equal(ev.texts[p.index], want.Text, `${p.path} text`);
      assert.equal(ev.problems[p.index], undefined, `${p.path} has no warning`);
      const wantType = want.Type === 'ai' ? undefined : (CONTRACT_TYPES[p.path] ?? want.Type);
      if (wantType) assert.equal(p.type, wantType, `${p.path} D-Bus type`);
    }
  });
}

test('measurements are doubles; alarms, counters and flags int32; ids strings', () => {
  const mapping = loadMapping(mappingFile('default.yaml'));
  const typeOf = (path: string) => mapping.byPath.get(path)!.type;
  for (const p of [
    '/Dc/0/Power',
    '/Dc/0/Voltage',
    '/Dc/0/Current',
    '/Dc/0/Temperature',
    '/Soc',
    '/Capacity',
    '/Info/MaxChargeVoltage',
    '/Info/MaxChargeCurrent',
    '/Info/MaxDischargeCurrent',
    '/Voltages/Cell7',
    '/System/MinCellVoltage',
  ])
    assert.equal(typeOf(p), 'd', p);
  for (const p of ['/Alarms/LowVoltage', '/Balances/Cell3', '/History/ChargeCycles', '/System/NrOfModulesOnline', '/Io/AllowToCharge'])
    assert.equal(typeOf(p), 'i', p);
  for (const p of ['/System/MinVoltageCellId', '/Info/ChargeMode']) assert.equal(typeOf(p), 's', p);
});
