/**
 * The write-back policy with fake parts and fake time: what a SetValue on a path with a command
 * publishes, when it is refused, and what the path shows afterwards.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMapping } from '../../src/mapping/index.js';
import { FakeChannel, rig } from './fakes.js';

// A tree-format BMS: bms/soc, bms/switch/charging (ON/OFF), like ESPHome's one value per topic.
const MAPPING = `
input: {format: tree, topic: bms/#}
required: [/Soc]
paths:
  /Soc: {type: d, value: soc}
  /Io/AllowToCharge:
    type: i
    value: "$onOff(switch.charging)"
    min: 0
    max: 1
    command: {topic: bms/switch/charging/command, payload: '$value = 1 ? "ON" : "OFF"', confirm: 5, minInterval: 2}
  /Info/MaxChargeCurrent: {type: d, value: "$path('/Io/AllowToCharge') = 0 ? 0 : 100"}
  /Mode: {type: i, command: {topic: bms/mode/set, payload: "$string($value)", qos: 0, retain: true}}
  /Settings/Level: {custom: true, type: i, value: level, min: 0, max: 10, command: {topic: bms/level/set, payload: $value, confirm: 5}}
  /Io/ExternalRelay: {type: i, value: relay, command: {topic: bms/relay/set, payload: "relayName & ':' & $value"}}
`;

async function connected(opts: { timeout?: number } = {}) {
  const channel = new FakeChannel();
  const r = await rig({ mapping: MAPPING, topic: 'bms/#', channel, timeout: opts.timeout ?? 60 });
  await r.send({ topic: 'bms/soc', payload: '60' }, { topic: 'bms/switch/charging', payload: 'ON' });
  assert.equal(r.value('/Connected'), 1);
  assert.equal(r.value('/Io/AllowToCharge'), 1);
  return { r, channel };
}

test('a valid value publishes the command once, logged with path, value, topic and the D-Bus sender', async () => {
  const { r, channel } = await connected();
  assert.equal(await r.setValue('/Io/AllowToCharge', 0, ':1.42'), true);
  assert.deepEqual(channel.published, [{ topic: 'bms/switch/charging/command', payload: 'OFF', qos: 1, retain: false, withinMs: 3000 }]);
  const logged = r.lines.filter((l) => /command: \/Io\/AllowToCharge = 0/.test(l));
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /INFO/i);
  assert.match(logged[0]!, /:1\.42/);
  assert.match(logged[0]!, /bms\/switch\/charging\/command/);
});

test('the path shows the written value until the BMS echoes it; state messages in between do not flip it back', async () => {
  const { r } = await connected();
  await r.setValue('/Io/AllowToCharge', 0);
  await r.advanceTo(1000);
  await r.send({ topic: 'bms/soc', payload: '61' }, { topic: 'bms/switch/charging', payload: 'ON' });
  assert.equal(r.value('/Io/AllowToCharge'), 0, 'still the written value: the BMS has not switched yet');
  assert.equal(r.value('/Info/MaxChargeCurrent'), 100, 'DVCC follows the state the BMS reports, not the written value');
  await r.send({ topic: 'bms/switch/charging', payload: 'OFF' });
  assert.equal(r.value('/Io/AllowToCharge'), 0);
  assert.equal(r.value('/Info/MaxChargeCurrent'), 0);
  assert.ok(r.lines.some((l) => /command confirmed: .*\/Io\/AllowToCharge = 0/.test(l)));
  await r.advanceTo(10_000);
  assert.equal(r.value('/Io/AllowToCharge'), 0, 'confirmed: no revert later');
  assert.ok(!r.lines.some((l) => /not confirmed/.test(l)));
});

test('a reported state that moves but is not yet the written one does not replace it on D-Bus', async () => {
  const { r, channel } = await connected();
  await r.send({ topic: 'bms/level', payload: '3' });
  assert.equal(r.value('/Settings/Level'), 3);
  assert.equal(await r.setValue('/Settings/Level', 7), true);
  assert.equal(channel.published.at(-1)!.payload, '7', 'a number payload is sent as its text');
  await r.send({ topic: 'bms/level', payload: '5' });
  assert.equal(r.value('/Settings/Level'), 7);
  await r.send({ topic: 'bms/level', payload: '7' });
  assert.equal(r.value('/Settings/Level'), 7);
  assert.ok(r.lines.some((l) => /command confirmed: .*\/Settings\/Level = 7/.test(l)));
  await r.send({ topic: 'bms/level', payload: '6' });
  assert.equal(r.value('/Settings/Level'), 6, 'after confirmation the BMS state shows again');
});

test('a revert shows the state the BMS reported last, not the one before the command', async () => {
  const { r } = await connected();
  await r.send({ topic: 'bms/level', payload: '3' });
  await r.setValue('/Settings/Level', 7);
  await r.send({ topic: 'bms/level', payload: '4' });
  await r.advanceTo(5000);
  assert.equal(r.value('/Settings/Level'), 4);
});

test('no confirmation within `confirm` seconds: back to the last reported state, with a warning', async () => {
  const { r } = await connected();
  await r.setValue('/Io/AllowToCharge', 0);
  await r.advanceTo(2000);
  await r.send({ topic: 'bms/soc', payload: '61' });
  await r.advanceTo(4000);
  assert.equal(r.value('/Io/AllowToCharge'), 0, 'within the 5 s');
  await r.advanceTo(5000);
  assert.equal(r.value('/Io/AllowToCharge'), 1, 'the BMS still reports ON');
  const warned = r.lines.filter((l) => /command not confirmed/.test(l));
  assert.equal(warned.length, 1);
  assert.match(warned[0]!, /WARN/i);
});

test('out of range, invalid, or a payload expression without its input: refused, nothing published', async () => {
  const { r, channel } = await connected();
  assert.equal(await r.setValue('/Io/AllowToCharge', 2), false);
  assert.equal(await r.setValue('/Io/AllowToCharge', -1), false);
  assert.equal(await r.setValue('/Io/AllowToCharge', null), false);
  assert.equal(await r.setValue('/Io/ExternalRelay', 1), false, 'relayName is not in the document');
  assert.deepEqual(channel.published, []);
  assert.equal(r.value('/Io/AllowToCharge'), 1);
  assert.ok(r.lines.some((l) => /refused: 2 is above the maximum 1/.test(l)));
});

test('no command while the battery is stale: before the first data and after it went stale', async () => {
  const channel = new FakeChannel();
  const r = await rig({ mapping: MAPPING, topic: 'bms/#', channel, timeout: 5 });
  assert.equal(await r.setValue('/Io/AllowToCharge', 0), false, 'no data yet');
  await r.send({ topic: 'bms/soc', payload: '60' }, { topic: 'bms/switch/charging', payload: 'ON' });
  await r.advanceTo(5000);
  assert.equal(r.value('/Connected'), 0);
  assert.equal(await r.setValue('/Io/AllowToCharge', 0), false, 'stale');
  assert.deepEqual(channel.published, []);
  assert.ok(r.lines.some((l) => /refused: the battery is stale/.test(l)));
});

test('no command while the broker is disconnected, or when the broker does not take it', async () => {
  const { r, channel } = await connected();
  channel.isConnected = false;
  assert.equal(await r.setValue('/Io/AllowToCharge', 0), false);
  assert.ok(r.lines.some((l) => /refused: the MQTT broker is not connected/.test(l)));
  channel.isConnected = true;
  channel.failWith = 'connection reset';
  assert.equal(await r.setValue('/Io/AllowToCharge', 0), false);
  assert.equal(r.value('/Io/AllowToCharge'), 1);
  await r.advanceTo(10_000);
  assert.ok(!r.lines.some((l) => /not confirmed/.test(l)), 'a command that failed is not waited for');
});

test('commands to one path are rate-limited; other paths are not held up', async () => {
  const { r, channel } = await connected();
  assert.equal(await r.setValue('/Io/AllowToCharge', 0), true);
  await r.advanceTo(1000);
  assert.equal(await r.setValue('/Io/AllowToCharge', 1), false, '1 s after the first');
  assert.equal(await r.setValue('/Mode', 3), true, 'another path');
  await r.advanceTo(2000);
  assert.equal(await r.setValue('/Io/AllowToCharge', 1), true, '2 s after the first');
  assert.deepEqual(
    channel.published.map((p) => `${p.topic} ${p.payload}`),
    ['bms/switch/charging/command OFF', 'bms/mode/set 3', 'bms/switch/charging/command ON'],
  );
  assert.equal(channel.published[1]!.qos, 0);
  assert.equal(channel.published[1]!.retain, true);
  assert.ok(r.lines.some((l) => /refused: rate limit/.test(l)));
});

test('a refused command does not use up the rate limit', async () => {
  const { r, channel } = await connected();
  assert.equal(await r.setValue('/Io/ExternalRelay', 1), false);
  await r.send({ topic: 'bms/relayName', payload: 'K1' });
  assert.equal(await r.setValue('/Io/ExternalRelay', 1), true);
  assert.deepEqual(channel.published.at(-1), { topic: 'bms/relay/set', payload: 'K1:1', qos: 1, retain: false, withinMs: 3000 });
});

test('a command-only path shows what was written until the battery goes stale', async () => {
  const { r } = await connected({ timeout: 5 });
  assert.equal(await r.setValue('/Mode', 3), true);
  for (let s = 1; s <= 4; s++) {
    await r.advanceTo(s * 1000);
    await r.send({ topic: 'bms/soc', payload: String(60 + s) });
  }
  assert.equal(r.value('/Mode'), 3);
  assert.ok(!r.lines.some((l) => /not confirmed/.test(l)), 'nothing to confirm it with');
  await r.advanceTo(10_000);
  assert.equal(r.value('/Connected'), 0);
  assert.equal(r.value('/Mode'), null);
  await r.send({ topic: 'bms/soc', payload: '60' }, { topic: 'bms/switch/charging', payload: 'ON' });
  assert.equal(r.value('/Connected'), 1);
  assert.equal(r.value('/Mode'), null, 'the written value went with the stale data');
});

test('stale while waiting for confirmation: the path goes invalid with the rest, no revert warning later', async () => {
  const { r } = await connected({ timeout: 3 });
  await r.setValue('/Io/AllowToCharge', 0);
  await r.advanceTo(3000);
  assert.equal(r.value('/Connected'), 0);
  assert.equal(r.value('/Io/AllowToCharge'), null);
  await r.advanceTo(10_000);
  assert.ok(!r.lines.some((l) => /not confirmed/.test(l)));
});

test('write-back is off unless the mapping declares it', async () => {
  const m = parseMapping(MAPPING);
  assert.equal(m.byPath.get('/Soc')!.writable, false);
  assert.equal(m.byPath.get('/Soc')!.command, undefined);
  assert.equal(m.byPath.get('/Io/AllowToCharge')!.writable, true);
  const plain = parseMapping('paths:\n  /Io/AllowToCharge: {type: i, value: x}\n');
  assert.equal(plain.byPath.get('/Io/AllowToCharge')!.writable, false);
});

test('refusals are log-limited per path and reason: one flood does not hide a different reason', async () => {
  const { r, channel } = await connected();
  for (let i = 0; i < 5; i++) await r.setValue('/Io/AllowToCharge', 2);
  channel.isConnected = false;
  await r.setValue('/Io/AllowToCharge', 0);
  assert.equal(r.lines.filter((l) => /refused: 2 is above the maximum/.test(l)).length, 1, 'the repeated refusal once');
  assert.equal(r.lines.filter((l) => /refused: the MQTT broker is not connected/.test(l)).length, 1, 'the other reason still');
});

test('messages on a command topic (our own commands, through bms/#) are not data and keep nothing fresh', async () => {
  const { r } = await connected({ timeout: 3 });
  for (let s = 1; s <= 4; s++) {
    await r.advanceTo(s * 1000);
    await r.send({ topic: 'bms/switch/charging/command', payload: 'OFF' });
  }
  assert.equal(r.value('/Connected'), 0, 'stale: only commands arrived');
  assert.ok(r.lines.some((l) => /bms\/switch\/charging\/command ignored: a command topic/.test(l)));
});
