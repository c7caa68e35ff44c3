/** The seed's derived fields, computed by the default mapping when the payload leaves them out. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DocumentBuilder } from '../../src/input/index.js';
import { Evaluator, loadMapping, Origin, type CompiledMapping } from '../../src/mapping/index.js';
import { mappingFile } from '../support/paths.js';

const mapping = loadMapping(mappingFile('default.yaml'));

async function run(payload: unknown, opts: { evaluator?: Evaluator; now?: number; vars?: Record<string, unknown> } = {}) {
  const ev = opts.evaluator ?? new Evaluator(mapping, opts.vars);
  const b = new DocumentBuilder({ input: mapping.input, topics: ['t'] });
  const acc = b.accept('t', typeof payload === 'string' ? payload : JSON.stringify(payload));
  assert.ok(acc.ok, acc.ok ? '' : acc.reason);
  const result = await ev.evaluate(acc.doc, opts.now ?? 0);
  const get = (p: string) => ({
    value: result.values[idx(mapping, p)],
    text: result.texts[idx(mapping, p)],
    source: result.origins[idx(mapping, p)],
  });
  return { result, get, evaluator: ev };
}
const idx = (m: CompiledMapping, p: string) => m.byPath.get(p)!.index;

const base = { Dc: { Power: -530.4, Voltage: 52 }, Soc: 50 };

test('Current = round(P / V, 3), and 0 when V = 0', async () => {
  assert.deepEqual((await run(base)).get('/Dc/0/Current'), { value: -10.2, text: '-10.2A', source: Origin.Derived });
  assert.equal((await run({ Dc: { Power: 100, Voltage: 0 }, Soc: 50 })).get('/Dc/0/Current').value, 0);
});

test('Dc nested as {"0": {...}} and the {"value": "<json>"} wrapper are accepted', async () => {
  const nested = { Dc: { '0': { Power: 321.6, Voltage: 52.7, Current: 6.1 } }, Soc: 63 };
  const r = await run(JSON.stringify({ value: JSON.stringify(nested) }));
  assert.equal(r.get('/Dc/0/Voltage').text, '52.70V');
  assert.deepEqual(r.get('/Dc/0/Current'), { value: 6.1, text: '6.1A', source: Origin.Value });
  assert.deepEqual(r.result.missingRequired, []);
});

test('ConsumedAmphours and Capacity from InstalledCapacity and the other one, or from Soc', async () => {
  let r = await run({ ...base, InstalledCapacity: 200, Capacity: 120 });
  assert.equal(r.get('/ConsumedAmphours').value, 80);
  assert.equal(r.get('/ConsumedAmphours').source, Origin.Derived);
  r = await run({ ...base, InstalledCapacity: 200, ConsumedAmphours: 30.5 });
  assert.equal(r.get('/Capacity').value, 169.5);
  r = await run({ ...base, InstalledCapacity: 280, Soc: 63.3 });
  assert.equal(r.get('/ConsumedAmphours').value, 102.76);
  assert.equal(r.get('/Capacity').value, 177.24);
  r = await run(base);
  assert.equal(r.get('/Capacity').value, null, 'no InstalledCapacity, nothing to derive from');
});

test('TimeToGo: to 100 % charging, to the configured SoC discharging, 30 days at zero current', async () => {
  // Discharging at 10.2 A with 100 Ah left of 200 Ah, down to 10 %: (100 - 20) / 10.2 h.
  let r = await run({ ...base, InstalledCapacity: 200 });
  assert.equal(r.get('/TimeToGo').value, Math.round((80 / 10.2) * 3600));
  assert.equal(r.get('/TimeToGo').text, '28235');
  r = await run({ ...base, InstalledCapacity: 200 }, { vars: { ttgSoc: 20 } });
  assert.equal(r.get('/TimeToGo').value, Math.round((60 / 10.2) * 3600), 'the SoC is a variable a config can override');
  r = await run({ Dc: { Power: 1020, Voltage: 51 }, Soc: 75, InstalledCapacity: 200 });
  assert.equal(r.get('/TimeToGo').value, 9000, '50 Ah to full at 20 A');
  r = await run({ Dc: { Power: 0, Voltage: 51 }, Soc: 75, InstalledCapacity: 200 });
  assert.equal(r.get('/TimeToGo').value, 2592000);
  r = await run({ ...base, InstalledCapacity: 200 }, { vars: { ttgEnabled: false } });
  assert.equal(r.get('/TimeToGo').value, null);
});

test('TimeToGo is recomputed only every ttgInterval seconds', async () => {
  const first = await run({ ...base, InstalledCapacity: 200 }, { now: 1_000_000 });
  const before = first.get('/TimeToGo').value;
  const later = await run(
    { Dc: { Power: -1060.8, Voltage: 52 }, Soc: 50, InstalledCapacity: 200 },
    { evaluator: first.evaluator, now: 1_000_000 + 299_000 },
  );
  assert.equal(later.get('/TimeToGo').value, before, 'kept inside the interval');
  assert.equal(later.get('/TimeToGo').source, Origin.Held);
  const after = await run(
    { Dc: { Power: -1060.8, Voltage: 52 }, Soc: 50, InstalledCapacity: 200 },
    { evaluator: first.evaluator, now: 1_000_000 + 300_000 },
  );
  assert.equal(after.get('/TimeToGo').value, Math.round((80 / 20.4) * 3600), 'recomputed after it');
});

test('min/max cell voltage and ids, sum and diff derived from Voltages', async () => {
  const r = await run({ ...base, Voltages: { Cell1: 3.3, Cell2: 3.25, Cell3: 3.41, Cell4: 3.25, Cell5: 3.41 } });
  assert.equal(r.get('/System/MinCellVoltage').value, 3.25);
  assert.equal(r.get('/System/MinVoltageCellId').value, 'Cell2', 'ties go to the first cell, as in the seed');
  assert.equal(r.get('/System/MaxVoltageCellId').value, 'Cell3');
  assert.equal(r.get('/Voltages/Sum').value, 3.3 + 3.25 + 3.41 + 3.25 + 3.41);
  assert.equal(r.get('/Voltages/Sum').text, '16.62V');
  assert.equal(r.get('/Voltages/Diff').text, '0.160V');
  assert.equal(r.get('/Voltages/Cell6').value, null);
  const none = await run(base);
  assert.equal(none.get('/Voltages/Diff').value, null, 'no cells, no diff');
});

test('a missing required input rejects the message and keeps the last good state', async () => {
  const ok = await run({ ...base, Info: { MaxChargeVoltage: 55.2 } });
  assert.deepEqual(ok.result.missingRequired, []);
  const bad = await run({ Dc: { Power: 1 }, Soc: 40 }, { evaluator: ok.evaluator });
  assert.deepEqual(bad.result.missingRequired, ['/Dc/0/Voltage']);
  assert.deepEqual(bad.result.changed, []);
  assert.equal(ok.evaluator.values[idx(mapping, '/Soc')], 50, 'state not overwritten by a rejected message');
});

test('merge: a field a later message leaves out keeps its value, like the seed', async () => {
  const b = new DocumentBuilder({ input: mapping.input, topics: ['t'] });
  b.accept('t', JSON.stringify({ ...base, Info: { MaxChargeVoltage: 55.2 } }));
  const acc = b.accept('t', JSON.stringify({ Dc: { Power: 10, Voltage: 53 }, Soc: 51 }));
  assert.ok(acc.ok);
  const ev = await new Evaluator(mapping).evaluate(acc.doc);
  assert.equal(ev.values[idx(mapping, '/Info/MaxChargeVoltage')], 55.2);
  assert.equal(ev.values[idx(mapping, '/Soc')], 51);
});

test('wrong types, NaN-like and out-of-range values make only their own path invalid', async () => {
  const r = await run({
    ...base,
    Dc: { Power: 100, Voltage: 52, Temperature: 'hot' },
    Balances: { Cell1: 1e12 },
    System: { MinCellVoltage: { v: 1 } },
  });
  assert.equal(r.get('/Dc/0/Temperature').value, null);
  assert.match(r.result.problems[idx(mapping, '/Dc/0/Temperature')]!, /expected a number, got the string "hot"/);
  assert.match(r.result.problems[idx(mapping, '/Balances/Cell1')]!, /out of range for D-Bus type i/);
  assert.match(r.result.problems[idx(mapping, '/System/MinCellVoltage')]!, /got an object/);
  assert.equal(r.get('/Dc/0/Voltage').value, 52, 'other paths unaffected');
  assert.equal(r.result.problemCount, 3);
});

test('changed lists only paths whose value or text changed', async () => {
  const first = await run(base);
  assert.ok(first.result.changed.length > 5);
  const again = await run(base, { evaluator: first.evaluator });
  assert.deepEqual(again.result.changed, []);
  const next = await run({ ...base, Soc: 51 }, { evaluator: first.evaluator });
  assert.deepEqual(
    next.result.changed.map((i) => mapping.paths[i]!.path),
    ['/Soc'],
  );
});
