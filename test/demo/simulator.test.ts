/** The demo's simulated BMS: realistic, consistent, and accepted whole by the default mapping. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { check } from '../../src/cli/check.js';
import { ALARM_NAMES, BmsSimulator, ocv, type BmsPayload } from '../../src/demo/simulator.js';
import { DocumentBuilder } from '../../src/input/index.js';
import { Evaluator, loadMapping } from '../../src/mapping/index.js';
import { mappingFile } from '../support/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'vbat-sim-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A simulated day and a half (a step is a simulated minute by default). */
const STEPS = 2000;

function run(seed: number, steps = STEPS): BmsPayload[] {
  const sim = new BmsSimulator({ seed });
  return Array.from({ length: steps }, () => sim.step(1));
}

describe('BmsSimulator', () => {
  for (const seed of [1, 7, 12345]) {
    test(`seed ${seed}: every value in a realistic range, consistent with the others`, () => {
      const payloads = run(seed);
      for (const [i, p] of payloads.entries()) {
        const at = `step ${i}`;
        const cells = Object.values(p.Voltages);
        assert.equal(cells.length, 16, at);
        assert.deepEqual(
          Object.keys(p.Voltages),
          Array.from({ length: 16 }, (_, k) => `Cell${k + 1}`),
          at,
        );
        assert.deepEqual(Object.keys(p.Balances), Object.keys(p.Voltages), at);
        for (const v of cells) assert.ok(v >= 2.5 && v <= 3.65, `${at}: cell ${v} V`);
        assert.ok(p.Dc.Voltage >= 40 && p.Dc.Voltage <= 58.4, `${at}: ${p.Dc.Voltage} V`);
        // The pack voltage is the sum of the cells (each rounded to mV).
        const sum = cells.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - p.Dc.Voltage) < 0.02, `${at}: cells sum ${sum} vs ${p.Dc.Voltage}`);
        // Power = V × I, to the rounding of the published numbers.
        assert.ok(
          Math.abs(p.Dc.Power - p.Dc.Voltage * p.Dc.Current) <= 0.06,
          `${at}: ${p.Dc.Power} W vs ${p.Dc.Voltage} V × ${p.Dc.Current} A`,
        );
        assert.ok(p.Soc >= 0 && p.Soc <= 100, `${at}: SoC ${p.Soc}`);
        assert.ok(Math.abs(p.Capacity + p.ConsumedAmphours - p.InstalledCapacity) < 0.11, `${at}: capacity`);
        assert.ok(Math.abs(p.Capacity - (p.InstalledCapacity * p.Soc) / 100) < 0.2, `${at}: capacity vs SoC`);
        assert.ok(p.Dc.Temperature > 0 && p.Dc.Temperature < 50, `${at}: ${p.Dc.Temperature} °C`);
        assert.equal(p.Info.MaxChargeVoltage, 55.2);
        assert.ok(p.Info.MaxChargeCurrent >= 0 && p.Info.MaxChargeCurrent <= 100, `${at}: CCL`);
        assert.ok(p.Info.MaxDischargeCurrent >= 0 && p.Info.MaxDischargeCurrent <= 150, `${at}: DCL`);
        assert.ok(p.Dc.Current <= p.Info.MaxChargeCurrent * 1.1 + 1, `${at}: the charger obeys CCL`);
        assert.ok(p.History.MinimumVoltage <= p.Dc.Voltage && p.History.MaximumVoltage >= p.Dc.Voltage, `${at}: history`);
        for (const a of ALARM_NAMES) assert.ok([0, 1, 2].includes(p.Alarms[a]), `${at}: alarm ${a}`);
        assert.equal(p.Balancing, Object.values(p.Balances).some((b) => b === 1) ? 1 : 0, at);
      }
    });

    test(`seed ${seed}: charges and discharges, changes slowly, raises alarms now and then`, () => {
      const payloads = run(seed);
      const charging = payloads.filter((p) => p.Dc.Current > 1).length;
      const discharging = payloads.filter((p) => p.Dc.Current < -1).length;
      assert.ok(charging > STEPS * 0.15 && discharging > STEPS * 0.3, `charging ${charging}, discharging ${discharging}`);
      const socs = payloads.map((p) => p.Soc);
      assert.ok(Math.max(...socs) > 95 && Math.min(...socs) < 35, 'full cycles');
      for (let i = 1; i < payloads.length; i++) {
        assert.ok(Math.abs(socs[i]! - socs[i - 1]!) < 1, `SoC jumps at step ${i}`);
        assert.ok(Math.abs(payloads[i]!.Dc.Temperature - payloads[i - 1]!.Dc.Temperature) < 1.5, `temperature jumps at step ${i}`);
      }
      const withAlarm = payloads.filter((p) => Object.values(p.Alarms).some((a) => a > 0)).length;
      assert.ok(withAlarm > 0 && withAlarm < STEPS * 0.25, `${withAlarm} of ${STEPS} steps with an alarm`);
      assert.ok(
        payloads.some((p) => p.Balancing === 1),
        'balances at the top',
      );
    });
  }

  test('is deterministic for a seed; honours cells and capacity', () => {
    assert.deepEqual(run(3, 50), run(3, 50));
    const sim = new BmsSimulator({ cells: 8, capacityAh: 100, soc: 80 });
    const p = sim.step(1);
    assert.equal(Object.keys(p.Voltages).length, 8);
    assert.equal(p.InstalledCapacity, 100);
    assert.equal(p.Info.MaxChargeVoltage, 27.6);
    assert.ok(Math.abs(p.Soc - 80) < 1);
  });

  test('the LiFePO4 curve is monotonic and flat in the middle', () => {
    for (let s = 1; s <= 100; s++) assert.ok(ocv(s) >= ocv(s - 1), `at ${s} %`);
    assert.ok(ocv(70) - ocv(30) < 0.06);
    assert.equal(ocv(-5), ocv(0));
  });

  test('the default mapping accepts every payload whole: no missing required input, no warning', async () => {
    const mapping = loadMapping(mappingFile('default.yaml'));
    const docs = new DocumentBuilder({ input: mapping.input, topics: ['vbat-demo/bms'] });
    const ev = new Evaluator(mapping);
    const sim = new BmsSimulator({ seed: 5 });
    for (let i = 0; i < 300; i++) {
      const accepted = docs.accept('vbat-demo/bms', Buffer.from(JSON.stringify(sim.step(1))));
      assert.ok(accepted.ok, `step ${i}`);
      const r = await ev.evaluate(docs.document);
      assert.deepEqual(r.missingRequired, [], `step ${i}`);
      assert.equal(r.problemCount, 0, `step ${i}: ${r.problems.filter(Boolean).join('; ')}`);
      const value = (path: string) => r.values[mapping.byPath.get(path)!.index];
      for (const path of [
        '/Dc/0/Power',
        '/Dc/0/Voltage',
        '/Dc/0/Current',
        '/Soc',
        '/Info/MaxChargeVoltage',
        '/Info/MaxChargeCurrent',
        '/Info/MaxDischargeCurrent',
        '/Voltages/Cell16',
        '/System/MinCellVoltage',
        '/Voltages/Diff',
        '/TimeToGo',
        '/History/ChargeCycles',
      ]) {
        assert.notEqual(value(path), null, `step ${i}: ${path} valid`);
      }
      assert.equal(value('/Voltages/Cell17'), null, 'a 16-cell pack leaves 17..24 invalid');
    }
  });

  test('vbat check passes on a payload file', async () => {
    const file = join(tmp, 'payload.json');
    writeFileSync(file, JSON.stringify(new BmsSimulator().step(1)));
    const result = await check({ mapping: mappingFile('default.yaml'), payloads: [file] });
    assert.equal(result.ok, true);
    assert.deepEqual(result.payloads[0]!.missingRequired, []);
    assert.deepEqual(
      result.payloads[0]!.paths.filter((p) => p.warning).map((p) => `${p.path}: ${p.warning}`),
      [],
    );
  });
});
