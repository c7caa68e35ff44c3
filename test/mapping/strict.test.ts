/**
 * Strict evaluation: a value computed from a missing input is invalid, never a plausible number.
 * Each case runs through the fast evaluator and through JSONata itself (on the same rewritten
 * AST), and both must agree.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import jsonata from 'jsonata';
import { Evaluator, HELPERS, parseMapping } from '../../src/mapping/index.js';
import { compileFast, SLOW } from '../../src/mapping/fast.js';
import { makeStrict } from '../../src/mapping/strict.js';

const cases: [string, Record<string, unknown>, unknown][] = [
  ['$min([Info.Limit, 100])', {}, undefined],
  ['$min([Info.Limit, 100])', { Info: { Limit: 50 } }, 50],
  ['v > 58 ? 2 : 0', {}, undefined],
  ['v > 58 ? 2 : 0', { v: 60 }, 2],
  ["'C' & minCell", {}, undefined],
  ["'C' & minCell", { minCell: 3 }, 'C3'],
  ['x + y', { x: 1 }, undefined],
  ['a and b', { a: true }, undefined],
  // absence handled explicitly
  ['a ?? 5', {}, 5],
  ['a ?? b', { a: 1 }, 1],
  ['$exists(a) ? a : 7', {}, 7],
  ['Voltages ? 1 : 2', {}, 2],
  ['Dc.Power ?? Dc.`0`.Power', { Dc: { '0': { Power: 3 } } }, 3],
  // a branch needs its inputs only when it is taken
  ['mode = "x" ? a : b', { mode: 'x', a: 1 }, 1],
  ['mode = "x" ? a : $min([b, 9])', { mode: 'y' }, undefined],
  ['mode = "x" ? a : $min([b, 9])', { mode: 'y', b: 4 }, 4],
  // relative reads are the expression's own business
  ['$sum(Cells)', { Cells: [1, 2] }, 3],
  ['$count(Cells[$ > 1])', { Cells: [1, 2, 3] }, 2],
];

async function viaJsonata(source: string, doc: unknown): Promise<unknown> {
  const e = jsonata(source);
  for (const [name, fn] of Object.entries(HELPERS)) e.registerFunction(name, fn as never);
  makeStrict(e.ast());
  return e.evaluate(doc);
}

function viaFast(source: string, doc: unknown): unknown {
  const ast = jsonata(source).ast();
  makeStrict(ast);
  const fast = compileFast(ast);
  return fast ? fast({ doc, vars: {}, path: () => undefined }) : SLOW;
}

test('a missing input makes the expression undefined; explicit handling of absence is honoured', async () => {
  for (const [source, doc, expected] of cases) {
    assert.deepEqual(await viaJsonata(source, doc), expected, `JSONata: ${source} on ${JSON.stringify(doc)}`);
    const fast = viaFast(source, doc);
    if (fast !== SLOW) assert.deepEqual(fast, expected, `fast: ${source} on ${JSON.stringify(doc)}`);
  }
});

test('$path of an invalid path is a missing input too; default and fallback still apply', async () => {
  const mapping = parseMapping(`
paths:
  /Info/MaxChargeCurrent: {type: d, value: Info.Limit}
  /Limited: {custom: true, type: d, value: "$min([$path('/Info/MaxChargeCurrent'), 100])"}
  /WithDefault: {custom: true, type: d, value: "$min([Info.Limit, 100])", default: 10}
  /WithFallback: {custom: true, type: d, value: "$min([Info.Limit, 100])", fallback: Info.Other}
  /Alarm: {custom: true, type: i, value: "v > 58 ? 2 : 0", default: 0}
`);
  const ev = await new Evaluator(mapping).evaluate({ Info: { Other: 7 } }, 0);
  const at = (p: string) => ev.values[mapping.byPath.get(p)!.index];
  assert.equal(at('/Limited'), null, 'not 100');
  assert.equal(at('/WithDefault'), 10, 'the mapping said what absence means');
  assert.equal(at('/WithFallback'), 7);
  assert.equal(at('/Alarm'), 0, 'the default, not a comparison against nothing');
});

test('a field read as a single value never maps over an array (a limit out of an array element)', async () => {
  const { loadMapping, defaultMappingFile } = await import('../../src/mapping/index.js');
  const mapping = loadMapping(defaultMappingFile());
  const base = { Dc: { Power: 1, Voltage: 50 }, Soc: 50 };
  for (const Info of [[{ MaxChargeCurrent: 300 }, {}], [{ MaxChargeCurrent: 300 }], [[{ MaxChargeCurrent: 300 }]]]) {
    const ev = await new Evaluator(mapping).evaluate({ ...base, Info }, 0);
    assert.equal(ev.values[mapping.byPath.get('/Info/MaxChargeCurrent')!.index], null, JSON.stringify(Info));
  }
  const arrayDc = await new Evaluator(mapping).evaluate({ Dc: [{ Power: 321.6, Voltage: 52.7 }], Soc: 50 }, 0);
  assert.deepEqual(arrayDc.missingRequired, ['/Dc/0/Power', '/Dc/0/Voltage'], 'required inputs inside an array do not count');
  const sums = parseMapping(`
paths:
  /Dc/0/Current: {type: d, value: "$sum(packs.current)"}
`);
  const ev = await new Evaluator(sums).evaluate({ packs: [{ current: 10 }, { current: -4 }] }, 0);
  assert.equal(ev.values[0], 6, "JSONata's own functions still take sequences");
});
