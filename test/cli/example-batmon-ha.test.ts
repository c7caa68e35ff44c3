/** mappings/batmon-ha.yaml on captures in fl4p/batmon-ha's topic layout (test/fixtures/foreign/batmon-ha). */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { fixture, mappingFile } from '../support/paths.js';

interface Row {
  path: string;
  value: unknown;
  text: string;
  type: string;
  source: string;
  invalid: boolean;
  outOfRange: boolean;
  warning?: string;
}

const MAPPING = mappingFile('batmon-ha.yaml');
const JK = fixture('foreign', 'batmon-ha', 'mqtt-capture.json');
const JBD = fixture('foreign', 'batmon-ha', 'jbd-8s.jsonl');

const tmp = mkdtempSync(join(tmpdir(), 'vbat-batmon-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function check(capture: string, extra: string[] = []) {
  const r = await runCli(['check', '--json', ...extra, MAPPING, capture]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout);
  const rows = out.payloads[0].paths as Row[];
  const get = (p: string): Row => {
    const row = rows.find((x) => x.path === p);
    assert.ok(row, `${p} is a path of the mapping`);
    return row;
  };
  return { out, rows, get };
}

/** The JK capture with some topics left out and others changed, as a topic → payload file. */
function variant(name: string, change: (topics: Record<string, string>) => void): string {
  const topics = JSON.parse(readFileSync(JK, 'utf8')) as Record<string, string>;
  change(topics);
  const file = join(tmp, `${name}.json`);
  writeFileSync(file, JSON.stringify(topics));
  return file;
}

const cellCount = (rows: Row[]) => rows.filter((r) => /^\/Voltages\/Cell\d+$/.test(r.path) && !r.invalid).length;

test('batmon-ha JK capture: one value per topic under the alias becomes a battery', async () => {
  const { get, rows } = await check(JK);
  assert.deepEqual(get('/Dc/0/Voltage'), {
    path: '/Dc/0/Voltage',
    type: 'd',
    value: 53.28,
    text: '53.28V',
    source: 'value',
    invalid: false,
    outOfRange: false,
  });
  assert.equal(get('/Dc/0/Current').value, 12.47, 'invert_current: true (add-on default) already gives + = charging');
  assert.equal(get('/Dc/0/Current').text, '12.5A');
  assert.equal(get('/Dc/0/Power').value, 664.4);
  assert.equal(get('/Dc/0/Power').source, 'value');
  assert.equal(get('/Soc').value, 71.38);
  assert.equal(get('/Soc').text, '71%');
  assert.equal(get('/Soh').value, 98);
  assert.equal(get('/Capacity').value, 196.66, 'mosfet_status/capacity_ah is the remaining charge');
  assert.equal(get('/InstalledCapacity').text, '280.0Ah');
  assert.equal(get('/ConsumedAmphours').source, 'derived');
  assert.equal(Number((get('/ConsumedAmphours').value as number).toFixed(2)), -78.85, 'remaining − aged capacity, ≤ 0');
  assert.equal(get('/History/ChargeCycles').value, 42);
  assert.equal(get('/History/ChargeCycles').type, 'i');
  assert.equal(get('/System/MOSTemperature').text, '31.2°C');
  assert.equal(get('/Dc/0/Temperature').value, 24.5);
  assert.equal(get('/System/Temperature2').value, 25.1);

  assert.equal(cellCount(rows), 16);
  assert.equal(get('/System/NrOfCellsPerBattery').value, 16);
  assert.equal(get('/Voltages/Cell13').value, 3.341);
  assert.equal(get('/Voltages/Cell4').text, '3.330V', 'batmon publishes 3.33 for 3330 mV');
  assert.equal(get('/Voltages/Cell17').invalid, true, 'a 16-cell pack publishes no cell 17');
  assert.equal(Number((get('/Voltages/Sum').value as number).toFixed(3)), 53.3, 'the sum of the 16 cells');
  assert.equal(get('/Voltages/Sum').text, '53.30V');
  assert.equal(get('/Voltages/Diff').value, 0.015);
  assert.equal(get('/Voltages/Diff').source, 'value', "batmon's own delta");
  assert.equal(get('/System/MinCellVoltage').value, 3.326);
  assert.equal(get('/System/MinVoltageCellId').value, 'C8');
  assert.equal(get('/System/MaxVoltageCellId').value, 'C13');

  assert.equal(get('/Io/AllowToCharge').value, 1);
  assert.equal(get('/Io/AllowToDischarge').value, 1);
  assert.equal(get('/Io/AllowToBalance').value, 1);
  assert.equal(get('/Info/MaxChargeVoltage').value, 55.2, '16 cells × 3.45 V');
  assert.equal(get('/Info/MaxChargeCurrent').value, 100);
  assert.equal(get('/Info/MaxDischargeCurrent').value, 150);
  assert.ok(
    rows.every((r) => !r.warning && !r.outOfRange),
    'no warnings',
  );
});

test('batmon-ha: values batmon does not publish (NaN) leave their paths invalid, without warnings', async () => {
  const { get, rows } = await check(JK);
  // JK sensors 3 and 4 read -2000 (absent) → NaN in batmon → no temperatures/3 and /4 topic.
  assert.equal(get('/System/Temperature3').invalid, true);
  assert.equal(get('/System/Temperature4').invalid, true);
  assert.equal(get('/System/Temperature3').text, '---');
  // This JK reports no `problem`, and bms/runtime is published but deliberately not read.
  assert.equal(get('/Alarms/Alarm').invalid, true);
  assert.equal(
    rows.find((r) => r.path === '/TimeToGo'),
    undefined,
    'no /TimeToGo from bms/runtime',
  );
  assert.ok(rows.every((r) => !r.warning));
});

test('batmon-ha JBD capture (JSON lines): charge switch OFF → no charge current, problem → alarm', async () => {
  const { out, get, rows } = await check(JBD, ['--topic', 'shed/jbd/#']);
  assert.equal(out.payloads[0].ignored, 1, 'the HA discovery message is outside the filter');
  assert.equal(get('/Dc/0/Current').value, -3.2, 'discharging');
  assert.equal(get('/Dc/0/Power').value, -89.6);
  assert.equal(get('/Soc').value, 99.12);
  assert.equal(get('/ConsumedAmphours').value, 99.12 - 100, 'no aged capacity: from the nominal capacity');
  assert.equal(cellCount(rows), 8);
  assert.equal(get('/System/NrOfCellsPerBattery').value, 8);
  assert.equal(get('/Voltages/Cell9').invalid, true);
  assert.equal(Number((get('/Voltages/Sum').value as number).toFixed(3)), 28.004);
  assert.equal(get('/Voltages/Diff').value, 0.175);
  assert.equal(get('/System/MaxVoltageCellId').value, 'C3');
  assert.equal(get('/System/Temperature3').value, 21.8);
  assert.equal(get('/System/MOSTemperature').invalid, true, 'JBD reports no MOSFET temperature');
  assert.equal(get('/Soh').invalid, true);
  assert.equal(get('/Io/AllowToCharge').value, 0);
  assert.equal(get('/Io/AllowToBalance').invalid, true, 'JBD has no balance switch');
  assert.equal(get('/Alarms/Alarm').value, 2);
  assert.equal(get('/Info/MaxChargeVoltage').value, 27.6, '8 cells × 3.45 V');
  assert.equal(get('/Info/MaxChargeCurrent').value, 0, 'charging switched off in the BMS');
  assert.equal(get('/Info/MaxDischargeCurrent').value, 150);
  assert.ok(rows.every((r) => !r.warning));
});

test('batmon-ha: invertCurrent=false flips current and power (batmon published + = discharging)', async () => {
  const { get } = await check(JK, ['--var', 'invertCurrent=false', '--var', 'chargeCellVoltage=3.5', '--var', 'maxChargeCurrent=60']);
  assert.equal(get('/Dc/0/Current').value, -12.47);
  assert.equal(get('/Dc/0/Power').value, -664.4);
  assert.equal(get('/Info/MaxChargeVoltage').value, 56);
  assert.equal(get('/Info/MaxChargeCurrent').value, 60);
});

test('batmon-ha: a missing cell topic leaves its path invalid and is not counted', async () => {
  const file = variant('no-cell-5', (t) => {
    delete t['battery1/cell_voltages/5'];
  });
  const { get, rows } = await check(file);
  assert.equal(get('/Voltages/Cell5').invalid, true);
  assert.equal(get('/Voltages/Cell6').value, 3.335);
  assert.equal(cellCount(rows), 15);
  assert.equal(get('/System/NrOfCellsPerBattery').value, 15);
  assert.equal(Number((get('/Voltages/Sum').value as number).toFixed(3)), 49.972, 'the sum of the 15 cells there');
});

test('batmon-ha: without cell topics the cells, their sum and the charge voltage are invalid', async () => {
  const file = variant('no-cells', (t) => {
    for (const k of Object.keys(t)) if (k.startsWith('battery1/cell_voltages/')) delete t[k];
  });
  const { get, rows } = await check(file);
  assert.equal(cellCount(rows), 0);
  for (const p of ['/Voltages/Cell1', '/Voltages/Sum', '/Voltages/Diff', '/System/NrOfCellsPerBattery', '/System/MinCellVoltage'])
    assert.equal(get(p).invalid, true, p);
  assert.equal(get('/Info/MaxChargeVoltage').invalid, true, 'never a charge voltage from an unknown cell count');
  assert.equal(get('/Info/MaxChargeCurrent').value, 100, 'the current limits do not depend on the cells');
  assert.equal(get('/Soc').value, 71.38);
});

test('batmon-ha: cells without the statistics after them (burst still arriving) give no cell count yet', async () => {
  const file = variant('cells-no-stats', (t) => {
    for (const s of ['min', 'min_index', 'max', 'max_index', 'delta', 'average', 'median']) delete t[`battery1/cell_voltages/${s}`];
  });
  const { get, rows } = await check(file);
  assert.equal(cellCount(rows), 16);
  assert.equal(get('/System/NrOfCellsPerBattery').invalid, true);
  assert.equal(get('/Info/MaxChargeVoltage').invalid, true);
  assert.equal(get('/Voltages/Diff').source, 'derived', 'max − min of the cells');
  assert.equal(Number((get('/Voltages/Diff').value as number).toFixed(3)), 0.015);
  assert.equal(get('/System/MaxCellVoltage').value, 3.341);
  assert.equal(get('/System/MaxVoltageCellId').invalid, true);
});

test('batmon-ha: no switch topics → no current limits; a negative capacity (SmartShunt) is out of range', async () => {
  const file = variant('shunt-like', (t) => {
    for (const s of ['charge', 'discharge', 'balance']) delete t[`battery1/switch/${s}`];
    t['battery1/mosfet_status/capacity_ah'] = '-12.3';
  });
  const { get } = await check(file);
  assert.equal(get('/Io/AllowToCharge').invalid, true);
  assert.equal(get('/Info/MaxChargeCurrent').invalid, true);
  assert.equal(get('/Info/MaxDischargeCurrent').invalid, true);
  assert.equal(get('/Capacity').outOfRange, true);
  assert.ok(get('/Capacity').warning, 'a warning says why');
  assert.equal(get('/ConsumedAmphours').invalid, true);
});
