/**
 * Several packs as one battery, with fake time: each pack under its own key, aggregated by the
 * shipped mappings/packs-json.yaml; a stale pack is dropped at once and the limits shrink to the
 * packs online; below minPacksOnline the battery is stale.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { Source } from '../../src/config/index.js';
import { loadMapping } from '../../src/mapping/index.js';
import { fixture, mappingFile } from '../support/paths.js';
import { rig } from './fakes.js';

const capture = JSON.parse(readFileSync(fixture('foreign', 'packs', 'two-packs.json'), 'utf8')) as Record<string, string>;
const mapping = loadMapping(mappingFile('packs-json.yaml'));
const PACKS: Source[] = [
  {
    topic: 'house/pack1',
    timeout: 5,
    required: false,
    pack: 'P1',
    availability: { topic: 'house/pack1/lwt', online: 'online', offline: 'offline' },
  },
  { topic: 'house/pack2', timeout: 5, required: false, pack: 'P2' },
];
const both = () => Object.entries(capture).map(([topic, payload]) => ({ topic, payload }));
const one = (topic: string) => ({ topic, payload: capture[topic]! });

test('two packs aggregated: sums, lowest charge voltage, capacity-weighted SoC, pack-qualified cell ids, worst alarm, module counts', async () => {
  const r = await rig({ mapping, sources: PACKS });
  await r.send(...both());
  assert.equal(r.value('/Connected'), 1);
  assert.equal(r.value('/Dc/0/Current'), 20.5);
  assert.equal(r.value('/Dc/0/Power'), 1091);
  assert.equal(r.value('/Dc/0/Voltage'), 53.25);
  assert.equal(r.value('/Soc'), 74);
  assert.equal(r.value('/InstalledCapacity'), 420);
  assert.equal(r.value('/Info/MaxChargeVoltage'), 55);
  assert.equal(r.value('/Info/MaxChargeCurrent'), 110);
  assert.equal(r.value('/Info/MaxDischargeCurrent'), 160);
  assert.equal(r.value('/System/MinCellVoltage'), 3.302);
  assert.equal(r.value('/System/MinVoltageCellId'), 'P2/C7');
  assert.equal(r.value('/System/MaxVoltageCellId'), 'P2/C12');
  assert.equal(r.value('/Alarms/HighTemperature'), 1);
  assert.equal(r.value('/System/NrOfModulesOnline'), 2);
  assert.equal(r.value('/System/NrOfModulesOffline'), 0);
  assert.equal(r.value('/System/NrOfBatteries'), 2);
  assert.ok(!r.lines.some((l) => /key collision/.test(l)), 'the packs never share a key');
});

test('one pack stale: its data is dropped at its timeout, the limits are what the other allows, NrOfModulesOffline counts it; both stale: stale', async () => {
  const r = await rig({ mapping, sources: PACKS });
  await r.send(...both());
  for (let s = 1; s <= 5; s++) {
    await r.advanceTo(s * 1000);
    await r.send(one('house/pack1'));
  }
  assert.equal(r.value('/Connected'), 1);
  assert.equal(r.value('/Info/MaxChargeCurrent'), 70, 'pack 1 alone: 70 A, not 110 A');
  assert.equal(r.value('/Info/MaxDischargeCurrent'), 100);
  assert.equal(r.value('/Info/MaxChargeVoltage'), 55.2);
  assert.equal(r.value('/Soc'), 70);
  assert.equal(r.value('/System/MinVoltageCellId'), 'P1/C7');
  assert.equal(r.value('/System/NrOfModulesOnline'), 1);
  assert.equal(r.value('/System/NrOfModulesOffline'), 1);
  assert.equal(r.value('/Alarms/HighTemperature'), 0, "pack 2's warning left with it");
  assert.ok(r.lines.some((l) => /no valid message on house\/pack2 for 5 s \(pack P2: its data is dropped\)/.test(l)));
  await r.send(one('house/pack2'));
  assert.equal(r.value('/Info/MaxChargeCurrent'), 110, 'back');
  await r.advanceTo(11_000);
  assert.equal(r.value('/Connected'), 0, 'both packs stale');
  assert.equal(r.value('/Info/MaxChargeCurrent'), null);
  assert.ok(r.lines.some((l) => /0 of 2 packs online, fewer than minPacksOnline 1/.test(l)));
});

test('minPacksOnline 2: one pack offline (availability) takes the whole battery stale at once', async () => {
  const r = await rig({ mapping, sources: PACKS, minPacksOnline: 2 });
  await r.send(one('house/pack1'));
  assert.equal(r.value('/Connected'), 0, 'one pack is not enough');
  await r.send(one('house/pack2'));
  assert.equal(r.value('/Connected'), 1);
  await r.send({ topic: 'house/pack1/lwt', payload: 'offline' });
  assert.equal(r.value('/Connected'), 0);
  assert.equal(r.value('/Info/MaxChargeCurrent'), null);
  const r1 = await rig({ mapping, sources: PACKS });
  await r1.send(...both());
  await r1.send({ topic: 'house/pack1/lwt', payload: 'offline' });
  assert.equal(r1.value('/Connected'), 1, 'minPacksOnline 1: pack 2 carries on');
  assert.equal(r1.value('/Info/MaxChargeCurrent'), 40);
  assert.equal(r1.value('/System/NrOfModulesOffline'), 1);
});

test('a field one online pack lacks makes the aggregate invalid, never the others alone', async () => {
  const r = await rig({ mapping, sources: PACKS });
  const p2 = JSON.parse(capture['house/pack2']!) as { Info: Record<string, unknown> };
  delete p2.Info.MaxChargeCurrent;
  await r.send(one('house/pack1'), { topic: 'house/pack2', payload: p2 });
  assert.equal(r.value('/Connected'), 1);
  assert.equal(r.value('/Info/MaxChargeCurrent'), null, 'not 70 A from pack 1 while pack 2 is online without a limit');
  assert.equal(r.value('/Info/MaxDischargeCurrent'), 160);
});
