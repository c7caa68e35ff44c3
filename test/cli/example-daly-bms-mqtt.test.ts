/** The Daly2MQTT (softwarecrash) JSON-mode mapping, checked on a capture of its topic layout. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { defaultAvailability } from '../../src/battery/sources.js';
import { loadMapping } from '../../src/mapping/index.js';
import { runCli } from '../support/cli.js';
import { fixture, mappingFile } from '../support/paths.js';

interface Row {
  path: string;
  value: unknown;
  text: string;
  type: string;
  source: string;
  invalid: boolean;
  warning?: string;
}

interface Step {
  at: number;
  topic?: string;
  outcome?: string;
  log: string[];
  changed: { path: string; value: unknown }[];
}

const MAPPING = mappingFile('daly-bms-mqtt.yaml');
const CAPTURE = fixture('foreign', 'daly-bms-mqtt', 'mqtt-capture.jsonl');
const tmp = mkdtempSync(join(tmpdir(), 'vbat-daly-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Line {
  topic: string;
  payload: string;
  time: number;
  retained?: boolean;
}
const lines = readFileSync(CAPTURE, 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as Line);
const lastData = lines.filter((l) => l.topic === 'BMS01/Pack_Data').at(-1)!;

/** The capture's last Pack_Data payload, changed by `edit`, as a one-payload capture file. */
function variant(name: string, edit: (doc: Record<string, Record<string, unknown>>) => void): string {
  const doc = JSON.parse(lastData.payload) as Record<string, Record<string, unknown>>;
  edit(doc);
  const file = join(tmp, `${name}.json`);
  writeFileSync(file, JSON.stringify(doc));
  return file;
}

async function check(capture: string, extra: string[] = [], code = 0) {
  const r = await runCli(['check', '--json', ...extra, MAPPING, capture]);
  assert.equal(r.code, code, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout);
  const payload = out.payloads[0];
  const rows = payload.paths as Row[];
  const get = (p: string) => {
    const row = rows.find((x) => x.path === p);
    assert.ok(row, `${p} is a path of the mapping`);
    return row;
  };
  return { out, payload, rows, get };
}

test('Daly2MQTT: the JSON of <topic>/Pack_Data becomes a battery', async () => {
  const { payload, rows, get } = await check(CAPTURE);
  assert.equal(payload.ignored, 8, 'Alive, Device_IP, Wifi_RSSI and sw_version are outside the Pack_Data topic');
  assert.equal(payload.stale, false);
  assert.deepEqual(payload.refused, []);
  assert.deepEqual(
    { ...get('/Dc/0/Voltage') },
    { path: '/Dc/0/Voltage', type: 'd', value: 53.1, text: '53.10V', source: 'value', invalid: false, outOfRange: false },
  );
  assert.equal(get('/Dc/0/Current').value, -12.4, 'the last message: discharging is negative, as on Victron');
  assert.equal(get('/Dc/0/Current').text, '-12.4A');
  assert.equal(get('/Dc/0/Power').value, -658.44);
  assert.equal(get('/Dc/0/Power').text, '-658W');
  assert.equal(get('/Soc').value, 76.4);
  assert.equal(get('/Soc').text, '76%');
  assert.equal(get('/Capacity').value, 213.9, 'Remaining_Ah is already in Ah');
  assert.equal(get('/Capacity').text, '213.9Ah');
  assert.equal(get('/InstalledCapacity').value, null, 'not published, and the variable is unset');
  assert.equal(get('/ConsumedAmphours').value, null);
  assert.equal(get('/History/ChargeCycles').value, 41);
  assert.equal(get('/History/ChargeCycles').type, 'i');
  assert.equal(get('/Dc/0/Temperature').text, '19.0°C');
  assert.equal(get('/System/Temperature2').value, 20);
  assert.equal(get('/System/Temperature3').value, null, 'two sensors only');
  assert.deepEqual([get('/System/MinCellTemperature').value, get('/System/MaxCellTemperature').value], [19, 20]);

  // The 16 cells of "CellV": {"CellV_1": ..., "CellV_16": ...}
  assert.equal(get('/System/NrOfCellsPerBattery').value, 16);
  assert.equal(get('/Voltages/Cell1').value, 3.317);
  assert.equal(get('/Voltages/Cell16').text, '3.321V');
  assert.equal(get('/Voltages/Cell17').value, null, 'a 16-cell pack has no cell 17');
  assert.equal(rows.filter((r) => /^\/Voltages\/Cell\d+$/.test(r.path) && !r.invalid).length, 16);
  assert.equal(Number((get('/Voltages/Sum').value as number).toFixed(3)), 53.085, 'the sum of the 16 cells');
  assert.equal(get('/Voltages/Sum').text, '53.09V');
  assert.equal(get('/Voltages/Diff').value, 0.014, 'Cell_Diff 14 (mV) in V');
  assert.equal(get('/Voltages/Diff').source, 'value');
  assert.equal(get('/System/MinCellVoltage').value, 3.31);
  assert.equal(get('/System/MaxCellVoltage').text, '3.324V');
  assert.equal(get('/System/MinVoltageCellId').value, 'C12');
  assert.equal(get('/System/MaxVoltageCellId').value, 'C5');

  assert.equal(get('/Io/AllowToCharge').value, 1);
  assert.equal(get('/Io/AllowToDischarge').value, 1);
  assert.equal(get('/Balancing').value, 0);
  assert.equal(get('/Info/MaxChargeVoltage').value, 55.2, '16 cells × 3.45 V (variable)');
  assert.equal(get('/Info/MaxChargeCurrent').value, 100);
  assert.equal(get('/Info/MaxDischargeCurrent').value, 150);
  assert.equal(get('/Alarms/HighCellVoltage').value, 0, 'Fail_Codes "" → no alarm');
  assert.equal(get('/Alarms/InternalFailure').value, 0);
  assert.equal(get('/ConnectionInformation').value, 'Daly2MQTT 2.15.1');
  assert.deepEqual(
    rows.filter((r) => r.warning),
    [],
    'no warnings',
  );
});

test('Daly2MQTT: variables set the limits and the installed capacity', async () => {
  const { get } = await check(CAPTURE, [
    '--var',
    'chargeCellVoltage=3.5',
    '--var',
    'maxChargeCurrent=80',
    '--var',
    'installedCapacity=280',
  ]);
  assert.equal(get('/Info/MaxChargeVoltage').value, 56);
  assert.equal(get('/Info/MaxChargeCurrent').value, 80);
  assert.equal(get('/InstalledCapacity').value, 280);
  assert.equal(Number((get('/ConsumedAmphours').value as number).toFixed(1)), 66.1, '280 − 213.9 Ah');
  assert.equal(get('/ConsumedAmphours').source, 'derived');
});

test('Daly2MQTT: missing fields and sensor sentinels make their paths invalid, not a number', async () => {
  const file = variant('missing', (d) => {
    delete d.Pack!.Remaining_Ah;
    delete d.Pack!.Fail_Codes;
    delete d.Pack!.Cell_Diff;
    delete d.Pack!.Cells;
    delete d.CellV!.CellV_3;
    d.Pack!.BMS_Temp = -40;
    d.CellTemp!.Cell_Temp_2 = -40;
  });
  const { rows, get } = await check(file);
  assert.equal(get('/Capacity').value, null, 'neither Remaining_Ah nor Remaining_mAh');
  assert.equal(get('/Capacity').invalid, true);
  assert.equal(get('/Alarms/HighVoltage').value, null, 'no Fail_Codes: unknown, not "no alarm"');
  assert.equal(get('/Alarms/InternalFailure').value, null);
  assert.equal(get('/Dc/0/Temperature').value, null, '-40 °C is a 0 byte: no sensor');
  assert.equal(get('/System/Temperature2').value, null);
  assert.equal(get('/System/MaxCellTemperature').value, 19, 'the absent sensor is left out');
  assert.equal(get('/Voltages/Cell3').value, null);
  assert.equal(get('/System/NrOfCellsPerBattery').value, 15, 'without Cells: the cells the message carries');
  assert.equal(get('/System/NrOfCellsPerBattery').source, 'derived');
  assert.equal(get('/Info/MaxChargeVoltage').value, 51.75, 'follows the derived count');
  assert.equal(get('/Voltages/Diff').source, 'derived', 'High_CellV − Low_CellV without Cell_Diff');
  assert.equal(Number((get('/Voltages/Diff').value as number).toFixed(3)), 0.014);
  assert.deepEqual(
    rows.filter((r) => r.warning),
    [],
    'absence is no warning',
  );
  assert.equal(get('/Soc').value, 76.4, 'the rest is still there');
});

test('Daly2MQTT: a message with Status "offline" (stale values kept by the firmware) is dropped', async () => {
  const { payload, get } = await check(
    variant('offline', (d) => {
      d.Pack!.Status = 'offline';
    }),
    [],
    1,
  );
  assert.deepEqual(payload.missingRequired, ['/Dc/0/Voltage', '/Dc/0/Current', '/Soc']);
  assert.equal(payload.stale, true);
  assert.equal(get('/Soc').value, null);
});

test('Daly2MQTT: a BMS that stops answering leaves no limit in use after the timeout', async () => {
  const offline = JSON.parse(lastData.payload);
  offline.Pack.Status = 'offline';
  const more = Array.from({ length: 14 }, (_, i) => ({
    topic: 'BMS01/Pack_Data',
    payload: JSON.stringify(offline),
    time: lastData.time + 5 * (i + 1),
  }));
  const file = join(tmp, 'goes-offline.jsonl');
  writeFileSync(file, [...lines, ...more].map((l) => JSON.stringify(l)).join('\n') + '\n');
  const r = await runCli(['check', '--json', '--steps', MAPPING, file]);
  assert.equal(r.code, 1, 'the last message misses its required inputs');
  const payload = JSON.parse(r.stdout).payloads[0];
  const steps = payload.steps as Step[];
  const rejected = steps.filter((s) => s.outcome === 'rejected');
  assert.equal(rejected.length, 14);
  assert.ok(
    rejected.every((s) => s.changed.length === 0),
    'an offline message changes nothing on D-Bus',
  );
  const stale = steps.find((s) => s.log.some((l) => l.includes('battery stale')))!;
  assert.ok(stale, 'the battery goes stale');
  assert.equal(stale.at, 66.5, '60 s after the last accepted message (at +6.5 s)');
  const limit = stale.changed.find((c) => c.path === '/Info/MaxChargeCurrent');
  assert.deepEqual(limit, { path: '/Info/MaxChargeCurrent', value: null, text: '---' });
  assert.equal(payload.stale, true);
});

test('Daly2MQTT: Fail_Codes texts become alarm levels; a FET off stops that direction', async () => {
  const file = variant('faults', (d) => {
    d.Pack!.Fail_Codes = 'Cell volt high level 1,Chg overcurrent level 2,Dischg temp low level 1, Discrg MOS open circuit err';
    d.Pack!.ChargeFET = false;
  });
  const { get } = await check(file);
  assert.equal(get('/Alarms/HighCellVoltage').value, 1, 'level 1 → warning');
  assert.equal(get('/Alarms/HighChargeCurrent').value, 2, 'level 2 → alarm');
  assert.equal(get('/Alarms/HighDischargeCurrent').value, 0, '"Chg" does not match "Dischg"');
  assert.equal(get('/Alarms/LowTemperature').value, 1, 'Dischg temp low → LowTemperature');
  assert.equal(get('/Alarms/LowChargeTemperature').value, 0);
  assert.equal(get('/Alarms/InternalFailure').value, 2, 'the text with the leading space');
  assert.equal(get('/Alarms/LowVoltage').value, 0);
  assert.equal(get('/Io/AllowToCharge').value, 0);
  assert.equal(get('/Info/MaxChargeCurrent').value, 0, 'charge FET off → 0 A');
  assert.equal(get('/Info/MaxDischargeCurrent').value, 150);
});

test('Daly2MQTT up to V2.12: Remaining_mAh and Balance_<n> flags inside CellV', async () => {
  const file = variant('v2.12', (d) => {
    delete d.Pack!.Remaining_Ah;
    d.Pack!.Remaining_mAh = 145320;
    const cells: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(d.CellV!)) {
      cells[k] = v;
      cells[k.replace('CellV_', 'Balance_')] = k === 'CellV_5';
    }
    d.CellV = cells;
  });
  const { get } = await check(file);
  assert.equal(get('/Capacity').value, 145.32, 'mAh → Ah');
  assert.equal(get('/Voltages/Cell5').value, 3.324);
  assert.equal(Number((get('/Voltages/Sum').value as number).toFixed(3)), 53.085, 'the Balance flags are not cells');
  assert.equal(get('/System/NrOfCellsPerBattery').value, 16);
});

test('Daly2MQTT: the firmware last will <topic>/Alive = false takes the battery stale at once, also under another MQTT Topic', async () => {
  const m = loadMapping(MAPPING);
  assert.equal(m.input.topic, 'BMS01/Pack_Data');
  assert.deepEqual(defaultAvailability('garage/Pack_Data', m), { topic: 'garage/Alive', online: 'true', offline: 'false' });
  assert.deepEqual(
    m.paths.filter((p) => p.command).map((p) => p.path),
    [],
    'no write-back',
  );
  for (const node of ['BMS01', 'garage']) {
    const willed = [...lines, { topic: 'BMS01/Alive', payload: 'false', time: lastData.time + 5, retained: false }].map((l) =>
      JSON.stringify({ ...l, topic: l.topic.replace(/^BMS01\//, `${node}/`) }),
    );
    const file = join(tmp, `will-${node}.jsonl`);
    writeFileSync(file, willed.join('\n') + '\n');
    const { payload, get } = await check(file, ['--topic', `${node}/Pack_Data`]);
    assert.equal(payload.stale, true, `${node}/Alive false: stale 5 s after the last data, not at the timeout`);
    for (const p of ['/Soc', '/Info/MaxChargeVoltage', '/Info/MaxChargeCurrent']) assert.equal(get(p).value, null, `${node}: ${p}`);
    // The same capture without the will: fresh, so it is the will that did it.
    const control = join(tmp, `alive-${node}.jsonl`);
    writeFileSync(control, willed.slice(0, -1).join('\n') + '\n');
    assert.equal((await check(control, ['--topic', `${node}/Pack_Data`])).payload.stale, false, node);
  }
});
