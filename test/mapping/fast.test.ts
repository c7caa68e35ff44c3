/**
 * The fast evaluator must agree with JSONata wherever it answers: every expression below runs on
 * every document both ways. SLOW (hand over to JSONata) is always allowed; a different answer never.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import jsonata from 'jsonata';
import { compileFast, SLOW } from '../../src/mapping/fast.js';
import { HELPERS } from '../../src/mapping/helpers.js';
import { rewrite } from '../../src/mapping/compile.js';

const EXPRESSIONS = [
  'Soc',
  'Dc.Voltage',
  'Dc.`0`.Power',
  'Dc.Power ?? Dc.`0`.Power',
  'Missing.Field',
  '42',
  '"text"',
  'true',
  'null',
  'Dc.Power / Dc.Voltage',
  'Dc.Power - Dc.Voltage * 2',
  '-Dc.Voltage',
  'Soc % 7',
  '(Soc)',
  'Soc + Missing',
  'Soc ? 1 : 2',
  'Missing ? 1 : 2',
  'Dc ? "yes"',
  'Empty ? 1 : 0',
  'Str ? 1 : 0',
  'Zero ? 1 : 0',
  '$exists(Soc)',
  '$exists(Missing)',
  '$exists(Nul)',
  '$cells(Voltages).min',
  '$cells(Voltages).maxId',
  '$cells(Voltages).sum',
  '$current(Dc.Power, Dc.Voltage)',
  '$timeToGo(-10, 100, 200, 10)',
  '$roundHalfEven(Dc.Voltage, 1)',
  '$onOff(Switch)',
  '$ttgSoc',
  '$',
  'List',
  'List.a',
  'Str * 2',
  'Dc.Voltage / Zero',
  '$path("/X")',
  'Nul',
  'Nul.x',
  'Nul ?? 5',
  "'C' & Soc",
  "'C' & Missing",
  'Str & Nul & Zero',
  "Dc.Voltage & 'V'",
  'Soc = 63',
  'Soc != 63',
  'Missing = 1',
  'Missing != 1',
  'Str = "x"',
  'Dc = Dc',
  'Soc < 70',
  'Soc >= Dc.Voltage',
  'Str > "a"',
  'Missing < 1',
  'Str < 1',
  '$max([Soc, Dc.Voltage, 3])',
  '$min([Soc, Missing])',
  '$sum([Soc, 1.5])',
  '$max([])',
  '$max([Str, 1])',
  '$sum([])',
  'Soc = 0 ? 0 : $min([Soc, 50])',
];

const DOCUMENTS: unknown[] = [
  {
    Soc: 63,
    Dc: { Power: 321.6, Voltage: 52.7 },
    Voltages: { Cell1: 3.2, Cell2: 3.1, Cell3: 3.3 },
    Switch: 'ON',
    Empty: {},
    Str: 'x',
    Zero: 0,
    Nul: null,
    List: [{ a: 1 }, { a: 2 }],
  },
  { Soc: 0, Dc: { '0': { Power: -5, Voltage: 0 } }, Voltages: [3.1, 3.2], Switch: 'off', Empty: [], Str: '', Zero: false },
  { Dc: [1, 2], Soc: [1] },
  [1, 2, 3],
  {},
];

async function viaJsonata(expr: string, doc: unknown): Promise<unknown> {
  const e = jsonata(expr);
  for (const [name, fn] of Object.entries(HELPERS)) e.registerFunction(name, fn);
  try {
    const v = await e.evaluate(doc, { ttgSoc: 10, path: (p: string) => (p === '/X' ? 7 : undefined) });
    return JSON.parse(JSON.stringify({ v })).v; // drop JSONata's sequence markers
  } catch (err) {
    return { error: (err as { code?: string }).code };
  }
}

test('fast evaluation equals JSONata on every expression and document it answers', async () => {
  let answered = 0;
  for (const expr of EXPRESSIONS) {
    const fast = compileFast(jsonata(expr).ast());
    for (const doc of DOCUMENTS) {
      const expected = await viaJsonata(expr, doc);
      if (!fast) continue;
      const got = fast({ doc, vars: { ttgSoc: 10 }, path: (p) => (p === '/X' ? 7 : undefined) });
      if (got === SLOW) continue;
      answered++;
      assert.deepEqual(JSON.parse(JSON.stringify({ v: got })).v, expected, `${expr} on ${JSON.stringify(doc)}`);
    }
  }
  assert.ok(answered > 120, `the fast path answered ${answered} cases`);
});

test('the shapes mappings use most are compiled to fast functions', () => {
  for (const expr of [
    'Soc',
    'Dc.Power ?? Dc.`0`.Power',
    '$cells(Voltages).min',
    "$path('/A') - Capacity",
    '$ttgEnabled ? $timeToGo(1, 2, 3, $ttgSoc)',
    '12.5',
  ]) {
    assert.ok(compileFast(jsonata(expr).ast()), expr);
  }
  for (const expr of ['Voltages.*', '$sum(Voltages.*)', 'List[0]', '$string(Soc)', 'Soc in [1, 2]']) {
    assert.equal(compileFast(jsonata(expr).ast()), undefined, `${expr} goes to JSONata`);
  }
});

/** Expressions as mappings run them: after the strict rewrite ($__present, $__field, $__scalar). */
const STRICT_ONLY = [
  '$min([Info.Limit, 100])',
  '$min([Dc.Voltage, Dc.Power])',
  '$max([List.a, 1])',
  '$max([Dc, 1])',
  '$current(Dc.Power, Dc.Voltage) * 2',
  '$timeToGo(Dc.Power, Dc.Voltage, Soc, $ttgSoc)',
  '$roundHalfEven($unit(Dc.Power, "kW"), 2)',
  '$valid(Soc, 0, 63, 64, 65)',
  '$valid(Dc.Voltage, 1, 2, 3, 4, 5)',
  '$cells(Voltages, "mV").minId & "/" & $cells(Voltages).maxId',
  'Soc > 50 ? Dc.Power : Dc.`0`.Power',
];

async function strictViaJsonata(expr: string, doc: unknown): Promise<unknown> {
  const e = jsonata(expr);
  for (const [name, fn] of Object.entries(HELPERS)) e.registerFunction(name, fn);
  rewrite(e.ast());
  try {
    const v = await e.evaluate(doc, { ttgSoc: 10, path: (p: string) => (p === '/X' ? 7 : undefined) });
    return JSON.parse(JSON.stringify({ v })).v;
  } catch {
    return { error: true };
  }
}

test('after the strict rewrite, fast evaluation equals JSONata, errors included', async () => {
  let answered = 0;
  const compiledFast = new Set<string>();
  for (const expr of [...EXPRESSIONS, ...STRICT_ONLY]) {
    const ast = jsonata(expr).ast();
    rewrite(ast);
    const fast = compileFast(ast);
    if (!fast) continue;
    compiledFast.add(expr);
    for (const doc of DOCUMENTS) {
      const expected = await strictViaJsonata(expr, doc);
      let got: unknown;
      try {
        got = fast({ doc, vars: { ttgSoc: 10 }, path: (p) => (p === '/X' ? 7 : undefined) });
      } catch {
        got = { error: true };
      }
      if (got === SLOW) continue;
      answered++;
      assert.deepEqual(JSON.parse(JSON.stringify({ v: got })).v, expected, `${expr} on ${JSON.stringify(doc)}`);
    }
  }
  assert.ok(answered > 150, `the fast path answered ${answered} cases`);
  for (const expr of STRICT_ONLY) assert.ok(compiledFast.has(expr), `${expr} compiles to a fast function after the rewrite`);
});
