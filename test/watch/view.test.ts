/** The shared view of `vbat watch` / `vbat demo`, from synthetic snapshots: no bus needed. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LiveView } from '../../src/watch/live.js';
import { activeAlarms, renderLine, renderView, snapshotJson, WIDTH } from '../../src/watch/view.js';
import type { Snapshot, WatchedItem } from '../../src/watch/watcher.js';
import { sleep } from '../support/wait.js';

const NOW = new Date(2024, 5, 1, 12, 34, 56).getTime();

function snapshot(values: Record<string, unknown>, extra: Partial<Snapshot> = {}): Snapshot {
  const items = new Map<string, WatchedItem>();
  for (const [path, value] of Object.entries(values)) {
    const type =
      value === null ? 'ai' : typeof value === 'string' ? 's' : typeof value === 'bigint' ? 'x' : Number.isInteger(value) ? 'i' : 'd';
    items.set(path, { value, type, text: value === null ? '---' : String(value) });
  }
  return { service: 'com.victronenergy.battery.vbat_demo', owner: ':1.7', items, updates: 321, lastChange: NOW - 400, ...extra };
}

const cells = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`/Voltages/Cell${i + 1}`, 3.3 + i / 1000]));
const balances = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`/Balances/Cell${i + 1}`, i === 15 ? 1 : 0]));
const FULL = snapshot({
  '/CustomName': 'demo',
  '/ProductName': 'vbat MQTT battery',
  '/DeviceInstance': 100,
  '/Mgmt/ProcessName': 'vbat',
  '/Mgmt/ProcessVersion': '0.1.0 on Node.js 20.20.2',
  '/Mgmt/Connection': 'MQTT vbat-demo/bms',
  '/Connected': 1,
  '/Soc': 63.4,
  '/Soh': 98,
  '/Dc/0/Voltage': 52.71,
  '/Dc/0/Current': -6.1,
  '/Dc/0/Power': -321.6,
  '/Dc/0/Temperature': 23,
  '/Capacity': 177.5,
  '/InstalledCapacity': 280,
  '/ConsumedAmphours': 102.5,
  '/TimeToGo': 43967,
  '/Info/MaxChargeVoltage': 55.2,
  '/Info/MaxChargeCurrent': 80,
  '/Info/MaxDischargeCurrent': 120,
  '/System/MinCellVoltage': 3.3,
  '/System/MaxCellVoltage': 3.315,
  '/System/MinVoltageCellId': 'Cell1',
  '/System/MaxVoltageCellId': 'Cell16',
  '/System/MinCellTemperature': 22.5,
  '/System/MaxCellTemperature': 23.5,
  '/System/MOSTemperature': 25.1,
  '/Voltages/Diff': 0.015,
  '/Balancing': 1,
  '/Io/AllowToCharge': 1,
  '/Io/AllowToDischarge': 0,
  '/Alarms/LowSoc': 0,
  '/Alarms/CellImbalance': 1,
  '/Alarms/HighDischargeCurrent': 2,
  '/Alarms/BmsCable': null,
  '/Vbat/MessagesAccepted': 120,
  '/Vbat/MessagesRejected': 2,
  '/Vbat/LastMessageTime': NOW / 1000 - 3,
  ...cells,
  ...balances,
});

describe('renderView', () => {
  test('fits 80 columns and shows what matters', () => {
    const lines = renderView(FULL, { now: NOW, footer: ['MQTT  mqtt://127.0.0.1:1883'], others: ['com.victronenergy.battery.other'] });
    for (const l of lines) assert.ok(l.length < WIDTH, `${l.length} columns: ${l}`);
    const text = lines.join('\n');
    assert.match(lines[0]!, /^vbat watch {2}com\.victronenergy\.battery\.vbat_demo +12:34:56$/);
    assert.match(text, /demo · vbat MQTT battery · instance 100 · :1\.7/);
    assert.match(text, /^Connected +yes +messages 120 accepted, 2 rejected, last 3 s ago$/m);
    assert.match(text, /^SoC +63\.4 % +\[#{19}\.{11}\] +SoH 98 %$/m);
    assert.match(text, /^Battery +52\.71 V +-6\.1 A +-322 W +discharging$/m);
    assert.match(text, /^Capacity +177\.5 of 280\.0 Ah, 102\.5 Ah used, time to go 12h 12m$/m);
    assert.match(text, /^Temperature +23\.0 °C +cells 22\.5…23\.5 °C +MOS 25\.1 °C$/m);
    assert.match(text, /^Charge limits +CVL 55\.20 V +CCL 80\.0 A +DCL 120\.0 A +NO DISCHARGE$/m);
    assert.match(text, /^Cells \(16\) +min 3\.300 \(Cell1\) +max 3\.315 \(Cell16\) +diff 0\.015 V +balancing\*$/m);
    assert.match(text, /^ {2}1-8 +3\.300 {2}3\.301 .*3\.307 $/m);
    assert.match(text, /^ {2}9-16 +3\.308 .*3\.315\*$/m, 'balancing cells are marked');
    assert.match(text, /^Alarms +HighDischargeCurrent ALARM, CellImbalance warning$/m);
    assert.match(text, /^D-Bus +\d+ paths, 321 changes seen, last 0\.4 s ago$/m);
    assert.match(text, /^Also on bus +…battery\.other$/m);
    assert.match(text, /^MQTT {2}mqtt:\/\/127\.0\.0\.1:1883$/m);
  });

  test('invalid values show ---; a stale battery says so', () => {
    const text = renderView(snapshot({ '/Connected': 0, '/Soc': null, '/Dc/0/Voltage': null, '/Info/MaxChargeCurrent': null }), {
      now: NOW,
    }).join('\n');
    assert.match(text, /^Connected +NO$/m);
    assert.match(text, /^SoC +--- +\[ {30}\]/m);
    assert.match(text, /CCL ---/);
    assert.match(text, /^Alarms +none$/m);
  });

  test('a service that is not on the bus', () => {
    const lines = renderView(snapshot({}, { owner: undefined }), { now: NOW, title: 'vbat demo' });
    assert.match(lines[0]!, /^vbat demo /);
    assert.match(lines[1]!, /is not on the bus; waiting/);
  });

  test('long alarm lists wrap under their label, within the width', () => {
    const many = Object.fromEntries(
      [
        'LowVoltage',
        'HighVoltage',
        'LowSoc',
        'HighChargeCurrent',
        'HighDischargeCurrent',
        'CellImbalance',
        'HighTemperature',
        'LowCellVoltage',
      ].map((a) => [`/Alarms/${a}`, 1]),
    );
    const lines = renderView(snapshot({ '/Connected': 1, ...many }), { now: NOW });
    const at = lines.findIndex((l) => l.startsWith('Alarms'));
    assert.ok(lines[at + 1]!.startsWith(' '.repeat(15)), 'continued');
    for (const l of lines) assert.ok(l.length < WIDTH);
    assert.equal(activeAlarms(snapshot(many).items).length, 8);
  });
});

describe('renderLine', () => {
  test('one compact line with the essentials', () => {
    assert.equal(
      renderLine(FULL, NOW),
      '12:34:56 Connected SoC 63.4% 52.71V -6.1A -322W 23.0°C CVL 55.20V CCL 80A DCL 120A cells 3.300-3.315V alarms HighDischargeCurrent=2,CellImbalance=1 msgs 120',
    );
    assert.equal(renderLine(snapshot({}, { owner: undefined }), NOW), '12:34:56 com.victronenergy.battery.vbat_demo is not on the bus');
    assert.match(renderLine(snapshot({ '/Connected': 0 }), NOW), /^12:34:56 Disconnected SoC ---/);
  });
});

describe('snapshotJson', () => {
  test('sorted paths; int64 as numbers when exact, as strings when not', () => {
    const j = snapshotJson(snapshot({ '/b': 1, '/a': null, '/big': 2n ** 62n, '/small': 5n }));
    assert.deepEqual(Object.keys(j.items), ['/a', '/b', '/big', '/small']);
    assert.deepEqual(j.items['/a'], { value: null, type: 'ai', text: '---' });
    assert.equal(j.items['/big']!.value, '4611686018427387904');
    assert.equal(j.items['/small']!.value, 5);
    assert.doesNotThrow(() => JSON.stringify(j));
  });
});

describe('LiveView', () => {
  test('a terminal gets the screen redrawn in place, and the cursor back at the end', async () => {
    let out = '';
    const view = new LiveView(() => FULL, { out: { write: (s: string) => (out += s) }, tty: true });
    view.start();
    view.update();
    view.update();
    await sleep(300);
    view.stop();
    assert.ok(out.startsWith('\x1b[?25l\x1b[2J\x1b[H'));
    assert.ok(out.endsWith('\x1b[?25h'));
    assert.ok(view.draws >= 2 && view.draws <= 4, `${view.draws} draws`);
    assert.match(out, /Connected +yes/);
  });

  test('a small terminal gets the view cut to its size, not wrapped', () => {
    let out = '';
    const view = new LiveView(() => FULL, { out: { write: (s: string) => (out += s), columns: 40, rows: 10 }, tty: true });
    view.start();
    view.stop();
    // eslint-disable-next-line no-control-regex -- stripping the terminal's escape sequences
    const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]/g;
    const screen = out.split('\x1b[H').pop()!.replace(ESCAPES, '');
    const lines = screen.split('\n').filter(Boolean);
    assert.equal(lines.length, 9);
    for (const l of lines) assert.ok(l.length <= 39, l);
  });

  test('a pipe gets at most one line a second, and the last state at the end', async () => {
    const lines: string[] = [];
    let soc = 50;
    const view = new LiveView(() => snapshot({ '/Connected': 1, '/Soc': soc }), {
      out: { write: (s: string) => lines.push(s) },
      tty: false,
    });
    view.start();
    for (let i = 0; i < 10; i++) {
      soc = 50 + i;
      view.update();
      await sleep(30);
    }
    view.stop();
    assert.equal(lines.length, 2, lines.join(''));
    assert.match(lines[0]!, /SoC 50\.0%/);
    assert.match(lines[1]!, /SoC 59\.0%/);
  });
});
