/** Two topics writing the same document key are reported, in every input format; one topic refreshing its own keys is not. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DocumentBuilder, type InputSpec } from '../../src/input/index.js';

function builder(input: InputSpec, topics: string[]) {
  const seen: string[] = [];
  const b = new DocumentBuilder({ input, topics, onCollision: (keys, prev, topic) => seen.push(`${keys.join('.')} ${prev} ${topic}`) });
  return { b, seen };
}

test('tree: pack1/# and pack2/# key the same levels: reported', () => {
  const { b, seen } = builder({ format: 'tree' }, ['pack1/#', 'pack2/#']);
  b.accept('pack1/sensor/soc/state', '50');
  b.accept('pack1/sensor/soc/state', '51');
  assert.deepEqual(seen, [], 'a topic refreshing its own value');
  b.accept('pack2/sensor/soc/state', '60');
  assert.deepEqual(seen, ['sensor.soc.state pack1/sensor/soc/state pack2/sensor/soc/state']);
});

test('tree without #: every level is a key, no collision', () => {
  const { b, seen } = builder({ format: 'tree' }, ['pack1/sensor/+/state', 'pack2/sensor/+/state']);
  b.accept('pack1/sensor/soc/state', '50');
  b.accept('pack2/sensor/soc/state', '60');
  assert.deepEqual(seen, []);
});

test('json, two topics with the same keys (the overlay): reported; different keys: not', () => {
  const { b, seen } = builder({ format: 'json' }, ['bms/1', 'bms/2']);
  b.accept('bms/1', '{"Dc": {"Voltage": 52}, "Soc": 50}');
  b.accept('bms/1', '{"Dc": {"Voltage": 53}, "Soc": 51}');
  b.accept('bms/2', '{"Dc": {"Current": 4}}');
  assert.deepEqual(seen, []);
  b.accept('bms/2', '{"Soc": 70}');
  assert.deepEqual(seen, ['Soc bms/1 bms/2']);
});

test('json merge under a wildcard: reported, also a leaf replaced by a branch', () => {
  const { b, seen } = builder({ format: 'json', merge: true }, ['bms/#']);
  b.accept('bms/a', '{"Info": {"MaxChargeCurrent": 50}, "Soc": 1}');
  b.accept('bms/a', '{"Info": {"MaxChargeCurrent": 40}}');
  assert.deepEqual(seen, []);
  b.accept('bms/b', '{"Info": {"MaxChargeCurrent": 90}, "Soc": {"x": 1}}');
  assert.deepEqual(seen, ['Info.MaxChargeCurrent bms/a bms/b', 'Soc bms/a bms/b']);
});

test('json without merge: a branch of another topic replaced by a leaf', () => {
  const { b, seen } = builder({ format: 'json' }, ['a', 'b']);
  b.accept('a', '{"Info": {"MaxChargeCurrent": 50}}');
  b.accept('b', '{"Info": 3}');
  assert.deepEqual(seen, ['Info a b']);
});

test('packs: each pack under packs.<name>, in tree and json, so the same levels never collide', () => {
  const packOf = (t: string) => (t.startsWith('pack1/') ? 'P1' : t.startsWith('pack2/') ? 'P2' : undefined);
  const seen: string[] = [];
  const tree = new DocumentBuilder({
    input: { format: 'tree' },
    topics: ['pack1/#', 'pack2/#'],
    packOf,
    onCollision: (k) => seen.push(k.join('.')),
  });
  tree.accept('pack1/sensor/soc/state', '50');
  tree.accept('pack2/sensor/soc/state', '60');
  assert.deepEqual(JSON.parse(JSON.stringify(tree.document)), {
    packs: { P1: { sensor: { soc: { state: 50 } } }, P2: { sensor: { soc: { state: 60 } } } },
  });
  const json = new DocumentBuilder({
    input: { format: 'json' },
    topics: ['pack1/x', 'pack2/x'],
    packOf,
    onCollision: (k) => seen.push(k.join('.')),
  });
  json.accept('pack1/x', '{"Soc": 50}');
  json.accept('pack2/x', '{"Soc": 60}');
  assert.deepEqual(JSON.parse(JSON.stringify(json.document)), { packs: { P1: { Soc: 50 }, P2: { Soc: 60 } } });
  assert.ok(json.dropFrom('pack2/x'));
  assert.deepEqual(JSON.parse(JSON.stringify(json.document)), { packs: { P1: { Soc: 50 } } });
  assert.deepEqual(seen, []);
});
