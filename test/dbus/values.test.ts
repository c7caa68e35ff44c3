import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coerceValue, defaultFormat, invalidVariant, resolveBusAddress, toVariant, valueFromSetValue } from '../../src/dbus/index.js';
import { Variant } from 'dbus-next';
import { DBUS_TYPES } from '../../src/venus/types.js';

describe('coerceValue', () => {
  it('keeps doubles as numbers, integral or not', () => {
    assert.equal(coerceValue(52, 'd'), 52);
    assert.equal(coerceValue(52.25, 'd'), 52.25);
    assert.equal(coerceValue(-0, 'd'), 0);
    assert.ok(Object.is(coerceValue(-0, 'd'), 0), '-0 is normalised');
  });

  it('turns NaN, Infinity, undefined and objects into invalid for every type', () => {
    for (const t of DBUS_TYPES) {
      for (const bad of [NaN, Infinity, -Infinity, undefined, null, {}, [], [1]]) {
        assert.equal(coerceValue(bad, t), null, `${String(bad)} on ${t}`);
      }
    }
  });

  it('rejects non-integers and out-of-range values on integer types', () => {
    assert.equal(coerceValue(1.5, 'i'), null);
    assert.equal(coerceValue(256, 'y'), null);
    assert.equal(coerceValue(-1, 'y'), null);
    assert.equal(coerceValue(255, 'y'), 255);
    assert.equal(coerceValue(-32769, 'n'), null);
    assert.equal(coerceValue(65536, 'q'), null);
    assert.equal(coerceValue(2 ** 31, 'i'), null);
    assert.equal(coerceValue(-(2 ** 31), 'i'), -(2 ** 31));
    assert.equal(coerceValue(2 ** 32 - 1, 'u'), 2 ** 32 - 1);
    assert.equal(coerceValue(-1, 'u'), null);
    assert.equal(coerceValue(-1, 't'), null);
    assert.equal(coerceValue(2 ** 53, 'x'), null, 'beyond safe integers cannot be exact');
    assert.equal(coerceValue(2, 'b'), null);
    assert.equal(coerceValue(52.0, 'i'), 52);
  });

  it('normalises BigInt input', () => {
    assert.equal(coerceValue(5n, 'i'), 5);
    assert.equal(coerceValue(-5n, 'x'), -5);
    assert.equal(coerceValue(2n ** 40n, 'x'), 2 ** 40);
    assert.equal(coerceValue(2n ** 31n, 'i'), null);
    assert.equal(coerceValue(2n ** 60n, 't'), null);
    assert.equal(coerceValue(3n, 'd'), 3);
    assert.equal(coerceValue(7n, 's'), '7');
  });

  it('maps booleans to 0/1 and never strings to numbers', () => {
    assert.equal(coerceValue(true, 'i'), 1);
    assert.equal(coerceValue(false, 'b'), 0);
    assert.equal(coerceValue('52.1', 'd'), null);
    assert.equal(coerceValue('1', 'i'), null);
  });

  it('stringifies numbers for string paths and refuses NUL characters', () => {
    assert.equal(coerceValue('abc', 's'), 'abc');
    assert.equal(coerceValue('', 's'), '');
    assert.equal(coerceValue(1.5, 's'), '1.5');
    assert.equal(coerceValue(NaN, 's'), null);
    assert.equal(coerceValue('a\0b', 's'), null);
  });
});

describe('valueFromSetValue', () => {
  it('accepts numeric variants that fit the path type exactly', () => {
    assert.deepEqual(valueFromSetValue('i', 5, 'i'), { value: 5 });
    assert.deepEqual(valueFromSetValue('d', 5, 'i'), { value: 5 });
    assert.deepEqual(valueFromSetValue('x', 5n, 'y'), { value: 5 });
    assert.deepEqual(valueFromSetValue('b', true, 'i'), { value: 1 });
    assert.deepEqual(valueFromSetValue('i', 5, 'd'), { value: 5 });
    assert.equal(valueFromSetValue('d', 5.5, 'i'), undefined);
    assert.equal(valueFromSetValue('i', 300, 'y'), undefined);
    assert.equal(valueFromSetValue('s', '5', 'i'), undefined);
  });

  it('accepts only strings on string paths', () => {
    assert.deepEqual(valueFromSetValue('s', 'x', 's'), { value: 'x' });
    assert.equal(valueFromSetValue('i', 5, 's'), undefined);
    assert.equal(valueFromSetValue('o', '/x', 's'), undefined);
  });

  it('treats any empty array as invalidation and other containers as wrong type', () => {
    assert.deepEqual(valueFromSetValue('ai', [], 'd'), { value: null });
    assert.deepEqual(valueFromSetValue('au', [], 's'), { value: null });
    assert.deepEqual(valueFromSetValue('a{sv}', {}, 'i'), { value: null });
    assert.equal(valueFromSetValue('ai', [1], 'i'), undefined);
    assert.equal(valueFromSetValue('(ii)', [1, 2], 'i'), undefined);
  });
});

describe('variants and texts', () => {
  it('wraps invalid as an empty ai and values in their declared type', () => {
    assert.deepEqual(invalidVariant(), new Variant('ai', []));
    assert.deepEqual(toVariant('d', null), new Variant('ai', []));
    assert.deepEqual(toVariant('d', 52), new Variant('d', 52));
    assert.deepEqual(toVariant('b', 1), new Variant('b', true));
    assert.deepEqual(toVariant('x', 5), new Variant('x', 5n));
  });

  it('formats like velib GetText', () => {
    assert.equal(defaultFormat('/Soc', null), '---');
    assert.equal(defaultFormat('/ProductId', 0xffff), '0xFFFF');
    assert.equal(defaultFormat('/ProductId', 0xb009), '0xB009');
    assert.equal(defaultFormat('/Dc/0/Voltage', 52.1), '52.1');
  });
});

describe('resolveBusAddress', () => {
  it('prefers the option, then DBUS_SYSTEM_BUS_ADDRESS, then the system socket', () => {
    const saved = process.env['DBUS_SYSTEM_BUS_ADDRESS'];
    try {
      process.env['DBUS_SYSTEM_BUS_ADDRESS'] = 'unix:path=/tmp/env-bus';
      assert.equal(resolveBusAddress('unix:path=/tmp/opt'), 'unix:path=/tmp/opt');
      assert.equal(resolveBusAddress(), 'unix:path=/tmp/env-bus');
      delete process.env['DBUS_SYSTEM_BUS_ADDRESS'];
      assert.equal(resolveBusAddress(), 'unix:path=/var/run/dbus/system_bus_socket');
    } finally {
      if (saved === undefined) delete process.env['DBUS_SYSTEM_BUS_ADDRESS'];
      else process.env['DBUS_SYSTEM_BUS_ADDRESS'] = saved;
    }
  });
});
