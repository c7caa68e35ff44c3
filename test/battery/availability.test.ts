/**
 * Availability (birth / last-will) topics, with fake time: `offline` is stale now, in the same
 * update; `online` alone makes nothing fresh; availability messages are never data and never
 * counted as rejected.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadMapping } from '../../src/mapping/index.js';
import { fixture, mappingFile } from '../support/paths.js';
import { rig, type Rig } from './fakes.js';

const LIMITS = ['/Info/MaxChargeVoltage', '/Info/MaxChargeCurrent', '/Info/MaxDischargeCurrent'];
const capture = JSON.parse(readFileSync(fixture('foreign', 'esphome-jk-bms', 'mqtt-capture.json'), 'utf8')) as Record<string, string>;
const esphome = () => rig({ mapping: loadMapping(mappingFile('esphome-jk-bms.yaml')), topic: 'jk-bms/#', timeout: 60 });

async function sendCapture(r: Rig): Promise<void> {
  await r.send(...Object.entries(capture).map(([topic, payload]) => ({ topic, payload })));
}

function rejected(r: Rig): number {
  return r.battery['diag'].rejected as number;
}

test('ESPHome: <node>/status offline takes the battery stale at once, limits invalid in the same update', async () => {
  const r = await esphome();
  await sendCapture(r);
  assert.equal(r.value('/Connected'), 1);
  assert.equal(typeof r.value('/Info/MaxChargeCurrent'), 'number');
  const before = rejected(r);
  await r.advanceTo(1000);
  const signals = r.sink.signals.length;
  await r.send({ topic: 'jk-bms/status', payload: 'offline' });
  assert.equal(r.t, 1000, 'no time passed: not the 60 s timeout');
  const update = r.sink.signals.slice(signals).find((paths) => paths.includes('/Connected'));
  assert.ok(update, 'an ItemsChanged with /Connected');
  assert.equal(r.value('/Connected'), 0);
  for (const p of [...LIMITS, '/Soc']) {
    assert.ok(update.includes(p), `${p} in the same ItemsChanged`);
    assert.equal(r.value(p), null, `${p} invalid`);
  }
  assert.ok(r.lines.some((l) => /jk-bms\/status says offline/.test(l)));
  assert.equal(rejected(r), before, 'the last will is not a rejected message');
  assert.ok(!r.lines.some((l) => /(bad message|no values).*jk-bms\/status/.test(l)));
});

test('JSON under a wildcard: the availability payloads are not rejected messages and never data', async () => {
  const r = await rig({
    topic: 'bms/#',
    sources: [{ topic: 'bms/#', timeout: 60, required: true, availability: { topic: 'bms/status', online: 'online', offline: 'offline' } }],
  });
  await r.send({ topic: 'bms/status', payload: 'online' }, { topic: 'bms/data', payload: { Dc: { Power: 100, Voltage: 50 }, Soc: 60 } });
  assert.equal(r.value('/Connected'), 1);
  await r.send({ topic: 'bms/status', payload: 'offline' });
  assert.equal(r.value('/Connected'), 0);
  assert.equal(rejected(r), 0);
  assert.deepEqual(r.battery['subscriptions'](), ['bms/#'], 'covered by the data filter: no second subscription');
});

test('online alone does not make the battery fresh; data after it does; data while offline counts for nothing', async () => {
  const r = await esphome();
  await sendCapture(r);
  await r.send({ topic: 'jk-bms/status', payload: 'offline' });
  await sendCapture(r); // the capture begins with jk-bms/status online: a whole reconnect
  assert.equal(r.value('/Connected'), 1, 'online, then data: fresh');
  await r.send({ topic: 'jk-bms/status', payload: 'offline' });
  const data = Object.entries(capture).filter(([t]) => t !== 'jk-bms/status');
  await r.send(...data.map(([topic, payload]) => ({ topic, payload })));
  assert.equal(r.value('/Connected'), 0, 'data with no online after the offline is ignored');
  await r.send({ topic: 'jk-bms/status', payload: 'online' });
  assert.equal(r.value('/Connected'), 0, 'online alone: still stale');
  await r.advanceTo(3000);
  assert.equal(r.value('/Connected'), 0);
  await r.send(...data.map(([topic, payload]) => ({ topic, payload })));
  assert.equal(r.value('/Connected'), 1);
});

test('a retained offline (the broker holds the last will) keeps a fresh start stale until online', async () => {
  const r = await esphome();
  await r.send({ topic: 'jk-bms/status', payload: 'offline', retained: true });
  const data = Object.entries(capture).filter(([t]) => t !== 'jk-bms/status');
  await r.send(...data.map(([topic, payload]) => ({ topic, payload })));
  assert.equal(r.value('/Connected'), 0);
  await r.send({ topic: 'jk-bms/status', payload: 'online', retained: true });
  await r.send(...data.map(([topic, payload]) => ({ topic, payload })));
  assert.equal(r.value('/Connected'), 1);
});

test('an unknown availability payload changes nothing and is logged once per interval', async () => {
  const r = await esphome();
  await sendCapture(r);
  for (let i = 0; i < 3; i++) await r.send({ topic: 'jk-bms/status', payload: 'maybe' });
  assert.equal(r.value('/Connected'), 1);
  assert.equal(r.lines.filter((l) => /neither "online" nor "offline"/.test(l)).length, 1);
});

test("availability: false in the config turns the mapping's default off", async () => {
  const r = await rig({
    mapping: loadMapping(mappingFile('esphome-jk-bms.yaml')),
    sources: [{ topic: 'jk-bms/#', timeout: 60, required: true, availability: false }],
  });
  await sendCapture(r);
  await r.send({ topic: 'jk-bms/status', payload: 'offline' });
  assert.equal(r.value('/Connected'), 1, 'status is just a topic now (a leaf nobody reads)');
});

const PACKS = `
input: {format: json}
required: [/Soc]
paths:
  /Soc: {type: d, value: p1.Soc}
  /Info/MaxChargeCurrent: {type: d, value: "$sum([p1.Limit, p2.Limit])"}
  /Dc/0/Voltage: {type: d, value: p2.V}
`;

test("an optional source's offline drops its values at once; the battery stays connected", async () => {
  const r = await rig({
    mapping: PACKS,
    sources: [
      { topic: 'p1', timeout: 60, required: true, availability: { topic: 'p1/lwt', online: 'Online', offline: 'Offline' } },
      { topic: 'p2', timeout: 60, required: false, availability: { topic: 'p2/lwt', online: 'Online', offline: 'Offline' } },
    ],
  });
  await r.send({ topic: 'p1', payload: { p1: { Soc: 50, Limit: 40 } } }, { topic: 'p2', payload: { p2: { Limit: 30, V: 52 } } });
  assert.equal(r.value('/Info/MaxChargeCurrent'), 70);
  assert.deepEqual(r.battery['subscriptions'](), ['p1', 'p2', 'p1/lwt', 'p2/lwt']);
  await r.send({ topic: 'p2/lwt', payload: 'offline' });
  assert.equal(r.value('/Dc/0/Voltage'), 52, 'payloads are compared exactly (Tasmota: Offline)');
  await r.send({ topic: 'p2/lwt', payload: 'Offline' });
  assert.equal(r.value('/Connected'), 1);
  assert.equal(r.value('/Dc/0/Voltage'), null, "p2's value is gone now");
  assert.equal(r.value('/Info/MaxChargeCurrent'), null, 'never 40 A from p1 alone while p2 is unknown');
  assert.equal(r.value('/Soc'), 50);
  await r.send({ topic: 'p1/lwt', payload: 'Offline' });
  assert.equal(r.value('/Connected'), 0, 'the required source offline: stale');
});

test('Venus OS source: an empty payload or {"value": null} removes the value at once and is not a rejected message', async () => {
  const mapping = `
input: {format: tree, unwrap: value}
required: [/Soc]
paths:
  /Soc: {type: d, value: Soc}
  /Info/MaxChargeCurrent: {type: d, value: Info.MaxChargeCurrent}
`;
  const r = await rig({ mapping, sources: [{ topic: 'N/abc/battery/512/#', timeout: 60, required: true }] });
  await r.send(
    { topic: 'N/abc/battery/512/Soc', payload: { value: 60 } },
    { topic: 'N/abc/battery/512/Info/MaxChargeCurrent', payload: { value: 80 } },
  );
  assert.equal(r.value('/Info/MaxChargeCurrent'), 80);
  await r.send({ topic: 'N/abc/battery/512/Info/MaxChargeCurrent', payload: { value: null } });
  assert.equal(r.value('/Info/MaxChargeCurrent'), null, 'invalid on the GX: invalid here, now');
  assert.equal(r.value('/Connected'), 1);
  await r.send({ topic: 'N/abc/battery/512/Info/MaxChargeCurrent', payload: { value: 70 } });
  assert.equal(r.value('/Info/MaxChargeCurrent'), 70);
  await r.send({ topic: 'N/abc/battery/512/Soc', payload: '' }, { topic: 'N/abc/battery/512/Info/MaxChargeCurrent', payload: '' });
  assert.equal(r.value('/Connected'), 0, 'the service went away: a required path lost its input, stale now');
  assert.equal(r.value('/Info/MaxChargeCurrent'), null);
  assert.equal(rejected(r), 0);
});

test('Venus OS JsonData: {"value": null} or an empty payload takes the battery stale at once', async () => {
  const r = await rig({
    mapping: loadMapping(mappingFile('serialbattery-jsondata.yaml')),
    sources: [{ topic: 'N/abc/battery/512/JsonData', timeout: 60, required: true }],
  });
  const json = JSON.stringify({ Dc: { '0': { Voltage: 53.1 } }, Soc: 61, Info: { MaxChargeCurrent: 90 } });
  for (const gone of ['', '{"value": null}']) {
    await r.send({ topic: 'N/abc/battery/512/JsonData', payload: { value: json } });
    assert.equal(r.value('/Info/MaxChargeCurrent'), 90);
    await r.send({ topic: 'N/abc/battery/512/JsonData', payload: gone });
    assert.equal(r.value('/Connected'), 0, `${JSON.stringify(gone)}: stale`);
    assert.equal(r.value('/Info/MaxChargeCurrent'), null);
  }
  assert.equal(rejected(r), 0);
});

test('not a Venus OS source: an empty payload is a rejected message, as before', async () => {
  const r = await rig();
  await r.send({ payload: { Dc: { Power: 100, Voltage: 50 }, Soc: 60 } });
  await r.send({ payload: '' });
  assert.equal(r.value('/Connected'), 1);
  assert.equal(rejected(r), 1);
});

test('the shipped Venus OS battery mirror: the capture connects; an empty payload (service gone) is stale at once', async () => {
  const venus = JSON.parse(readFileSync(fixture('foreign', 'venus-battery', 'mqtt-capture.json'), 'utf8')) as Record<string, string>;
  const r = await rig({ mapping: loadMapping(mappingFile('venus-battery.yaml')), topic: 'N/+/battery/512/#' });
  await r.send(...Object.entries(venus).map(([topic, payload]) => ({ topic, payload })));
  assert.equal(r.value('/Connected'), 1);
  assert.equal(r.value('/Info/MaxChargeCurrent'), 74);
  await r.send({ topic: 'N/d41243b5e5f7/battery/512/Info/MaxChargeCurrent', payload: '{"value":null}' });
  assert.equal(r.value('/Info/MaxChargeCurrent'), null);
  assert.equal(r.value('/Connected'), 1);
  await r.send(
    ...Object.keys(venus)
      .filter((t) => t.includes('/battery/512/'))
      .map((topic) => ({ topic, payload: '' })),
  );
  assert.equal(r.value('/Connected'), 0);
  for (const p of LIMITS) assert.equal(r.value(p), null);
  assert.equal(rejected(r), 0);
});
