/**
 * Reusing a path's last result while its inputs are unchanged (memo.ts) must never show a value
 * its inputs no longer give. Every shipped mapping runs on its capture, mutated in place step by
 * step (values changed, put back, removed, turned into text, objects, arrays, null), and an
 * evaluator that reuses must give exactly what one that recomputes everything gives, every time.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { captureMessages } from '../../src/cli/capture-file.js';
import { DocumentBuilder, topicMatches } from '../../src/input/index.js';
import { blank, type Tree } from '../../src/input/sanitize.js';
import { Evaluator, loadMapping, parseMapping, type Evaluation } from '../../src/mapping/index.js';
import { mulberry32 } from '../fuzz/lib.js';
import { fixture, mappingFile } from '../support/paths.js';

interface Case {
  mapping: string;
  capture: string;
  topics: string[];
  packs?: Record<string, string>;
  topic?: string;
}

const CASES: Case[] = [
  { mapping: 'default.yaml', capture: fixture('seed', 'seed-full.json'), topics: ['bms/seed'], topic: 'bms/seed' },
  { mapping: 'esphome-jk-bms.yaml', capture: fixture('foreign', 'esphome-jk-bms', 'mqtt-capture.json'), topics: ['jk-bms/#'] },
  {
    mapping: 'serialbattery-jsondata.yaml',
    capture: fixture('foreign', 'serialbattery', 'mqtt-capture.json'),
    topics: ['N/+/battery/+/JsonData'],
  },
  { mapping: 'venus-battery.yaml', capture: fixture('foreign', 'venus-battery', 'mqtt-capture.json'), topics: ['N/+/battery/512/#'] },
  {
    mapping: 'opendtu-onbattery.yaml',
    capture: fixture('foreign', 'opendtu-onbattery', 'pylontech-capture.json'),
    topics: ['openDTU/battery/#'],
  },
  { mapping: 'batmon-ha.yaml', capture: fixture('foreign', 'batmon-ha', 'mqtt-capture.json'), topics: ['battery1/#'] },
  { mapping: 'daly-bms-mqtt.yaml', capture: fixture('foreign', 'daly-bms-mqtt', 'mqtt-capture.jsonl'), topics: ['BMS01/Pack_Data'] },
  {
    mapping: 'packs-json.yaml',
    capture: fixture('foreign', 'packs', 'two-packs.json'),
    topics: ['house/pack1', 'house/pack2'],
    packs: { 'house/pack1': 'P1', 'house/pack2': 'P2' },
  },
];

/** Every [parent, key] in the document, leaves and branches, arrays' elements included. */
function slots(node: unknown, out: [Tree | unknown[], string | number][] = []): [Tree | unknown[], string | number][] {
  if (Array.isArray(node)) node.forEach((v, i) => (out.push([node, i]), slots(v, out)));
  else if (node !== null && typeof node === 'object')
    for (const k of Object.keys(node)) {
      out.push([node as Tree, k]);
      slots((node as Tree)[k], out);
    }
  return out;
}

function tree(entries: Record<string, unknown>): Tree {
  return Object.assign(blank(), entries);
}

const comparable = (ev: Evaluation) => ({
  values: ev.values,
  texts: ev.texts,
  origins: [...ev.origins],
  problems: ev.problems,
  changed: ev.changed,
  missingRequired: ev.missingRequired,
});

for (const c of CASES) {
  test(`${c.mapping}: reusing unchanged paths gives what recomputing gives, over 400 mutated documents`, async () => {
    const mapping = loadMapping(mappingFile(c.mapping));
    const builder = new DocumentBuilder({
      input: mapping.input,
      topics: c.topics,
      packOf: c.packs ? (t) => c.packs![t] : undefined,
    });
    const text = readFileSync(c.capture, 'utf8');
    for (const m of captureMessages(text) ?? [{ topic: c.topic!, payload: text }]) {
      const topic = m.topic;
      if (!c.topics.some((f) => topicMatches(f, topic))) continue;
      builder.accept(topic, m.payload);
    }
    const doc = builder.document;
    const original = structuredClone({ ...doc });
    const originalSlots = new Map(slots(original).map(([p, k]) => [String(k), (p as Record<string, unknown>)[k as never]]));
    const reusing = new Evaluator(mapping);
    const reference = new Evaluator(mapping, {}, false);
    const rnd = mulberry32(c.mapping.length * 7919);
    let now = 1_000_000;
    for (let step = 0; step < 400; step++) {
      const n = rnd() < 0.2 ? 0 : 1 + Math.floor(rnd() * 3);
      for (let j = 0; j < n; j++) {
        const all = slots(doc);
        if (!all.length) break;
        const [parent, key] = all[Math.floor(rnd() * all.length)]!;
        const p = parent as Record<string | number, unknown>;
        const old = p[key];
        const r = rnd();
        if (r < 0.35 && typeof old === 'number') p[key] = old + (rnd() < 0.5 ? 0.1 : -1);
        else if (r < 0.45)
          p[key] = structuredClone(originalSlots.get(String(key)) ?? old); // back to a value it had
        else if (r < 0.52 && !Array.isArray(parent)) delete p[key];
        else if (r < 0.6) p[key] = typeof old === 'object' && old !== null ? JSON.stringify(old) : String(old);
        else if (r < 0.66) p[key] = null;
        else if (r < 0.72) p[key] = tree({ state: typeof old === 'number' ? old : 1 });
        else if (r < 0.78) p[key] = [1, 2, old];
        else if (r < 0.82) p[key] = -0;
        else if (r < 0.86) p[key] = true;
        else if (r < 0.9 && !Array.isArray(parent)) Object.assign(doc, structuredClone(original)); // most of it back
        // else: leave it (the same document again)
      }
      if (rnd() < 0.1) now += 60_000;
      now += 1000;
      const want = comparable(await reference.evaluate(doc, now));
      const got = comparable(await reusing.evaluate(doc, now));
      assert.deepEqual(got, want, `${c.mapping}, step ${step}`);
    }
  });
}

test('a path that reads another through $path is recomputed when that one changes, along a chain', async () => {
  const mapping = parseMapping(
    [
      'paths:',
      '  /Io/AllowToCharge: {type: i, value: "allow"}',
      '  /System/NrOfCellsPerBattery: {type: i, value: "cells"}',
      '  /Info/MaxChargeVoltage: {type: d, value: "3.45 * $path(\'/System/NrOfCellsPerBattery\')"}',
      '  /Info/MaxChargeCurrent: {type: d, value: "$path(\'/Io/AllowToCharge\') = 0 ? 0 : limit"}',
      "  /Info/MaxDischargeCurrent: {type: d, value: \"$path('/Info/MaxChargeCurrent') > 0 ? $path('/Info/MaxChargeCurrent') : 7\"}",
    ].join('\n'),
  );
  const reusing = new Evaluator(mapping);
  const reference = new Evaluator(mapping, {}, false);
  const doc = tree({ allow: 1, cells: 16, limit: 100 });
  const steps: [string, unknown][] = [
    ['allow', 1],
    ['allow', 0],
    ['allow', 0],
    ['allow', 1],
    ['cells', 15],
    ['cells', 15],
    ['limit', 50],
    ['allow', 'x'],
    ['allow', 1],
    ['cells', undefined],
    ['cells', 16],
    ['limit', undefined],
    ['limit', 80],
    ['allow', 0],
    ['allow', 1],
  ];
  for (const [i, [key, value]] of steps.entries()) {
    if (value === undefined) delete doc[key];
    else doc[key] = value;
    const want = comparable(await reference.evaluate(doc, 1000 * i));
    assert.deepEqual(comparable(await reusing.evaluate(doc, 1000 * i)), want, `step ${i}: ${key} = ${String(value)}`);
  }
});

/** A payload changed a little: JSON objects get a few slots mutated, plain values another value. */
function mutatePayload(payload: string, rnd: () => number): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return rnd() < 0.5 ? payload : 'x';
  }
  if (parsed === null || typeof parsed !== 'object') {
    const r = rnd();
    if (typeof parsed === 'number' && r < 0.6) return String(parsed + (rnd() < 0.5 ? 0.5 : -1));
    return r < 0.8 ? payload : r < 0.9 ? 'null' : '';
  }
  const all = slots(parsed);
  const n = rnd() < 0.3 ? 0 : 1 + Math.floor(rnd() * 4);
  for (let j = 0; j < n && all.length; j++) {
    const [parent, key] = all[Math.floor(rnd() * all.length)]!;
    const p = parent as Record<string | number, unknown>;
    const old = p[key];
    const r = rnd();
    if (r < 0.45 && typeof old === 'number') p[key] = old + (rnd() < 0.5 ? 0.1 : -1);
    else if (r < 0.6 && !Array.isArray(parent)) delete p[key];
    else if (r < 0.7) p[key] = String(old);
    else if (r < 0.78) p[key] = null;
    else if (r < 0.86) p[key] = { state: typeof old === 'number' ? old : 1 };
    else if (r < 0.92) p[key] = [1, 2, old];
  }
  return JSON.stringify(parsed);
}

for (const c of CASES) {
  test(`${c.mapping}: reusing what the input store says did not change gives what recomputing gives, through transactions, rollbacks and expiry`, async () => {
    const mapping = loadMapping(mappingFile(c.mapping));
    const builder = new DocumentBuilder({ input: mapping.input, topics: c.topics, packOf: c.packs ? (t) => c.packs![t] : undefined });
    const text = readFileSync(c.capture, 'utf8');
    const messages = (captureMessages(text) ?? [{ topic: c.topic!, payload: text }]).filter((m) =>
      c.topics.some((f) => topicMatches(f, m.topic)),
    );
    const reusing = new Evaluator(mapping);
    const reference = new Evaluator(mapping, {}, false);
    const rnd = mulberry32(c.mapping.length * 104729);
    let now = 1_000_000;
    let listed = 0;
    for (const m of messages) builder.accept(m.topic, m.payload, now + 10_000);
    for (let step = 0; step < 300; step++) {
      now += rnd() < 0.1 ? 8_000 : 1000;
      builder.expire(now);
      if (rnd() < 0.03) {
        builder.clear(); // the battery went stale
        reusing.reset();
        reference.reset();
      }
      builder.begin();
      const n = rnd() < 0.1 ? messages.length : 1 + Math.floor(rnd() * 3);
      for (let j = 0; j < n; j++) {
        const m = n === messages.length ? messages[j]! : messages[Math.floor(rnd() * messages.length)]!;
        builder.accept(m.topic, mutatePayload(m.payload, rnd), now + (rnd() < 0.5 ? 5_000 : 20_000));
      }
      const latest = mapping.input.merge ? builder.latest : undefined;
      const changes = builder.changes;
      if (changes !== undefined) listed++;
      const want = comparable(await reference.evaluate(builder.document, now, latest));
      const got = comparable(await reusing.evaluate(builder.document, now, latest, changes));
      builder.settleChanges();
      assert.deepEqual(got, want, `${c.mapping}, step ${step}`);
      if (want.missingRequired.length || rnd() < 0.25) builder.rollback();
      else builder.commit();
    }
    assert.ok(listed > 200, `the store listed its changes in only ${listed} of 300 steps`);
  });
}

test('the store lists the top-level keys a message, a rollback, an expiry changed, and says "anything" after clear()', () => {
  const b = new DocumentBuilder({ input: { merge: true }, topics: ['bms'] });
  assert.equal(b.changes, undefined, 'nothing evaluated yet');
  b.accept('bms', '{"Dc": {"Voltage": 50, "Power": 1}, "Soc": 9, "Info": {"MaxChargeVoltage": 55}}', 5_000);
  b.settleChanges();
  assert.deepEqual([...b.changes!], []);
  b.begin();
  b.accept('bms', '{"Dc": {"Voltage": 51, "Power": 1}, "Soc": 9, "Info": {"MaxChargeVoltage": 55}}', 9_000);
  assert.deepEqual([...b.changes!], ['Dc'], 'only the key whose value changed; refreshed expiries are not changes');
  b.settleChanges();
  b.rollback();
  assert.deepEqual([...b.changes!], ['Dc'], 'a rollback puts the old value back: a change');
  b.settleChanges();
  b.accept('bms', '{"Soc": 10}', 7_000);
  assert.deepEqual([...b.changes!], ['Soc']);
  b.settleChanges();
  b.expire(5_000);
  assert.deepEqual([...b.changes!].sort(), ['Dc', 'Info'], 'expired leaves are changes');
  b.settleChanges();
  b.clear();
  assert.equal(b.changes, undefined);
  b.settleChanges();
  const many: Record<string, number> = {};
  for (let i = 0; i < 300; i++) many[`k${i}`] = i;
  b.accept('bms', JSON.stringify(many));
  assert.equal(b.changes, undefined, 'past a bound: "anything", not an ever-growing list');
});
