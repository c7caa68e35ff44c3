/** The example mappings for foreign formats, checked on captures of their real topic layout. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../support/cli.js';
import { fixture, mappingFile, repoRoot } from '../support/paths.js';
import { readmeConfigs, readmeMappings } from '../support/readme.js';

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
  assert.equal(Number((get('/Voltages/Sum').value as number).toFixed(3)), 54.643, 'the sum of the 16 cells');
  assert.equal(get('/Voltages/Sum').text, '54.64V');
  assert.equal(get('/Voltages/Diff').value, 0.029);
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

test('the default mapping derives /System/NrOfCellsPerBattery from the cells when the payload gives none (or 0)', async () => {
  const { get } = await checkJson('default.yaml', fixture('seed', 'seed-full.json'));
  assert.deepEqual([get('/System/NrOfCellsPerBattery').value, get('/System/NrOfCellsPerBattery').source], [24, 'derived']);
  const min = await checkJson('default.yaml', fixture('seed', 'seed-min.json'));
  assert.deepEqual([min.get('/System/NrOfCellsPerBattery').value, min.get('/System/NrOfCellsPerBattery').source], [0, 'default']);
});

test('the default mapping also reads serialbattery JsonData (the seed handles the wrapper)', async () => {
  const { get } = await checkJson('default.yaml', fixture('foreign', 'serialbattery', 'mqtt-capture.json'), [
    '--topic',
    'N/+/battery/+/JsonData',
  ]);
  assert.equal(get('/Dc/0/Voltage').value, 54.66);
  assert.equal(get('/Info/MaxDischargeCurrent').value, 60);
});

test('ESPHome JK-BMS: check lists the switch paths as writable and --set shows the ESPHome command', async () => {
  const capture = fixture('foreign', 'esphome-jk-bms', 'mqtt-capture.json');
  const { out } = await checkJson('esphome-jk-bms.yaml', capture, [
    '--set',
    '/Io/AllowToCharge=0',
    '--set',
    '/Settings/ForceDischargingOff=1',
    '--set',
    '/Io/AllowToBalance=1',
  ]);
  const writable = out.writable as { path: string; command?: { topic: string; qos: number; retain: boolean } }[];
  assert.deepEqual(
    writable.map((w) => `${w.path} ${w.command?.topic}`),
    [
      '/Io/AllowToCharge jk-bms/switch/charging/command',
      '/Io/AllowToDischarge jk-bms/switch/discharging/command',
      '/Io/AllowToBalance jk-bms/switch/balancer/command',
      '/Settings/ForceChargingOff jk-bms/switch/charging/command',
      '/Settings/ForceDischargingOff jk-bms/switch/discharging/command',
      '/Settings/TurnBalancingOff jk-bms/switch/balancer/command',
    ],
  );
  assert.deepEqual(out.payloads[0].sets, [
    { path: '/Io/AllowToCharge', value: 0, code: 0, topic: 'jk-bms/switch/charging/command', payload: 'OFF', qos: 1, retain: false },
    {
      path: '/Settings/ForceDischargingOff',
      value: 1,
      code: 0,
      topic: 'jk-bms/switch/discharging/command',
      payload: 'OFF',
      qos: 1,
      retain: false,
    },
    { path: '/Io/AllowToBalance', value: 1, code: 0, topic: 'jk-bms/switch/balancer/command', payload: 'ON', qos: 1, retain: false },
  ]);
});

test('check --set without a payload: refusals carry the reply code and make the exit code 1', async () => {
  const r = await runCli([
    'check',
    mappingFile('esphome-jk-bms.yaml'),
    '--set',
    '/Io/AllowToCharge=1',
    '--set',
    '/Io/AllowToCharge=2',
    '--set',
    '/Io/AllowToCharge=on',
    '--set',
    '/Soc=5',
  ]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /SetValue \/Io\/AllowToCharge = 1 → publishes "ON" on jk-bms\/switch\/charging\/command \(QoS 1\), returns 0/);
  assert.match(r.stdout, /SetValue \/Io\/AllowToCharge = 2 → returns 2, publishes nothing: 2 is above the maximum 1/);
  assert.match(r.stdout, /SetValue \/Io\/AllowToCharge = \? → returns 1, publishes nothing: "on" does not fit D-Bus type i/);
  assert.match(r.stdout, /SetValue \/Soc = \? → returns 1, publishes nothing: read-only path/);
  const none = await runCli(['check', mappingFile('default.yaml'), '--set', '/Soc=5']);
  assert.match(none.stdout, /writable paths: none/);
  const usage = await runCli(['check', mappingFile('default.yaml'), '--set', 'Soc']);
  assert.equal(usage.code, 2);
});

test("another GX device's battery service, mirrored path by path from Venus OS's MQTT", async () => {
  const { out, get, rows } = await checkJson('venus-battery.yaml', fixture('foreign', 'venus-battery', 'mqtt-capture.json'));
  assert.equal(out.payloads[0].ignored, 4, 'Serial, heartbeat, full_publish_completed and the solar charger are not the battery');
  assert.deepEqual(out.payloads[0].refused, []);
  assert.equal(get('/Dc/0/Voltage').value, 52.31);
  assert.equal(get('/Dc/0/Current').value, -12.4);
  assert.equal(get('/Info/MaxChargeCurrent').text, '74.0A');
  assert.equal(get('/System/MinVoltageCellId').value, '2-13');
  assert.equal(get('/System/NrOfModulesOnline').type, 'i');
  assert.equal(get('/Capacity').value, null, '{"value": null} is invalid');
  assert.equal(get('/Alarms/FuseBlown').value, null);
  assert.ok(!rows.some((r) => r.path === '/ProductName'), "identity paths are vbat's own");
});

test('vbat check reports two topics writing the same key (pack1/# and pack2/# of ESPHome) and fails', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vbat-collision-'));
  try {
    const capture = join(dir, 'two-packs.json');
    writeFileSync(
      capture,
      JSON.stringify({
        'pack1/sensor/total_voltage/state': '52.1',
        'pack1/sensor/current/state': '3',
        'pack1/sensor/state_of_charge/state': '50',
        'pack2/sensor/total_voltage/state': '52.3',
        'pack2/sensor/state_of_charge/state': '70',
      }),
    );
    const r = await runCli(['check', '--json', '--topic', '+/#', mappingFile('esphome-jk-bms.yaml'), capture]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.payloads[0].collisions, [
      'sensor.total_voltage.state: written by pack1/sensor/total_voltage/state and pack2/sensor/total_voltage/state',
      'sensor.state_of_charge.state: written by pack1/sensor/state_of_charge/state and pack2/sensor/state_of_charge/state',
    ]);
    const table = await runCli(['check', '--topic', '+/#', mappingFile('esphome-jk-bms.yaml'), capture]);
    assert.match(table.stdout, /KEY COLLISION sensor\.total_voltage\.state/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('packs: vbat check --pack puts each pack under its own key; the shipped packs mapping aggregates the capture', async () => {
  const capture = fixture('foreign', 'packs', 'two-packs.json');
  const { get } = await checkJson('packs-json.yaml', capture, ['--pack', 'P1=house/pack1', '--pack', 'P2=house/pack2']);
  assert.equal(get('/Soc').value, 74, 'capacity-weighted: (70·280 + 82·140) / 420');
  assert.equal(get('/Info/MaxChargeCurrent').value, 110);
  assert.equal(get('/Info/MaxChargeVoltage').value, 55);
  assert.equal(get('/System/MinVoltageCellId').value, 'P2/C7');
  assert.equal(get('/System/NrOfModulesOffline').value, 0);
  const onePack = await checkJson('packs-json.yaml', capture, ['--pack', 'P1=house/pack1']);
  assert.equal(onePack.get('/Info/MaxChargeCurrent').value, 70);
  assert.equal(onePack.out.payloads[0].ignored, 1);
  const bad = await runCli(['check', '--pack', 'P1', mappingFile('packs-json.yaml'), capture]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--pack expects NAME=FILTER/);
});

test("the README's mapping examples pass vbat check", async () => {
  const examples = readmeMappings();
  assert.ok(examples.length >= 1, 'the README has a mapping example');
  const tmp = mkdtempSync(join(tmpdir(), 'vbat-readme-'));
  try {
    const payload = join(tmp, 'payload.json');
    writeFileSync(
      payload,
      JSON.stringify({ bms: { voltage: 52.7, soc: 63, power: -300, current: -5.7, cells: [3.3, 3.31], alarms: { low_voltage: 0 } } }),
    );
    for (const [i, yaml] of examples.entries()) {
      const file = join(tmp, `example-${i}.yaml`);
      writeFileSync(file, yaml);
      const r = await runCli(['check', file, payload, '--topic', 'my-bms']);
      assert.match(r.stdout, /paths, OK/, `README example ${i + 1}:\n${r.stdout}`);
      assert.equal(r.code, 0, r.stdout);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('the README config examples and config.sample.yaml pass vbat check --config', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vbat-readme-config-'));
  try {
    // Configs name mappings relative to themselves, as installed beside mappings/.
    symlinkSync(join(repoRoot, 'mappings'), join(tmp, 'mappings'));
    const capture = join(tmp, 'capture.jsonl');
    const esphome = Object.entries(JSON.parse(readFileSync(fixture('foreign', 'esphome-jk-bms', 'mqtt-capture.json'), 'utf8')));
    const seed = readFileSync(fixture('seed', 'seed-min.json'), 'utf8');
    writeFileSync(
      capture,
      [
        ...['bms/house', 'bms/garage'].map((topic) => JSON.stringify({ topic, payload: seed })),
        ...esphome.map(([topic, payload]) => JSON.stringify({ topic, payload })),
      ].join('\n'),
    );
    const configs = readmeConfigs();
    assert.ok(configs.length >= 1);
    const files = configs.map((yaml, i) => {
      const f = join(tmp, `config-${i}.yaml`);
      writeFileSync(f, yaml);
      return f;
    });
    // config.sample.yaml and the first README example run on this capture; every example's config
    // and mappings load as vbat run would load them.
    for (const f of [join(repoRoot, 'config.sample.yaml'), files[0]!]) {
      const r = await runCli(['check', '--config', f, capture]);
      assert.equal(r.code, 0, `${f}:\n${r.stdout}${r.stderr}`);
    }
    for (const f of files) {
      const r = await runCli(['check', '--config', f, capture]);
      assert.doesNotMatch(r.stdout + r.stderr, /the mapping has \d+ problem|not declared/, `${f}:\n${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /^battery \S+: mapping .*paths, OK$/m, f);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
