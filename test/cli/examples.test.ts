/** The example mappings for foreign formats, checked on captures of their real topic layout. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../support/cli.js';
import { fixture, mappingFile } from '../support/paths.js';

interface Row {
  path: string;
  value: unknown;
  text: string;
  type: string;
  source: string;
  warning?: string;
}

async function checkJson(mapping: string, capture: string, extra: string[] = []) {
  const r = await runCli(['check', '--json', ...extra, mappingFile(mapping), capture]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout);
  const rows = out.payloads[0].paths as Row[];
  return { out, get: (p: string) => rows.find((x) => x.path === p)!, rows };
}

test('ESPHome JK-BMS: one value per topic becomes a battery', async () => {
  const { get, rows } = await checkJson('esphome-jk-bms.yaml', fixture('foreign', 'esphome-jk-bms', 'mqtt-capture.json'));
  assert.deepEqual(get('/Dc/0/Voltage'), {
    path: '/Dc/0/Voltage',
    type: 'd',
    value: 54.66,
    text: '54.66V',
    source: 'value',
    invalid: false,
    outOfRange: false,
  });
  assert.equal(get('/Soc').value, 91);
  assert.equal(typeof get('/Voltages/Cell16').value, 'number');
  assert.equal(get('/Voltages/Cell17').value, null, 'a 16-cell pack publishes no cell 17');
  assert.equal(get('/System/MinVoltageCellId').value, 'C11');
  assert.equal(get('/Balancing').value, 1, 'ON → 1');
  assert.equal(get('/Info/MaxChargeVoltage').value, 55.2, '16 cells × 3.45 V');
  assert.equal(get('/Info/MaxChargeCurrent').value, 100);
  assert.equal(get('/ConsumedAmphours').source, 'derived');
  assert.equal(get('/Alarms/HighVoltage').value, 0);
  assert.ok(
    rows.every((r) => !r.warning),
    'no warnings',
  );
});

test('ESPHome JK-BMS: variables set the limits', async () => {
  const { get } = await checkJson('esphome-jk-bms.yaml', fixture('foreign', 'esphome-jk-bms', 'mqtt-capture.json'), [
    '--var',
    'chargeCellVoltage=3.5',
    '--var',
    'maxChargeCurrent=500',
  ]);
  assert.equal(get('/Info/MaxChargeVoltage').value, 56);
  assert.equal(get('/Info/MaxChargeCurrent').value, 150, 'never above the BMS charging overcurrent protection');
});

test('dbus-serialbattery JsonData through the Venus MQTT bridge', async () => {
  const { out, get } = await checkJson('serialbattery-jsondata.yaml', fixture('foreign', 'serialbattery', 'mqtt-capture.json'));
  assert.ok(out.payloads[0].ignored > 0, 'the per-path topics of the capture are outside the JsonData filter');
  assert.equal(get('/Dc/0/Voltage').text, '54.66V');
  assert.equal(get('/Info/MaxChargeCurrent').value, 28.2);
  assert.equal(get('/Info/ChargeMode').value, 'Bulk │ Linear Mode');
  assert.equal(get('/ConsumedAmphours').value, -25.19999999999999);
  assert.equal(get('/History/FullDischarges').type, 'i');
  assert.equal(get('/Alarms/FuseBlown').value, null, 'null from serialbattery is invalid');
});

test('the default mapping also reads serialbattery JsonData (the seed handles the wrapper)', async () => {
  const { get } = await checkJson('default.yaml', fixture('foreign', 'serialbattery', 'mqtt-capture.json'), [
    '--topic',
    'N/+/battery/+/JsonData',
  ]);
  assert.equal(get('/Dc/0/Voltage').value, 54.66);
  assert.equal(get('/Info/MaxDischargeCurrent').value, 60);
});
