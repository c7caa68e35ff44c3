/**
 * Write-back end to end: gdbus / dbus-send call SetValue on vbat running the shipped ESPHome
 * JK-BMS mapping, and an MQTT subscriber on the real broker sees what reaches the BMS's command
 * topics (or that nothing does). The policy itself is covered with fake time in
 * test/battery/writeback.test.ts; this proves the wiring through the real bus and broker.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { fixture } from '../support/paths.js';
import { dbusSend, gdbusCall } from '../support/dbus-tools.js';
import type { Proc } from '../support/process.js';
import { bounded, sleep } from '../support/wait.js';
import { World } from './harness.js';

const SVC = 'com.victronenergy.battery.vbat_jkw';
const COMMANDS = 'jk-bms/switch/+/command';

/** An MQTT client subscribed to the command topics, recording every message it sees. */
async function commandSubscriber(url: string): Promise<{ client: MqttClient; seen: string[] }> {
  const client = mqtt.connect(url, { reconnectPeriod: 200 });
  client.on('error', () => undefined);
  const seen: string[] = [];
  client.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
  await bounded(new Promise<void>((r) => client.once('connect', () => r())), 'subscriber connect');
  await bounded(client.subscribeAsync(COMMANDS, { qos: 1 }), 'subscribe');
  return { client, seen };
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('write-back end to end (ESPHome JK-BMS mapping)', { concurrency: false }, () => {
  const w = new World();
  let d: Proc;
  let sub: { client: MqttClient; seen: string[] };
  const capture = JSON.parse(readFileSync(fixture('foreign', 'esphome-jk-bms', 'mqtt-capture.json'), 'utf8')) as Record<string, string>;
  const gdbusSet = async (path: string, variant: string) => gdbusCall(w.bus.address, SVC, path, 'SetValue', variant);
  const dbusSendSet = async (path: string, arg: string) => {
    const r = await dbusSend(w.bus.address, SVC, path, 'SetValue', arg);
    assert.equal(r.code, 0, r.stderr);
    return Number(/int32 (-?\d+)/.exec(r.stdout)![1]);
  };
  const feed = async () => {
    for (const [topic, payload] of Object.entries(capture)) await w.publish(topic, payload);
  };
  /** Nothing new on the command topics for a while (a round trip through the broker and then some). */
  const nothingPublished = async (before: number) => {
    await w.publish('jk-bms/probe', 'x'); // a message after any command vbat might have sent
    await sleep(150);
    assert.deepEqual(sub.seen.slice(before), []);
  };

  before(async () => {
    await w.start();
    sub = await commandSubscriber(w.broker.url);
    d = w.vbat([
      '--broker',
      w.broker.url,
      '--mapping',
      'mappings/esphome-jk-bms.yaml',
      '--name',
      'jkw',
      '--instance',
      '80',
      '--var',
      'switchConfirm=1',
      '--var',
      'switchInterval=0.2',
    ]);
    await d.waitLog(/subscribed to jk-bms\/#/);
    assert.match(d.log, /write-back: a SetValue on \/Io\/AllowToCharge publishes a command on jk-bms\/switch\/charging\/command/);
    await feed();
    await w.until(SVC, (i) => i['/Connected']!.value === 1 && i['/Io/AllowToCharge']!.value === 1, 'connected, charging on');
  });

  after(async () => {
    sub?.client.end(true);
    await w.stop();
  });

  test('valid value: /Io/AllowToCharge = 0 publishes OFF on jk-bms/switch/charging/command, the echo confirms it', async () => {
    const n = sub.seen.length;
    assert.equal(await gdbusSet('/Io/AllowToCharge', '<0>'), '(0,)');
    await until(() => sub.seen.length > n, 'the command');
    assert.deepEqual(sub.seen.slice(n), ['jk-bms/switch/charging/command OFF']);
    const shown = await w.item(SVC, '/Io/AllowToCharge');
    assert.equal(shown.value, 0, 'the written value is shown');
    assert.match(d.log, /command: \/Io\/AllowToCharge = 0 from D-Bus :\d+\.\d+ → jk-bms\/switch\/charging\/command "OFF"/);
    assert.equal(d.count(/command: \/Io\/AllowToCharge = 0/), 1, 'logged once');
    // The BMS switches and reports it, as ESPHome does on .../state.
    await w.publish('jk-bms/switch/charging/state', 'OFF');
    await d.waitLog(/command confirmed: the BMS reports \/Io\/AllowToCharge = 0/);
    const items = await w.until(SVC, (i) => i['/Info/MaxChargeCurrent']!.value === 0, 'CCL 0 once the BMS reports charging off');
    assert.equal(items['/Io/AllowToCharge']!.value, 0);
    assert.equal(items['/Settings/ForceChargingOff']!.value, 1, "serialbattery's path follows the same state");
    await sleep(1300);
    assert.equal((await w.item(SVC, '/Io/AllowToCharge')).value, 0, 'confirmed: not set back');
    // And on again, through serialbattery's path this time (1 = forced off, so 0 = on).
    const m = sub.seen.length;
    assert.equal(await dbusSendSet('/Settings/ForceChargingOff', 'variant:int32:0'), 0);
    await until(() => sub.seen.length > m, 'the command');
    assert.deepEqual(sub.seen.slice(m), ['jk-bms/switch/charging/command ON']);
    await w.publish('jk-bms/switch/charging/state', 'ON');
    await w.until(SVC, (i) => i['/Io/AllowToCharge']!.value === 1 && i['/Info/MaxChargeCurrent']!.value === 100, 'charging on again');
  });

  test('invalid type, out of range, read-only path: the BusItem error code, nothing published', async () => {
    const n = sub.seen.length;
    assert.equal(await dbusSendSet('/Io/AllowToCharge', 'variant:string:OFF'), 1, 'a string on an integer path');
    assert.equal(await dbusSendSet('/Io/AllowToCharge', 'variant:double:0.5'), 1, 'not an integer');
    assert.equal(await dbusSendSet('/Io/AllowToCharge', 'variant:int32:2'), 2, 'above max 1');
    assert.equal(await dbusSendSet('/Io/AllowToDischarge', 'variant:int32:-1'), 2, 'below min 0');
    assert.equal(await dbusSendSet('/Soc', 'variant:double:10'), 1, 'read-only');
    assert.equal(await dbusSendSet('/Info/MaxChargeCurrent', 'variant:double:0'), 1, 'read-only limit');
    await nothingPublished(n);
    assert.equal((await w.item(SVC, '/Io/AllowToCharge')).value, 1);
    assert.equal((await w.item(SVC, '/Soc')).value, Number(capture['jk-bms/sensor/state_of_charge/state']));
    assert.match(d.log, /SetValue \/Io\/AllowToCharge = 2 from :\d+\.\d+ refused: 2 is above the maximum 1/);
  });

  test('no confirmation: the path returns to the state the BMS reported, with a warning', async () => {
    const n = sub.seen.length;
    assert.equal(await gdbusSet('/Io/AllowToDischarge', '<0>'), '(0,)');
    await until(() => sub.seen.length > n, 'the command');
    assert.deepEqual(sub.seen.slice(n), ['jk-bms/switch/discharging/command OFF']);
    assert.equal((await w.item(SVC, '/Io/AllowToDischarge')).value, 0);
    await d.waitLog(/command not confirmed: the BMS did not report \/Io\/AllowToDischarge = 0 within 1 s/, 4000);
    const items = await w.until(SVC, (i) => i['/Io/AllowToDischarge']!.value === 1, 'set back to the reported ON');
    assert.equal(items['/Info/MaxDischargeCurrent']!.value, 150, 'DCL never followed the unconfirmed write');
  });

  test('broker down: SetValue fails, and nothing is delivered when the broker is back', async () => {
    await w.broker.kill();
    await d.waitLog(/MQTT connection to .* lost/);
    assert.equal(await gdbusSet('/Io/AllowToCharge', '<0>'), '(2,)');
    assert.match(d.log, /SetValue \/Io\/AllowToCharge = 0 from :\d+\.\d+ refused: the MQTT broker is not connected/);
    await w.broker.restart();
    await d.waitLog(/MQTT connected[\s\S]*MQTT connected/);
    await until(() => sub.client.connected, 'subscriber back');
    await bounded(sub.client.subscribeAsync(COMMANDS, { qos: 1 }), 'subscribe again');
    const n = sub.seen.length;
    await nothingPublished(n);
    assert.equal((await w.item(SVC, '/Io/AllowToCharge')).value, 1);
  });

  test('a command the broker does not confirm in time is refused and withdrawn: not resent after a reconnect', async () => {
    await feed();
    await w.until(SVC, (i) => i['/Connected']!.value === 1 && i['/Io/AllowToCharge']!.value === 1, 'connected, charging on');
    await sleep(300); // past switchInterval
    w.broker.pause();
    const t = Date.now();
    assert.equal(await gdbusSet('/Io/AllowToCharge', '<0>'), '(2,)', 'refused when the broker does not confirm');
    assert.ok(Date.now() - t >= 2500, 'after the publish timeout');
    await d.waitLog(/command \/Io\/AllowToCharge = 0 to jk-bms\/switch\/charging\/command failed: the broker did not/);
    // The broker dies with the command unconfirmed; mqtt.js would resend it to the next one.
    await w.broker.kill();
    await w.broker.restart();
    await until(() => sub.client.connected, 'subscriber back', 8000);
    await bounded(sub.client.subscribeAsync(COMMANDS, { qos: 1 }), 'subscribe again');
    const n = sub.seen.length;
    await d.waitLog(/(MQTT connected[\s\S]*){3}/, 8000); // the first, after the broker-down test, now
    await sleep(500);
    await nothingPublished(n);
  });

  test('stale battery: SetValue fails, nothing published', async () => {
    await d.stop();
    const stale = w.vbat([
      '--broker',
      w.broker.url,
      '--mapping',
      'mappings/esphome-jk-bms.yaml',
      '--name',
      'jks',
      '--instance',
      '81',
      '--timeout',
      '1',
    ]);
    await stale.waitLog(/subscribed to jk-bms\/#/);
    const svc = 'com.victronenergy.battery.vbat_jks';
    assert.equal(await gdbusCall(w.bus.address, svc, '/Io/AllowToCharge', 'SetValue', '<0>'), '(2,)', 'no data yet');
    await feed();
    await w.until(svc, (i) => i['/Connected']!.value === 1, 'connected');
    await w.until(svc, (i) => i['/Connected']!.value === 0, 'stale after 1 s without data');
    const n = sub.seen.length;
    assert.equal(await gdbusCall(w.bus.address, svc, '/Io/AllowToCharge', 'SetValue', '<0>'), '(2,)');
    await nothingPublished(n);
    assert.match(stale.log, /refused: the battery is stale/);
    await stale.stop();
  });
});
