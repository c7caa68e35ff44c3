import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DocumentBuilder, documentKeys, topicMatches, validTopicFilter } from '../../src/input/index.js';

test('json: the payload is the document; junk is refused with a reason', () => {
  const b = new DocumentBuilder({ input: { format: 'json' }, topics: ['bms'] });
  assert.deepEqual(b.accept('bms', '{"Soc": 5}'), { ok: true, doc: { Soc: 5 } });
  const bad = b.accept('bms', '{"Soc": ');
  assert.equal(bad.ok, false);
  assert.match((bad as { reason: string }).reason, /^not valid JSON/);
  assert.match((b.accept('bms', '[1,2]') as { reason: string }).reason, /expected a JSON object, got an array/);
  assert.match((b.accept('bms', '') as { reason: string }).reason, /empty payload/);
  assert.deepEqual(b.document, { Soc: 5 }, 'a refused message leaves the document alone');
});

test('oversized payloads are refused before parsing', () => {
  const b = new DocumentBuilder({ input: {}, topics: ['bms'], maxPayloadBytes: 100 });
  const r = b.accept('bms', JSON.stringify({ pad: 'x'.repeat(200) }));
  assert.deepEqual(r, { ok: false, kind: 'size', reason: 'payload of 210 bytes is over the limit of 100' });
});

test('unwrap: Venus MQTT bridge {"value": ...} and JSON text inside it', () => {
  const b = new DocumentBuilder({ input: { unwrap: 'value' }, topics: ['#'] });
  assert.deepEqual(b.accept('N/x/battery/1/JsonData', JSON.stringify({ value: '{"Soc": 7}' })), { ok: true, doc: { Soc: 7 } });
  assert.deepEqual(b.accept('t', '{"Soc": 8}'), { ok: true, doc: { Soc: 8 } }, 'unwrapped payloads pass unchanged');
});

test('json with several topics: the document merges their latest payloads', () => {
  const b = new DocumentBuilder({ input: {}, topics: ['bms/a', 'bms/b'] });
  b.accept('bms/a', '{"Dc": {"Voltage": 52}, "Soc": 1}');
  const r = b.accept('bms/b', '{"Dc": {"Power": 100}}');
  assert.deepEqual(r, { ok: true, doc: { Dc: { Voltage: 52, Power: 100 }, Soc: 1 } });
  const again = b.accept('bms/a', '{"Dc": {"Voltage": 53}}');
  assert.deepEqual(again, { ok: true, doc: { Dc: { Voltage: 53, Power: 100 } } }, 'topic a replaced, b kept');
});

test('tree: one plain value per topic, keyed by the levels under #', () => {
  const b = new DocumentBuilder({ input: { format: 'tree' }, topics: ['jk-bms/#'] });
  b.accept('jk-bms/sensor/total_voltage/state', '52.70');
  b.accept('jk-bms/binary_sensor/balancing/state', 'ON');
  const r = b.accept('jk-bms/sensor/cell_voltage_1/state', '3.301');
  assert.deepEqual(r, { ok: true, doc: { sensor: { total_voltage: { state: 52.7 }, cell_voltage_1: { state: 3.301 } }, binary_sensor: { balancing: { state: 'ON' } } } });
});

test('topic filters', () => {
  assert.ok(topicMatches('N/+/battery/512/#', 'N/abc/battery/512/Dc/0/Voltage'));
  assert.ok(!topicMatches('N/+/battery/512/#', 'N/abc/battery/513/Dc'));
  assert.ok(topicMatches('a/b', 'a/b') && !topicMatches('a/b', 'a/b/c'));
  assert.deepEqual(documentKeys('N/+/battery/512/#', 'N/abc/battery/512/Dc/0/Voltage'), ['Dc', '0', 'Voltage']);
  assert.deepEqual(documentKeys('a/+/c', 'a/b/c'), ['a', 'b', 'c']);
  assert.match(validTopicFilter('a/#/b')!, /"#" must be a whole last level/);
  assert.equal(validTopicFilter('a/+/#'), undefined);
});
