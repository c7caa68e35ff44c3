import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileFormat, roundPython, toFixedPython } from '../../src/venus/format.js';

// Each row: format, value, what CPython 3.11 prints for `format % value` (recorded with python3).
const PYTHON_PERCENT: [string, number, string][] = [
  ['%.2f', 52.7, '52.70'],
  ['%.2f', 0.125, '0.12'],
  ['%.2f', 0.375, '0.38'],
  ['%.2f', -0.125, '-0.12'],
  ['%.2f', 2.675, '2.67'],
  ['%.2f', 1.005, '1.00'],
  ['%.2f', 77.10000000000001, '77.10'],
  ['%.2f', 0, '0.00'],
  ['%.2f', -0, '-0.00'],
  ['%.2f', 1e-7, '0.00'],
  ['%.2f', 123456.785, '123456.79'],
  ['%.1f', 0.25, '0.2'],
  ['%.1f', 0.35, '0.3'],
  ['%.1f', 23, '23.0'],
  ['%.1f', -0.05, '-0.1'],
  ['%.1f', 6.102, '6.1'],
  ['%.1f', 9.95, '9.9'],
  ['%.0f', 0.5, '0'],
  ['%.0f', 1.5, '2'],
  ['%.0f', 2.5, '2'],
  ['%.0f', -2.5, '-2'],
  ['%.0f', 43967.5, '43968'],
  ['%i', 321.6, '321'],
  ['%i', -0.5, '0'],
  ['%i', -1.9, '-1'],
  ['%i', 63, '63'],
  ['%i', 2592000, '2592000'],
  ['%.3f', 0.02499999999999991, '0.025'],
  ['%.3f', 3.2105, '3.211'],
  ['%.3f', 0.0005, '0.001'],
];

test('printf directives reproduce Python % formatting, ties to even included', () => {
  for (const [fmt, value, expected] of PYTHON_PERCENT) assert.equal(compileFormat(fmt)(value), expected, `${fmt} % ${value}`);
});

test('Python round() semantics for derived values', () => {
  const cases: [number, number, number][] = [
    [2.675, 2, 2.67],
    [0.5, 0, 0],
    [1.5, 0, 2],
    [2.5, 0, 2],
    [6.102352941176471, 3, 6.102],
    [43967.5, 0, 43968],
    [-43967.5, 0, -43968],
    [0.125, 2, 0.12],
    [1.005, 2, 1],
  ];
  for (const [v, d, expected] of cases) assert.equal(roundPython(v, d), expected, `round(${v}, ${d})`);
  assert.equal(toFixedPython(0.125, 2), '0.12');
});

test('the seed text formats with units and literal percent', () => {
  assert.equal(compileFormat('%iW')(321.6), '321W');
  assert.equal(compileFormat('%.2fV')(52.7), '52.70V');
  assert.equal(compileFormat('%.3fV')(3.201), '3.201V');
  assert.equal(compileFormat('%.1fA')(6.1), '6.1A');
  assert.equal(compileFormat('%.1fAh')(125.5), '125.5Ah');
  assert.equal(compileFormat('%i%%')(63), '63%');
  assert.equal(compileFormat('%.1f°C')(23), '23.0°C');
  assert.equal(compileFormat('0x%X')(65535), '0xFFFF');
  assert.equal(compileFormat('%s')('C3'), 'C3');
  // A text without a directive would show the same whatever the value: refused (Python's {:.1f}A style above all).
  assert.throws(() => compileFormat('no directive'), /format "no directive" is not a printf format/);
  assert.throws(() => compileFormat('{:.1f}A'), /write "%.1fA"/);
});

test('bad formats are refused with the directive named', () => {
  assert.throws(() => compileFormat('%q'), /unknown directive at "%q"/);
  assert.throws(() => compileFormat('%i %i'), /at most one value directive/);
  assert.throws(() => compileFormat('%.30f'), /at most 20 decimals/);
});
