/**
 * The battery helpers on the payload shapes real BMS bridges publish. The shapes are those of the
 * six formats of issue 10's field report: cell arrays, Cell1 keys (dbus-mqtt-battery, the seed),
 * zero-padded cell_NN_voltage keys, {"Reading": x} leaves, mV units, 48 slots of which the unused
 * read 0 V, absent sensors reading -40 °C, nan texts and ON/OFF switches.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Evaluator, parseMapping } from '../../src/mapping/index.js';
import { ah, bit, cells, resetHelperMemo, unit, valid } from '../../src/mapping/helpers.js';

test('$cells: every common shape, one id convention, non-cell keys ignored', () => {
  const shapes: unknown[] = [
    [3.301, 3.302, 3.299],
    { Cell1: 3.301, Cell2: 3.302, Cell3: 3.299, Sum: 9.902, Diff: 0.003 },
    { cell_01_voltage: 3.301, cell_02_voltage: 3.302, cell_03_voltage: 3.299, delta: 0.003 },
    { cell_voltage_1: { Reading: 3.301 }, cell_voltage_2: { Reading: 3.302 }, cell_voltage_3: { Reading: 3.299 } },
    { '1': '3.301', '2': '3.302', '3': '3.299', average: 3.3 },
  ];
  for (const shape of shapes) {
    resetHelperMemo();
    const s = cells(shape)!;
    assert.deepEqual([s.count, s.min, s.minId, s.max, s.maxId], [3, 3.299, 'Cell3', 3.302, 'Cell2'], JSON.stringify(shape));
  }
});

test('$cells: millivolts and unused slots', () => {
  const slots = Object.fromEntries(Array.from({ length: 48 }, (_, i) => [`cell${i + 1}`, i < 16 ? 3412 + i : 0]));
  const s = cells(slots, 'mV', 0.5)!;
  assert.equal(s.count, 16, 'the 32 slots reading 0 V are not cells');
  assert.deepEqual([s.min, s.max, s.minId, s.maxId], [3.412, 3.427, 'Cell1', 'Cell16']);
  resetHelperMemo();
  assert.equal(cells(slots, 'furlongs'), undefined, 'an unknown unit gives nothing, not volts');
});

test('$unit, $ah, $valid, $bit', () => {
  assert.equal(unit(3412, 'mV'), 3.412);
  assert.equal(unit(-12500, 'mA'), -12.5);
  assert.equal(unit(5270, 'cV'), 52.7);
  assert.equal(unit(1.5, 'kW'), 1500);
  assert.equal(unit('52.7', 'V'), 52.7);
  assert.equal(unit(1, 'parsec'), undefined);
  assert.equal(ah(14336, 51.2), 280);
  assert.equal(ah(100, 0), undefined);
  for (const none of ['nan', 'NaN', ' unavailable ', NaN, null, '']) assert.equal(valid(none), undefined, String(none));
  assert.equal(valid(-40, -40), undefined);
  assert.equal(valid('65535', 65535), undefined);
  assert.equal(valid(23.5, -40), 23.5);
  assert.equal(bit(0b1010, 1), 1);
  assert.equal(bit('10', 0), 0);
});

test('in a mapping: sentinels make the path invalid without a warning; units and cells', async () => {
  const m = parseMapping(`
paths:
  /Dc/0/Temperature: {type: d, value: "$valid(t1, -40)"}
  /Dc/0/Voltage: {type: d, value: "$unit(mv, 'mV')"}
  /System/MinCellVoltage: {type: d, value: "$cells(cells, 'mV', 0.5).min"}
  /System/NrOfCellsPerBattery: {type: i, value: "$cells(cells, 'mV', 0.5).count"}
  /Capacity: {type: d, value: "$ah(wh, $path('/Dc/0/Voltage'))"}
`);
  const ev = await new Evaluator(m).evaluate({ t1: -40, mv: 51200, cells: { c1: 3301, c2: 3299, c3: 0 }, wh: 14336 }, 0);
  assert.deepEqual(ev.values, [null, 51.2, 3.299, 2, 280]);
  assert.equal(ev.problems[0], undefined, 'no warning for a sentinel');
});
