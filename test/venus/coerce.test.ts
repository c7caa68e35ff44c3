import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coerce, coercedNumber } from '../../src/venus/coerce.js';
import { DBUS_TYPES } from '../../src/venus/types.js';

test('doubles stay doubles, whatever the JSON literal', () => {
  assert.deepEqual(coerce(23, 'd'), { value: 23 });
});

test('numeric paths take numbers only: text and booleans are refused, not read as 1000 A or 1 A', () => {
  assert.deepEqual(coerce('1e3', 'd'), { value: null, problem: 'expected a number, got the string "1e3"' });
  assert.deepEqual(coerce('52.70', 'i'), { value: null, problem: 'expected a number, got the string "52.70"' });
  assert.deepEqual(coerce(true, 'd'), { value: null, problem: 'expected a number, got boolean true' });
  assert.deepEqual(coerce('', 'd'), { value: null }, 'an empty string is absence, not an error');
});

test('integer types round and check their range', () => {
  assert.deepEqual(coerce(63.4, 'i'), { value: 63 });
  assert.deepEqual(coerce(-0.2, 'i'), { value: 0 });
  assert.equal(coerce(2 ** 31, 'i').value, null);
  assert.match(coerce(2 ** 31, 'i').problem!, /out of range for D-Bus type i/);
  assert.equal(coerce(256, 'y').value, null);
  assert.equal(coerce(-1, 'u').value, null);
  assert.deepEqual(coerce(2n ** 40n, 'x'), { value: 2 ** 40 });
  assert.equal(coerce(2n ** 63n, 'x').value, null);
});

test('NaN, Infinity, objects, arrays and junk strings become invalid with a reason', () => {
  for (const bad of [NaN, Infinity, -Infinity, {}, [1], 'abc', 'nan', '1.2.3']) {
    const c = coerce(bad, 'd');
    assert.equal(c.value, null, String(bad));
    assert.ok(c.problem, `a reason for ${String(bad)}`);
  }
});

test('absence is invalid without a complaint', () => {
  assert.deepEqual(coerce(undefined, 'd'), { value: null });
  assert.deepEqual(coerce('', 'd'), { value: null }, 'an empty string means no value');
  assert.deepEqual(coerce(null, 's'), { value: null });
});

test('strings: numbers become text, structures do not', () => {
  assert.deepEqual(coerce('C3', 's'), { value: 'C3' });
  assert.deepEqual(coerce(15, 's'), { value: '15' });
  assert.equal(coerce({ a: 1 }, 's').value, null);
});

test('the allocation-free number path gives what coerce() gives, or leaves it to coerce()', () => {
  const inputs: unknown[] = [
    0,
    -0,
    1,
    -1,
    0.5,
    1.5,
    -1.5,
    2.4999,
    52.7,
    255,
    256,
    -32768,
    -32769,
    65535,
    65536,
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 32,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 2,
    -Number.MAX_SAFE_INTEGER - 2,
    1e300,
    NaN,
    Infinity,
    -Infinity,
    '1',
    '',
    true,
    null,
    undefined,
    [1],
    { a: 1 },
    10n,
  ];
  let quick = 0;
  for (const type of DBUS_TYPES)
    for (const input of inputs) {
      const v = coercedNumber(input, type);
      if (v === undefined) continue;
      quick++;
      const full = coerce(input, type);
      assert.equal(full.problem, undefined, `${String(input)} as ${type}`);
      assert.ok(Object.is(v, full.value), `${String(input)} as ${type}: ${v} vs ${String(full.value)}`);
    }
  assert.ok(quick > 60, `${quick} cases took the quick path`);
  assert.equal(coercedNumber(300, 'y'), undefined);
  assert.equal(coercedNumber(2, 'b'), undefined);
  assert.equal(coercedNumber(1, 's'), undefined);
});
