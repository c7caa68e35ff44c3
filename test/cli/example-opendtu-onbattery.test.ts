/** The OpenDTU-OnBattery mapping, checked on a capture of its Pylontech topics (one value per topic). */
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
  warning?: string;
}

const MAPPING = mappingFile('opendtu-onbattery.yaml');
const CAPTURE = fixture('foreign', 'opendtu-onbattery', 'pylontech-capture.json');
const TOPIC = ['--topic', 'openDTU/battery/#'];
const base = JSON.parse(readFileSync(CAPTURE, 'utf8')) as Record<string, string>;

const dir = mkdtempSync(join(tmpdir(), 'vbat-opendtu-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
/** The capture with some topics changed (undefined = topic removed), as a new JSON object file. */
function variant(change: Record<string, string | undefined>): string {
  const d: Record<string, string> = { ...base };
  for (const [k, v] of Object.entries(change)) {
    if (v === undefined) delete d[`openDTU/battery/${k}`];
    else d[`openDTU/battery/${k}`] = v;
  }
  const file = join(dir, `capture-${++n}.json`);
  writeFileSync(file, JSON.stringify(d));
  return file;
}

/** `vbat check --json`; exit code 1 when the capture's last message is refused (`missingRequired`). */
async function check(capture: string, extra: string[] = TOPIC, code = 0) {
  const r = await runCli(['check', '--json', ...extra, MAPPING, capture]);
  assert.equal(r.code, code, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout);
  const rows = out.payloads[0].paths as Row[];
  const get = (p: string): Row => {
    const row = rows.find((x) => x.path === p);
    assert.ok(row, `path ${p} listed`);
    return row;
  };
  return { out, rows, get };
}

const LIMITS = ['/Info/MaxChargeVoltage', '/Info/MaxChargeCurrent', '/Info/MaxDischargeCurrent'];

test('OpenDTU-OnBattery (Pylontech): the battery topics become a battery with the BMS limits', async () => {
  const { out, rows, get } = await check(CAPTURE);
  assert.equal(out.payloads[0].ignored, 1, 'openDTU/dtu/status is outside openDTU/battery/#');
  assert.deepEqual(get('/Dc/0/Voltage'), {
    path: '/Dc/0/Voltage',
    type: 'd',
    value: 52.31,
    text: '52.31V',
    source: 'value',
    invalid: false,
    outOfRange: false,
  });
  assert.equal(get('/Dc/0/Current').value, -12.4);
  assert.equal(get('/Dc/0/Current').text, '-12.40A');
  assert.deepEqual([get('/Dc/0/Power').source, get('/Dc/0/Power').text], ['derived', '-648W'], 'V × A: no power topic for Pylontech');
  assert.deepEqual([get('/Soc').value, get('/Soc').text], [87, '87%'], '"87.00" → 87');
  assert.deepEqual([get('/Soh').value, get('/Dc/0/Temperature').text], [98, '4.2°C']);
  assert.equal(get('/ConnectionInformation').value, 'OpenDTU-OnBattery: PYLON');
  // DVCC limits, straight from CAN frame 0x351 as OpenDTU republishes it
  assert.deepEqual([get('/Info/MaxChargeVoltage').value, get('/Info/MaxChargeVoltage').text], [53.2, '53.20V']);
  assert.deepEqual([get('/Info/MaxChargeCurrent').value, get('/Info/MaxChargeCurrent').text], [37, '37.0A']);
  assert.deepEqual([get('/Info/MaxDischargeCurrent').value, get('/Info/MaxDischargeCurrent').text], [74, '74.0A']);
  assert.equal(get('/Info/BatteryLowVoltage').value, 44.5);
  assert.deepEqual([get('/Io/AllowToCharge').value, get('/Io/AllowToDischarge').value, get('/Info/ChargeRequest').value], [1, 1, 0]);
  // alarm levels: warning/lowTemperature = 1 → 1, every alarm and other warning 0 → 0
  assert.deepEqual([get('/Alarms/LowTemperature').value, get('/Alarms/LowTemperature').text], [1, '1']);
  for (const p of [
    '/Alarms/LowVoltage',
    '/Alarms/HighVoltage',
    '/Alarms/HighChargeCurrent',
    '/Alarms/HighDischargeCurrent',
    '/Alarms/HighTemperature',
    '/Alarms/InternalFailure',
  ]) {
    assert.equal(get(p).value, 0, p);
  }
  // Pytes / JK / SmartShunt topics are absent: their paths are invalid, not 0
  for (const p of [
    '/Alarms/CellImbalance',
    '/Alarms/HighChargeTemperature',
    '/System/MinCellVoltage',
    '/Voltages/Cell1',
    '/ConsumedAmphours',
    '/InstalledCapacity',
  ]) {
    assert.equal(get(p).invalid, true, p);
    assert.equal(get(p).value, null, p);
  }
  assert.deepEqual(
    rows.filter((r) => r.warning).map((r) => `${r.path}: ${r.warning}`),
    [],
    'no warnings',
  );
});

test('OpenDTU-OnBattery: an alarm flag gives level 2, above its warning', async () => {
  const { get } = await check(variant({ 'alarm/underTemperature': '1', 'alarm/overVoltage': '1', 'warning/highVoltage': '1' }));
  assert.equal(get('/Alarms/LowTemperature').value, 2);
  assert.equal(get('/Alarms/HighVoltage').value, 2);
  assert.equal(get('/Alarms/LowVoltage').value, 0);
});

test('OpenDTU-OnBattery: before the first limit frame the limits are invalid, not 0.00', async () => {
  // Pylontech publishes settings/chargeVoltage unconditionally (0.00 until CAN 0x351 arrived) and
  // the current limits only once received (Stats.cpp isChargeCurrentLimitValid()).
  const { rows, get } = await check(
    variant({
      'settings/chargeCurrentLimitation': undefined,
      'settings/dischargeCurrentLimitation': undefined,
      'settings/chargeVoltage': '0.00',
      'settings/dischargeVoltageLimitation': '0.00',
    }),
  );
  for (const p of [...LIMITS, '/Info/BatteryLowVoltage']) {
    assert.deepEqual([get(p).value, get(p).text, get(p).invalid], [null, '---', true], p);
  }
  assert.equal(get('/Dc/0/Voltage').value, 52.31, 'the battery itself is there');
  assert.ok(
    rows.every((r) => !r.warning),
    'absent or not-yet-received is no warning',
  );
});

test('OpenDTU-OnBattery: a BMS link gone quiet (dataAge growing) invalidates limits, switches and alarms', async () => {
  // OpenDTU republishes the last values every interval; only dataAge tells that the BMS went quiet.
  const lines = [
    ...Object.entries(base).map(([topic, payload]) => JSON.stringify({ topic, payload, time: 0 })),
    JSON.stringify({ topic: 'openDTU/battery/dataAge', payload: '5', time: 5 }),
    JSON.stringify({ topic: 'openDTU/battery/voltage', payload: '52.31', time: 30 }),
    JSON.stringify({ topic: 'openDTU/battery/dataAge', payload: '31', time: 31 }),
  ];
  const file = join(dir, 'quiet.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');
  const { get, out } = await check(file, TOPIC, 1);
  assert.equal(out.payloads[0].stale, false);
  assert.deepEqual(out.payloads[0].missingRequired, ['/Dc/0/Voltage', '/Soc'], 'the message with dataAge 31 is refused');
  for (const p of [...LIMITS, '/Io/AllowToCharge', '/Alarms/LowTemperature', '/Alarms/HighVoltage']) {
    assert.equal(get(p).invalid, true, p);
  }
  // check shows a refused last message as it evaluated (why it was refused); D-Bus keeps the last
  // published values until the battery's timeout (stale is still false).
  assert.equal(get('/Soc').value, null, 'the refused message: SoC with a stale dataAge is invalid');
  const longer = await check(file, [...TOPIC, '--var', 'maxDataAge=60']);
  assert.equal(longer.get('/Info/MaxChargeCurrent').value, 37, 'maxDataAge=60 still accepts 31 s');

  // OpenDTU goes on republishing the old values every 5 s with dataAge growing: every message is
  // refused, so nothing keeps the battery fresh and it goes stale at its timeout (60 s).
  const republished = [...lines];
  for (let t = 36; t <= 100; t += 5)
    republished.push(
      JSON.stringify({ topic: 'openDTU/battery/dataAge', payload: String(t), time: t }),
      JSON.stringify({ topic: 'openDTU/battery/voltage', payload: '52.31', time: t }),
      JSON.stringify({ topic: 'openDTU/battery/stateOfCharge', payload: '87.00', time: t }),
    );
  const stale = join(dir, 'republished.jsonl');
  writeFileSync(stale, republished.join('\n') + '\n');
  const after = await check(stale, TOPIC, 1);
  assert.equal(after.out.payloads[0].stale, true, 'republished stale data does not keep the battery fresh');
  for (const p of ['/Soc', '/Dc/0/Voltage', ...LIMITS]) assert.equal(after.get(p).value, null, p);
});

test('OpenDTU-OnBattery: SBS charge voltage is a firmware constant, not a BMS value', async () => {
  const { get } = await check(variant({ manufacturer: 'SBS UniPower', 'settings/chargeVoltage': '58.40' }));
  assert.equal(get('/Info/MaxChargeVoltage').invalid, true);
  assert.equal(get('/Info/MaxChargeCurrent').value, 37, 'the current limits do come from the SBS BMS');
  const noName = await check(variant({ manufacturer: undefined }));
  assert.equal(noName.get('/Info/MaxChargeVoltage').invalid, true, 'no manufacturer yet: provider unknown');
});

test('OpenDTU-OnBattery: limits out of range or switched off by the BMS', async () => {
  const neg = await check(variant({ 'settings/chargeCurrentLimitation': '-5.00' }));
  assert.equal(neg.get('/Info/MaxChargeCurrent').invalid, true);
  assert.match(neg.get('/Info/MaxChargeCurrent').warning ?? '', /below the minimum 0/);
  const off = await check(variant({ 'charging/chargeEnabled': '0' }));
  assert.deepEqual([off.get('/Info/MaxChargeCurrent').value, off.get('/Io/AllowToCharge').value], [0, 0]);
  assert.equal(off.get('/Info/MaxDischargeCurrent').value, 74);
});

test("OpenDTU-OnBattery: the mapping's own filter is the firmware default base topic solar/", async () => {
  const d = Object.fromEntries(Object.entries(base).map(([k, v]) => [k.replace(/^openDTU\//, 'solar/'), v]));
  const file = join(dir, 'solar.json');
  writeFileSync(file, JSON.stringify(d));
  const { get } = await check(file, []);
  assert.equal(get('/Info/MaxChargeVoltage').value, 53.2);
  const wrong = await runCli(['check', '--json', MAPPING, CAPTURE]);
  assert.equal(wrong.code, 1, 'openDTU/... topics are outside solar/battery/#: nothing published');
});

test('OpenDTU-OnBattery (Pytes, a subset of its topics, made-up values): limits without charging/chargeEnabled, cell min/max with names', async () => {
  // Pytes publishes no charging/chargeEnabled (pytes/Stats.cpp mqttPublish): the limits must not need it.
  const pytes: Record<string, string> = {
    manufacturer: 'PYTES',
    dataAge: '1',
    stateOfCharge: '55.00',
    voltage: '51.80',
    current: '10.00',
    'settings/chargeVoltage': '53.20',
    'settings/chargeCurrentLimitation': '100.00',
    'settings/dischargeCurrentLimitation': '90.00',
    CellMinMilliVolt: '3235',
    CellMaxMilliVolt: '3241',
    CellMinVoltageName: '0103',
    CellMaxVoltageName: '0211',
    'alarm/cellImbalance': '0',
    'warning/cellImbalance': '1',
    'charging/chargeImmediately': '0',
  };
  const file = join(dir, 'pytes.json');
  writeFileSync(file, JSON.stringify(Object.fromEntries(Object.entries(pytes).map(([k, v]) => [`openDTU/battery/${k}`, v]))));
  const { get, rows } = await check(file);
  assert.deepEqual(
    LIMITS.map((p) => get(p).value),
    [53.2, 100, 90],
  );
  assert.deepEqual([get('/System/MinCellVoltage').text, get('/System/MaxCellVoltage').value], ['3.235V', 3.241]);
  assert.deepEqual([get('/System/MinVoltageCellId').value, get('/System/MaxVoltageCellId').value], ['0103', '0211'], 'names stay text');
  assert.deepEqual(
    [get('/Voltages/Diff').text, get('/Voltages/Diff').source],
    ['0.006V', 'derived'],
    'max - min without CellDiffMilliVolt',
  );
  assert.equal(get('/Alarms/CellImbalance').value, 1);
  assert.ok(
    rows.every((r) => !r.warning),
    'no warnings',
  );
});
