/** Mapping features a custom mapping relies on, beyond the default mapping. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Evaluator, parseMapping, Origin } from '../../src/mapping/index.js';

const MAPPING = `
name: test
variables:
  pack: {default: 1}
  offset: {default: 0.5}
paths:
  /Soc: {type: d, value: "packs[$pack - 1].soc", min: 0, max: 100, text: "%i%%"}
  /Dc/0/Voltage: {type: d, value: "$sum(packs.voltage) / $count(packs) + $offset"}
  /Dc/0/Current: {type: d, value: "$sum(packs.current)"}
  /Dc/0/Power:
    type: d
    fallback: "$round($path('/Dc/0/Voltage') * $path('/Dc/0/Current'), 1)"
  /Broken: {custom: true, type: d, value: "$number('abc')"}
  /Text: {custom: true, type: s, value: "$join(packs.name, ', ')"}
  /Deep: {custom: true, type: d, value: "$recurse(1)"}
  /Constant: {custom: true, type: i, value: 7}
`;

const doc = {
  packs: [
    { soc: 80.6, voltage: 52, current: 10, name: 'A' },
    { soc: 120, voltage: 53, current: -4, name: 'B' },
  ],
};

test('JSONata expressions, variables and $path across paths', async () => {
  const m = parseMapping(MAPPING);
  const ev = await new Evaluator(m).evaluate(doc);
  const v = (p: string) => ev.values[m.byPath.get(p)!.index];
  assert.equal(v('/Soc'), 80.6);
  assert.equal(ev.texts[m.byPath.get('/Soc')!.index], '80%');
  assert.equal(v('/Dc/0/Voltage'), 53);
  assert.equal(v('/Dc/0/Current'), 6);
  assert.equal(v('/Dc/0/Power'), 318);
  assert.equal(ev.origins[m.byPath.get('/Dc/0/Power')!.index], Origin.Derived);
  assert.equal(v('/Text'), 'A, B');
  assert.equal(v('/Constant'), 7);
});

test('config variables override mapping defaults (several packs, one mapping)', async () => {
  const m = parseMapping(MAPPING);
  const ev = await new Evaluator(m, { pack: 2 }).evaluate(doc);
  const i = m.byPath.get('/Soc')!.index;
  assert.equal(ev.values[i], null, '120 % is out of range');
  assert.match(ev.problems[i]!, /out of range: 120 is above the maximum 100/);
});

test('a failing expression invalidates only its own path', async () => {
  const m = parseMapping(MAPPING);
  const ev = await new Evaluator(m).evaluate(doc);
  const broken = m.byPath.get('/Broken')!.index;
  assert.equal(ev.values[broken], null);
  assert.match(ev.problems[broken]!, /expression failed/);
  const deep = m.byPath.get('/Deep')!.index;
  assert.equal(ev.values[deep], null, 'an unknown function fails, it does not crash');
  assert.equal(ev.values[m.byPath.get('/Dc/0/Current')!.index], 6);
});

test('runaway recursion is stopped and reported', async () => {
  const m = parseMapping(
    `paths:\n  /X: {custom: true, type: d, value: "($f := function($n) { $f($n + 1) }; $f(0))"}\n  /Y: {custom: true, type: d, value: "1"}\n`,
  );
  const ev = await new Evaluator(m).evaluate({});
  assert.equal(ev.values[0], null);
  assert.ok(ev.problems[0]);
  assert.equal(ev.values[1], 1);
});
