/**
 * The stale-data safety policy, with fake time and fake parts: in milliseconds, no bus, no broker.
 * Each case is one way a wrong or stale value could reach DVCC.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rig } from './fakes.js';

const FULL = {
  Dc: { Power: 321.6, Voltage: 52.7, Current: 6.1 },
  Soc: 63,
  Info: { MaxChargeVoltage: 55.2, MaxChargeCurrent: 80, MaxDischargeCurrent: 100 },
};
const MIN = { Dc: { Power: 100, Voltage: 50 }, Soc: 60 };
const LIMITS = ['/Info/MaxChargeVoltage', '/Info/MaxChargeCurrent', '/Info/MaxDischargeCurrent'];

test('data arrives: connected, values and limits on the bus', async () => {
  const r = await rig();
  assert.equal(r.value('/Connected'), 0, 'exported disconnected');
  assert.equal(r.value('/Info/MaxChargeCurrent'), null);
  await r.send({ payload: FULL });
  assert.equal(r.value('/Connected'), 1);
  assert.equal(r.value('/Info/MaxChargeCurrent'), 80);
  assert.equal(r.value('/Dc/0/Current'), 6.1);
});

test('`{}` every second does not keep a battery alive: every value expires with its message', async () => {
  const r = await rig({ timeout: 5 });
  await r.send({ payload: FULL });
  for (let s = 1; s <= 4; s++) {
    await r.advanceTo(s * 1000);
    await r.send({ payload: {} });
  }
  assert.equal(r.value('/Connected'), 1, 'still within the timeout');
  await r.advanceTo(5000);
  assert.equal(r.value('/Connected'), 0);
  for (const p of LIMITS) assert.equal(r.value(p), null, `${p} invalid`);
  assert.ok(
    r.lines.some((l) => /carries no values/.test(l)),
    'the empty messages were reported',
  );
});

test("a source whose messages are all rejected goes stale after its own timeout, not the battery's", async () => {
  const r = await rig({ timeout: 60, sources: [{ topic: 'bms', timeout: 5, required: true }] });
  await r.send({ payload: FULL });
  for (let s = 1; s <= 5; s++) {
    await r.advanceTo(s * 1000);
    await r.send({ payload: '{"Dc": ' });
  }
  assert.equal(r.value('/Connected'), 0);
  assert.equal(r.value('/Info/MaxChargeCurrent'), null);
});

test('a value held by merge is only as fresh as the message that brought it', async () => {
  const r = await rig({ timeout: 5 });
  await r.send({ payload: FULL });
  for (let s = 1; s <= 6; s++) {
    await r.advanceTo(s * 1000);
    await r.send({ payload: MIN });
  }
  assert.equal(r.value('/Connected'), 1, 'the minimal payload keeps the battery itself alive');
  for (const p of LIMITS) assert.equal(r.value(p), null, `${p}: the limits came only with the first message, 6 s ago`);
  assert.equal(r.value('/Dc/0/Power'), 100);
});

test('a dropped message leaves nothing behind', async () => {
  const r = await rig();
  await r.send({ payload: { Dc: { Power: 1, Voltage: 70 }, Info: { MaxChargeCurrent: 500, MaxChargeVoltage: 70 } } }); // no Soc: dropped
  assert.ok(r.lines.some((l) => /message dropped: required input missing/.test(l)));
  await r.send({ payload: MIN });
  assert.equal(r.value('/Connected'), 1);
  assert.equal(r.value('/Info/MaxChargeCurrent'), null, 'not the dropped 500 A');
  assert.equal(r.value('/Info/MaxChargeVoltage'), null, 'not the dropped 70 V');
  assert.equal(r.value('/Dc/0/Voltage'), 50);
});

test('after going stale the battery is rebuilt only from data that arrived afterwards', async () => {
  const r = await rig({ timeout: 5 });
  await r.send({ payload: FULL });
  for (let s = 1; s <= 5; s++) {
    await r.advanceTo(s * 1000);
    await r.send({ payload: { Dc: { Power: 5 } } }); // fails the mapping (no Voltage, no Soc in this message after expiry)
  }
  assert.equal(r.value('/Connected'), 0);
  await r.advanceTo(6000);
  await r.send({ payload: { Dc: { Voltage: 51 }, Soc: 40 } });
  assert.equal(r.value('/Connected'), 0, 'Power from before the silence does not complete the document');
  await r.send({ payload: MIN });
  assert.equal(r.value('/Connected'), 1);
  assert.equal(r.value('/Info/MaxChargeCurrent'), null, 'the 80 A limit from before the silence is gone');
});

test("several sources: a stale source's share of the limits is invalid, never a plausible number", async () => {
  const mapping = `
input: {format: json}
required: [/Soc]
paths:
  /Soc: {type: d, value: p1.Soc}
  /Info/MaxChargeCurrent: {type: d, value: "$sum([p1.Limit, p2.Limit])"}
  /Info/MaxDischargeCurrent: {type: d, value: "$min([p1.Discharge, p2.Discharge])"}
`;
  const r = await rig({
    mapping,
    sources: [
      { topic: 'pack/1', timeout: 10, required: true },
      { topic: 'pack/2', timeout: 5, required: false },
    ],
  });
  await r.send(
    { topic: 'pack/1', payload: { p1: { Soc: 50, Limit: 40, Discharge: 50 } } },
    { topic: 'pack/2', payload: { p2: { Limit: 40, Discharge: 60 } } },
  );
  assert.equal(r.value('/Info/MaxChargeCurrent'), 80);
  await r.advanceTo(3000);
  await r.send({ topic: 'pack/1', payload: { p1: { Soc: 51, Limit: 40, Discharge: 50 } } });
  await r.advanceTo(5000);
  assert.equal(r.value('/Connected'), 1, 'the optional pack does not hold the battery');
  assert.equal(r.value('/Soc'), 51);
  assert.equal(r.value('/Info/MaxChargeCurrent'), null, 'not 40 A (pack 1 alone) while pack 2 is unknown');
  assert.equal(r.value('/Info/MaxDischargeCurrent'), null);
  assert.ok(r.lines.some((l) => /no valid message on pack\/2 for 5 s \(optional source/.test(l)));
  await r.advanceTo(13_000);
  assert.equal(r.value('/Connected'), 0, 'the required pack silent: stale');
});

test('one bad message never drops the other messages of its batch', async () => {
  const mapping = `
required: [/Soc]
paths:
  /Soc: {type: d, value: Soc}
  /Dc/0/Voltage: {type: d, value: V}
`;
  const r = await rig({
    mapping,
    sources: [
      { topic: 'a', timeout: 60, required: true },
      { topic: 'b', timeout: 60, required: false },
    ],
  });
  await r.send({ topic: 'a', payload: { Soc: 50, V: 52 } }, { topic: 'b', payload: { Soc: 'full' } });
  assert.equal(r.value('/Connected'), 1);
  assert.equal(r.value('/Soc'), 50, 'a was published on its own');
  assert.ok(
    r.lines.some((l) => /message dropped/.test(l)),
    'b was dropped on its own',
  );
});

test('a retained message is not live data, and its values are never used', async () => {
  const r = await rig();
  await r.send({ payload: FULL, retained: true });
  assert.equal(r.value('/Connected'), 0);
  await r.send({ payload: MIN });
  assert.equal(r.value('/Connected'), 1);
  assert.equal(r.value('/Info/MaxChargeCurrent'), null);
  const trusting = await rig({ retainedIsFresh: true });
  await trusting.send({ payload: FULL, retained: true });
  assert.equal(trusting.value('/Info/MaxChargeCurrent'), 80, 'retainedIsFresh: true takes it as live');
});

test('no accepted message for the battery timeout: stale, even if a source keeps sending', async () => {
  const r = await rig({ timeout: 3 });
  await r.send({ payload: FULL });
  await r.advanceTo(2000);
  await r.send({ payload: { Dc: { Power: 1 } } });
  await r.advanceTo(3000);
  assert.equal(r.value('/Connected'), 0);
  const last = r.sink.signals.at(-1)!;
  for (const p of LIMITS) {
    assert.equal(r.value(p), null);
    assert.ok(last.includes(p), `${p} invalid in the same ItemsChanged as /Connected 0`);
  }
  assert.ok(last.includes('/Connected'));
});

test('idle: no D-Bus signal for a stale battery or unchanged data; diagnostics with data changes and after a refusal', async () => {
  const r = await rig({ timeout: 600 });
  await r.advanceTo(120_000);
  assert.equal(r.sink.signals.length, 0, 'a battery that never had data says nothing');
  await r.send({ payload: FULL });
  assert.equal(r.sink.signals.length, 1, 'connecting is one ItemsChanged');
  assert.ok(r.sink.signals[0]!.includes('/Connected') && r.sink.signals[0]!.includes('/Soc'));
  // The same payload every second for a minute and a half.
  for (let t = 121_000; t <= 210_000; t += 1000) {
    await r.advanceTo(t);
    await r.send({ payload: FULL });
  }
  await r.advanceTo(211_000);
  assert.equal(r.sink.signals.length, 1, 'unchanged data for 90 s: no signal, not even for the counters');
  assert.equal(r.value('/Vbat/MessagesAccepted'), 91, 'what a client reads is up to date within a tick');
  assert.equal(r.value('/Vbat/LastMessageTime'), 210);
  // A refused message is shown on the next tick.
  const before = r.sink.signals.length;
  await r.send({ payload: 'not json' });
  await r.advanceTo(212_000);
  assert.equal(r.sink.signals.length, before + 1);
  assert.ok(r.sink.signals.at(-1)!.includes('/Vbat/MessagesRejected'));
  // A change of data goes out at once, with the diagnostics held since.
  await r.advanceTo(230_000);
  for (let t = 230_000; t <= 240_000; t += 1000) {
    await r.advanceTo(t);
    await r.send({ payload: FULL });
  }
  await r.advanceTo(241_000);
  await r.send({ payload: { ...FULL, Soc: 70 } });
  assert.ok(r.sink.signals.at(-1)!.includes('/Soc'));
  assert.ok(r.sink.signals.at(-1)!.includes('/Vbat/MessagesAccepted'), 'the counters held since go with it');
  assert.ok(r.sink.signals.at(-1)!.includes('/Vbat/LastMessageTime'));
});

test('derived fields follow the seed: recomputed whenever the newest message lacks them', async () => {
  const r = await rig();
  await r.send({ payload: FULL });
  assert.equal(r.value('/Dc/0/Current'), 6.1);
  await r.send({ payload: { Dc: { Power: 520, Voltage: 52 }, Soc: 64 } });
  assert.equal(r.value('/Dc/0/Current'), 10, 'P / V of this message, not the held 6.1 A');
  assert.equal(r.value('/Info/MaxChargeCurrent'), 80, 'plain fields it left out are held (until they expire)');
});

test('limits and SoC out of their sane range are invalid with a warning', async () => {
  const cases: [unknown, string][] = [
    [1e308, 'above the maximum'],
    [-50, 'below the minimum'],
    ['1e3', 'expected a number'],
    [true, 'expected a number'],
  ];
  for (const [v, why] of cases) {
    const r = await rig(); // warnings are rate-limited per path: a fresh log per case
    await r.send({ payload: { ...MIN, Info: { MaxChargeCurrent: v, MaxChargeVoltage: 55 } } });
    assert.equal(r.value('/Info/MaxChargeCurrent'), null, `${JSON.stringify(v)} must be invalid`);
    assert.equal(r.value('/Info/MaxChargeVoltage'), 55);
    assert.ok(
      r.lines.some((l) => l.includes('/Info/MaxChargeCurrent invalid') && l.includes(why)),
      `warned: ${why}`,
    );
  }
  const r = await rig();
  await r.send({ payload: MIN });
  await r.send({ payload: { ...MIN, Soc: 150 } });
  assert.equal(r.value('/Soc'), 60, 'a SoC of 150 % is refused (SoC is required: the message is dropped)');
});

test('the bus going away: the battery starts stale and forgets its data', async () => {
  const r = await rig();
  await r.send({ payload: FULL });
  r.sink.events!.onLost();
  await r.battery.settled();
  assert.equal(r.battery.connected, false);
  await r.sink.open();
  assert.equal(r.value('/Connected'), 0, 'exported again disconnected');
  await r.send({ payload: MIN });
  assert.equal(r.value('/Connected'), 1);
  assert.equal(r.value('/Info/MaxChargeCurrent'), null, 'nothing from before the loss');
});

test('one value per topic: the document fills message by message; a wrong value is dropped', async () => {
  const mapping = `
input: {format: tree}
required: [/Dc/0/Voltage, /Soc]
paths:
  /Dc/0/Voltage: {type: d, value: voltage}
  /Soc: {type: d, value: soc, min: 0, max: 100}
  /Info/MaxChargeCurrent: {type: d, value: ccl}
`;
  const r = await rig({ mapping, topic: 'jk/#' });
  await r.send({ topic: 'jk/ccl', payload: '50' });
  await r.send({ topic: 'jk/voltage', payload: '52.1' });
  assert.equal(r.value('/Connected'), 0, 'still gathering');
  await r.send({ topic: 'jk/soc', payload: '70' });
  assert.equal(r.value('/Connected'), 1);
  assert.equal(r.value('/Info/MaxChargeCurrent'), 50);
  await r.send({ topic: 'jk/soc', payload: '170' });
  assert.equal(r.value('/Soc'), 70, 'an out-of-range SoC is dropped, the last good one stays');
  const fresh = await rig({ mapping, topic: 'jk/#' });
  await fresh.send({ topic: 'jk/soc', payload: '170' });
  await fresh.send({ topic: 'jk/voltage', payload: '52.1' });
  assert.equal(fresh.value('/Connected'), 0, 'a wrong value is never gathered');
});

test('values that expire while a message is being rejected still leave the bus at the next tick', async () => {
  const r = await rig({ timeout: 5 });
  await r.send({ payload: FULL }); // limits expire at 5 s
  await r.advanceTo(3000);
  await r.send({ payload: MIN }); // keeps Dc and Soc fresh until 8 s
  r.t = 5500;
  await r.send({ payload: { ...MIN, Soc: 150 } }); // expiry runs, then this message is dropped
  assert.ok(r.lines.some((l) => /message dropped/.test(l)));
  await r.advanceTo(6500); // one tick
  assert.equal(r.value('/Connected'), 1);
  for (const p of LIMITS) assert.equal(r.value(p), null, `${p}: its message is older than the timeout`);
});
