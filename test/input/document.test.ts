import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DocumentBuilder, documentKeys, topicMatches, validTopicFilter } from '../../src/input/index.js';
import { parseLeaf } from '../../src/input/document.js';
import { mulberry32 } from '../fuzz/lib.js';
import { fixture } from '../support/paths.js';

/** Documents are null-prototype objects; compare them as JSON data. */
const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;
const doc = (b: DocumentBuilder) => plain(b.document);

test('json: the payload is the document; junk is refused with a reason', () => {
  const b = new DocumentBuilder({ input: { format: 'json' }, topics: ['bms'] });
  const ok = b.accept('bms', '{"Soc": 5}');
  assert.equal(ok.ok && ok.leaves, 1);
  assert.deepEqual(doc(b), { Soc: 5 });
  const bad = b.accept('bms', '{"Soc": ');
  assert.equal(bad.ok, false);
  assert.match((bad as { reason: string }).reason, /^not valid JSON/);
  assert.match((b.accept('bms', '[1,2]') as { reason: string }).reason, /expected a JSON object, got an array/);
  assert.match((b.accept('bms', '') as { reason: string }).reason, /empty payload/);
  assert.deepEqual(doc(b), { Soc: 5 }, 'a refused message leaves the document alone');
  const proto = Object.getPrototypeOf(b.document) as object;
  assert.equal(Object.getPrototypeOf(proto), null, 'documents inherit nothing');
  assert.deepEqual(Reflect.ownKeys(proto), []);
  assert.ok(Object.isFrozen(proto), 'and nothing can be added to what they inherit');
});

test('oversized payloads are refused before parsing', () => {
  const b = new DocumentBuilder({ input: {}, topics: ['bms'], maxPayloadBytes: 100 });
  const r = b.accept('bms', JSON.stringify({ pad: 'x'.repeat(200) }));
  assert.deepEqual(r, { ok: false, kind: 'size', reason: 'payload of 210 bytes is over the limit of 100' });
});

test('unwrap: Venus MQTT bridge {"value": ...} and JSON text inside it', () => {
  const b = new DocumentBuilder({ input: { unwrap: 'value' }, topics: ['#'] });
  b.accept('N/x/battery/1/JsonData', JSON.stringify({ value: '{"Soc": 7}' }));
  assert.deepEqual(doc(b), { Soc: 7 });
  b.accept('N/x/battery/1/JsonData', '{"Soc": 8}');
  assert.deepEqual(doc(b), { Soc: 8 }, 'unwrapped payloads pass unchanged');
  const r = b.accept('N/x/battery/1/JsonData', JSON.stringify({ value: '{"Soc": ' }));
  assert.equal(r.ok === false && r.kind, 'json', 'broken JSON text inside the wrapper is refused, not thrown');
  const p = b.accept('N/x/battery/1/JsonData', JSON.stringify({ value: '{"__proto__": {"Soc": 1}}' }));
  assert.equal(p.ok === false && p.kind, 'key', 'the wrapped text is sanitized too');
});

test('json with several topics: the document overlays their latest payloads', () => {
  const b = new DocumentBuilder({ input: {}, topics: ['bms/a', 'bms/b'] });
  b.accept('bms/a', '{"Dc": {"Voltage": 52}, "Soc": 1}');
  b.accept('bms/b', '{"Dc": {"Power": 100}}');
  assert.deepEqual(doc(b), { Dc: { Voltage: 52, Power: 100 }, Soc: 1 });
  b.accept('bms/a', '{"Dc": {"Voltage": 53}}');
  assert.deepEqual(doc(b), { Dc: { Voltage: 53, Power: 100 } }, 'topic a replaced, b kept');
});

test('merge: fields a message leaves out are held, and `latest` is only the newest message', () => {
  const b = new DocumentBuilder({ input: { merge: true }, topics: ['bms'] });
  b.accept('bms', '{"Dc": {"Power": 1, "Voltage": 50, "Current": 0.02}, "Soc": 9}');
  b.accept('bms', '{"Dc": {"Power": 2, "Voltage": 51}}');
  assert.deepEqual(doc(b), { Dc: { Power: 2, Voltage: 51, Current: 0.02 }, Soc: 9 });
  assert.deepEqual(plain(b.latest), { Dc: { Power: 2, Voltage: 51 } });
  const empty = b.accept('bms', '{}');
  assert.equal(empty.ok && empty.leaves, 0, 'an empty object delivers nothing');
});

test('tree: one plain value per topic, keyed by the levels under #', () => {
  const b = new DocumentBuilder({ input: { format: 'tree' }, topics: ['jk-bms/#'] });
  b.accept('jk-bms/sensor/total_voltage/state', '52.70');
  b.accept('jk-bms/binary_sensor/balancing/state', 'ON');
  b.accept('jk-bms/sensor/cell_voltage_1/state', '3.301');
  assert.deepEqual(doc(b), {
    sensor: { total_voltage: { state: 52.7 }, cell_voltage_1: { state: 3.301 } },
    binary_sensor: { balancing: { state: 'ON' } },
  });
  assert.equal(b.topicCount, 3);
});

test('tree: a leaf is what JSON.parse gives, else its text, whichever way it is found', () => {
  // parseLeaf skips JSON.parse for text that cannot start JSON; it must give exactly what
  // trying JSON.parse on every payload gives.
  const reference = (text: string): unknown => {
    const t = text.trim();
    if (t === '') return undefined;
    try {
      return JSON.parse(t) as unknown;
    } catch {
      return text;
    }
  };
  const corpus = [
    ...Object.values(JSON.parse(readFileSync(fixture('foreign', 'esphome-jk-bms', 'mqtt-capture.json'), 'utf8')) as Record<string, string>),
    'true',
    'false',
    'null',
    ' true ',
    'truex',
    'nan',
    'NaN',
    'null\n',
    'nul',
    'Infinity',
    '-Infinity',
    '-',
    '-1',
    '+1',
    '.5',
    '0x10',
    '1e5',
    '007',
    '"x"',
    '"x',
    '[1,2]',
    '[',
    '{"a":1}',
    '{',
    '\u00a01.5\u00a0',
    '\t52.7\r\n',
    'ON',
    '',
    '   ',
    'é',
  ];
  const rnd = mulberry32(13);
  const alphabet = ' \t-+.0123456789eEtrufalsn"[]{},:xON\u00a0';
  for (let i = 0; i < 3000; i++) {
    let s = '';
    for (let n = Math.floor(rnd() * 8); n > 0; n--) s += alphabet[Math.floor(rnd() * alphabet.length)];
    corpus.push(s);
  }
  for (const text of corpus) assert.deepEqual(parseLeaf(text), reference(text), JSON.stringify(text));
});

test('tree: a topic gives the same keys every time; a refused topic stays refused', () => {
  const b = new DocumentBuilder({
    input: { format: 'tree' },
    topics: ['jk-bms/#', 'other/+'],
    packOf: (t) => (t.startsWith('other/') ? 'p2' : undefined),
  });
  for (let k = 0; k < 3; k++) {
    assert.equal(b.accept('jk-bms/sensor/soc/state', String(50 + k)).ok, true);
    assert.equal(b.accept('other/x', String(k)).ok, true);
    for (const bad of ['jk-bms/a/__proto__', 'jk-bms/a//b']) {
      const r = b.accept(bad, '1');
      assert.equal(r.ok === false && r.kind, 'topic', `${bad}, delivery ${k}`);
    }
  }
  assert.deepEqual(doc(b), { sensor: { soc: { state: 52 } }, packs: { p2: { other: { x: 2 } } } });
});

test('every leaf expires with the message that brought it: held values are only as fresh as their message', () => {
  const b = new DocumentBuilder({ input: { merge: true }, topics: ['bms'] });
  b.accept('bms', '{"Dc": {"Power": 1, "Voltage": 50}, "Info": {"MaxChargeCurrent": 80}}', 5_000);
  b.accept('bms', '{"Dc": {"Power": 2}}', 9_000);
  assert.equal(b.expire(4_999), false);
  assert.equal(b.expire(5_000), true);
  assert.deepEqual(doc(b), { Dc: { Power: 2 } }, 'Voltage and the limit went with their message; Power was refreshed');
  assert.deepEqual(plain(b.latest), { Dc: { Power: 2 } });
  assert.equal(b.expire(9_000), true);
  assert.deepEqual(doc(b), {});
  assert.equal(b.topicCount, 0);
});

test('a transaction rolled back leaves no trace: a dropped message never feeds a later one', () => {
  const b = new DocumentBuilder({ input: { merge: true }, topics: ['bms'] });
  b.accept('bms', '{"Dc": {"Power": 1, "Voltage": 50}, "Soc": 9}');
  const before = doc(b);
  b.begin();
  b.accept('bms', '{"Dc": {"Voltage": 70, "Extra": {"Deep": 1}}, "Info": {"MaxChargeCurrent": 500}, "Soc": {"x": 1}}');
  assert.deepEqual(plain(b.latest), { Dc: { Voltage: 70, Extra: { Deep: 1 } }, Info: { MaxChargeCurrent: 500 }, Soc: { x: 1 } });
  b.rollback();
  assert.deepEqual(doc(b), before);
  assert.deepEqual(plain(b.latest), {});

  const r = new DocumentBuilder({ input: {}, topics: ['a', 'b'] });
  r.accept('a', '{"A": 1, "Both": {"x": 1}}');
  r.accept('b', '{"B": 2}');
  r.begin();
  r.accept('a', '{"A2": 1}');
  r.rollback();
  r.accept('b', '{"B": 3}');
  assert.deepEqual(doc(r), { A: 1, Both: { x: 1 }, B: 3 }, 'replace mode: the replaced payload is back after rollback');
  r.accept('a', '{"A": 5}');
  assert.deepEqual(doc(r), { A: 5, B: 3 }, 'and is replaced normally afterwards');
});

test('a rolled-back message that re-delivers a topic own leaves restores their values and their expiry', () => {
  const b = new DocumentBuilder({ input: { merge: true }, topics: ['bms'] });
  b.accept('bms', '{"Dc": {"Voltage": 50, "Power": 1}, "Soc": 9}', 5_000);
  b.begin();
  b.accept('bms', '{"Dc": {"Voltage": 51, "Power": 1}, "Soc": 9}', 9_000);
  assert.deepEqual(doc(b), { Dc: { Voltage: 51, Power: 1 }, Soc: 9 });
  b.rollback();
  assert.deepEqual(doc(b), { Dc: { Voltage: 50, Power: 1 }, Soc: 9 }, 'the changed value is back');
  assert.equal(b.expire(5_000), true, 'the rolled-back message kept nothing fresh, not even its unchanged values');
  assert.deepEqual(doc(b), {});

  b.accept('bms', '{"Dc": {"Voltage": 50, "Power": 1}, "Soc": 9}', 5_000);
  b.begin();
  b.accept('bms', '{"Dc": {"Voltage": 52}}', 9_000);
  b.commit();
  assert.equal(b.expire(5_000), true);
  assert.deepEqual(doc(b), { Dc: { Voltage: 52 } }, 'a committed refresh keeps only what it delivered fresh');
  assert.equal(b.expire(9_000), true);
  assert.deepEqual(doc(b), {});
});

test('a battery keeps data from a bounded number of topics', () => {
  const b = new DocumentBuilder({ input: { format: 'tree' }, topics: ['bms/#'], maxTopics: 3 });
  for (const t of ['a', 'b', 'c']) assert.equal(b.accept(`bms/${t}`, '1').ok, true);
  const r = b.accept('bms/d', '1');
  assert.equal(r.ok === false && r.kind, 'topics');
  assert.equal(b.accept('bms/a', '2').ok, true, 'known topics still update');
  b.expire(Infinity);
  assert.equal(b.accept('bms/d', '1').ok, true, 'room again once data expired');
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
