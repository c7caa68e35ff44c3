/**
 * Prototype pollution corpus: keys and topic levels that name JavaScript's object machinery, at
 * several depths and in every input format. Each is refused whole, a clean payload after it is
 * mapped exactly as if it had never come, and Object.prototype is untouched.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DocumentBuilder } from '../../src/input/index.js';
import { Evaluator, loadMapping, defaultMappingFile } from '../../src/mapping/index.js';
import { mappingFile } from '../support/paths.js';

const FORBIDDEN = ['__proto__', 'constructor', 'prototype'];

/** Payloads hiding a forbidden key at several depths (including inside arrays and wrappers). */
function hostilePayloads(key: string): string[] {
  const evil = `{"${key}": {"Info": {"MaxChargeCurrent": 300}, "polluted": 1}}`;
  return [
    `{"Dc": {"Power": 1, "Voltage": 50}, "Soc": 50, ${evil.slice(1, -1)}}`,
    `{"Dc": {"Power": 1, "Voltage": 50, ${evil.slice(1, -1)}}, "Soc": 50}`,
    `{"Dc": {"Power": 1, "Voltage": 50}, "Soc": 50, "Voltages": {"x": {"y": ${evil}}}}`,
    `{"Dc": {"Power": 1, "Voltage": 50}, "Soc": 50, "Cells": [1, ${evil}]}`,
    JSON.stringify({ value: `{"Dc": {"Power": 1, "Voltage": 50}, "Soc": 50, ${evil.slice(1, -1)}}` }),
  ];
}

function assertPrototypeClean(): void {
  const probe: Record<string, unknown> = {};
  assert.equal(probe.Info, undefined, 'Object.prototype gained Info');
  assert.equal(probe.polluted, undefined, 'Object.prototype gained polluted');
  assert.equal(probe.state, undefined, 'Object.prototype gained state');
  assert.equal(Object.getPrototypeOf(Object.prototype), null);
}

for (const merge of [true, false]) {
  test(`json (merge ${merge}): forbidden keys at any depth are refused; the next clean payload maps cleanly`, async () => {
    const mapping = loadMapping(defaultMappingFile());
    for (const key of FORBIDDEN) {
      for (const payload of hostilePayloads(key)) {
        const b = new DocumentBuilder({ input: { ...mapping.input, merge }, topics: ['bms'] });
        const r = b.accept('bms', payload);
        assert.equal(r.ok === false && r.kind, 'key', `${payload} must be refused`);
        assert.match((r as { reason: string }).reason, new RegExp(`key "${key}" is not allowed`));
        b.accept('bms', '{"Dc": {"Power": 100, "Voltage": 50}, "Soc": 60}');
        const ev = await new Evaluator(mapping).evaluate(b.document, 0, b.latest);
        const at = (p: string) => ev.values[mapping.byPath.get(p)!.index];
        assert.equal(at('/Info/MaxChargeCurrent'), null, `${payload}: no limit may appear from nowhere`);
        assert.equal(at('/Dc/0/Power'), 100);
        assert.equal(at('/Dc/0/Current'), 2);
        assertPrototypeClean();
      }
    }
  });
}

test('tree: forbidden topic levels are refused; inherited names read nothing', async () => {
  const mapping = loadMapping(mappingFile('esphome-jk-bms.yaml'));
  const filter = mapping.input.topic!;
  const prefix = filter.replace(/#$/, '');
  for (const key of FORBIDDEN) {
    for (const topic of [`${prefix}${key}/power/state`, `${prefix}sensor/${key}/state`, `${prefix}sensor/power/${key}`]) {
      const b = new DocumentBuilder({ input: mapping.input, topics: [filter] });
      const r = b.accept(topic, '999');
      assert.equal(r.ok === false && r.kind, 'topic', `${topic} must be refused`);
      assertPrototypeClean();
    }
  }
  const b = new DocumentBuilder({ input: mapping.input, topics: [filter] });
  b.accept(`${prefix}sensor/power/state`, '{"constructor": 1}');
  assert.equal(b.topicCount, 0, 'a forbidden key inside a leaf payload is refused too');
});

test('documents never expose inherited properties to expressions', async () => {
  const { parseMapping } = await import('../../src/mapping/index.js');
  const mapping = parseMapping(`
paths:
  /A: {custom: true, type: s, value: "$string(Dc.constructor)"}
  /B: {custom: true, type: s, value: "Dc.toString"}
  /C: {custom: true, type: i, value: "$exists(Dc.hasOwnProperty) ? 1 : 0"}
  /D: {custom: true, type: s, value: "Dc.__proto__"}
`);
  const b = new DocumentBuilder({ input: {}, topics: ['t'] });
  b.accept('t', '{"Dc": {"Power": 1}}');
  const ev = await new Evaluator(mapping).evaluate(b.document, 0);
  assert.deepEqual(ev.values, [null, null, 0, null]);
});

test('document objects inherit nothing, even when something has extended Object.prototype', () => {
  const injected = { MaxChargeCurrent: 300 };
  Object.defineProperty(Object.prototype, 'Info', { value: injected, enumerable: true, configurable: true, writable: true });
  try {
    const b = new DocumentBuilder({ input: { format: 'json', merge: true }, topics: ['bms'] });
    const r = b.accept('bms', '{"Dc": {"Power": 1, "Voltage": 50, "Cells": [{"a": 1}]}, "Soc": 50}');
    assert.equal(r.ok, true);
    const doc = b.document as Record<string, Record<string, unknown>>;
    for (const node of [doc, doc.Dc!, (doc.Dc!.Cells as Record<string, unknown>[])[0]!]) {
      assert.equal('Info' in node, false, 'a document object sees an inherited key');
      assert.equal(Object.getPrototypeOf(Object.getPrototypeOf(node)), null);
    }
    assert.deepEqual(Object.keys(doc).sort(), ['Dc', 'Soc']);
    assert.equal(Object.getPrototypeOf(injected), Object.prototype, 'an inherited object was touched');
  } finally {
    delete (Object.prototype as Record<string, unknown>).Info;
  }
  assertPrototypeClean();
});
