/**
 * Sources end to end, through a real mosquitto and dbus-daemon with vbat as its own process:
 * availability (last-will) topics, and Venus OS's MQTT (the keepalive vbat sends dbus-flashmq).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Message, Variant } from 'dbus-next';
import mqtt, { type MqttClient } from 'mqtt';
import { fixture } from '../support/paths.js';
import { BusClient } from '../support/bus-client.js';
import { bounded, sleep } from '../support/wait.js';
import { World } from './harness.js';

const SVC = (name: string) => `com.victronenergy.battery.vbat_${name}`;
const LIMITS = ['/Info/MaxChargeVoltage', '/Info/MaxChargeCurrent', '/Info/MaxDischargeCurrent'];
type Changes = Record<string, { Value: Variant; Text: Variant }>;

/** The ItemsChanged signals a service sent after `since` (index into client.signals). */
function itemsChanged(client: BusClient, sender: string, since: number): Changes[] {
  return client.signals
    .slice(since)
    .filter((m: Message) => m.member === 'ItemsChanged' && m.sender === sender)
    .map((m) => m.body[0] as Changes);
}

/**
 * A stand-in for dbus-flashmq: records every keepalive and answers one with the battery's
 * JsonData, as flashmq publishes its topics only while kept alive.
 */
class FakeFlashmq {
  readonly keepalives: { t: number; topic: string; payload: string }[] = [];
  private constructor(private readonly client: MqttClient) {}

  static async start(url: string, answer: (portal: string, payload: string) => [string, string] | undefined): Promise<FakeFlashmq> {
    const client = mqtt.connect(url, { reconnectPeriod: 200 });
    client.on('error', () => undefined);
    await bounded(new Promise<void>((r) => client.once('connect', () => r())), 'fake flashmq connect');
    await bounded(client.subscribeAsync('R/+/keepalive'), 'subscribe R/+/keepalive');
    const f = new FakeFlashmq(client);
    client.on('message', (topic, payload) => {
      f.keepalives.push({ t: Date.now(), topic, payload: payload.toString() });
      const reply = answer(topic.split('/')[1]!, payload.toString());
      if (reply) void client.publishAsync(reply[0], reply[1]);
    });
    return f;
  }

  stop(): void {
    this.client.end(true);
  }
}

const JSONDATA = (soc: number) =>
  JSON.stringify({ value: JSON.stringify({ Dc: { '0': { Voltage: 53.1, Current: 2 } }, Soc: soc, Info: { MaxChargeCurrent: 90 } }) });

describe('sources end to end', { concurrency: false }, () => {
  const w = new World();
  let signals: BusClient;
  before(async () => {
    await w.start();
    signals = await BusClient.connect(w.bus.address);
    await signals.addMatch("type='signal',member='ItemsChanged'");
  });
  after(async () => {
    signals?.close();
    await w.stop();
  });

  test('ESPHome <node>/status offline: stale within 1 s, /Connected 0 and the limits invalid in one ItemsChanged', async () => {
    const capture = JSON.parse(readFileSync(fixture('foreign', 'esphome-jk-bms', 'mqtt-capture.json'), 'utf8')) as Record<string, string>;
    const d = w.vbat(['--broker', w.broker.url, '--topic', 'jk-e2e/#', '--mapping', 'mappings/esphome-jk-bms.yaml', '--name', 'lwt']);
    await d.waitLog(/subscribed to jk-e2e\/#/);
    for (const [topic, payload] of Object.entries(capture)) await w.publish(topic.replace(/^jk-bms\//, 'jk-e2e/'), payload);
    const before = await w.until(
      SVC('lwt'),
      (i) => i['/Connected']!.value === 1 && typeof i['/Info/MaxChargeCurrent']!.value === 'number',
      'connected from the whole capture, limits on the bus',
    );
    assert.ok(before['/Info/MaxChargeVoltage']!.value !== null);
    const owner = (await w.nameOwner(SVC('lwt')))!;
    const since = signals.signals.length;
    const t0 = Date.now();
    await w.publish('jk-e2e/status', 'offline');
    let stale: Changes | undefined;
    while (!stale && Date.now() - t0 < 3000) {
      stale = itemsChanged(signals, owner, since).find((c) => c['/Connected']?.Value.value === 0);
      if (!stale) await sleep(10);
    }
    const ms = Date.now() - t0;
    assert.ok(stale, `an ItemsChanged with /Connected 0; log:\n${d.log}`);
    assert.ok(ms < 1000, `stale after ${ms} ms, not within 1 s`);
    for (const p of LIMITS) assert.equal(stale[p]?.Value.signature, 'ai', `${p} invalid in the same ItemsChanged`);
    await d.waitLog(/jk-e2e\/status says offline/);
    assert.doesNotMatch(d.log, /bad message on jk-e2e\/status/);
    const items = await w.items(SVC('lwt'));
    assert.equal(items['/Connected']!.value, 0);
    assert.equal(items['/Soc']!.value, null);
    await d.stop();
  });

  test('ESPHome: a reading whose topics arrive in several socket reads is one D-Bus update', async () => {
    const capture = JSON.parse(readFileSync(fixture('foreign', 'esphome-jk-bms', 'mqtt-capture.json'), 'utf8')) as Record<string, string>;
    const d = w.vbat(['--broker', w.broker.url, '--topic', 'jk-burst/#', '--mapping', 'mappings/esphome-jk-bms.yaml', '--name', 'burst']);
    await d.waitLog(/subscribed to jk-burst\/#/);
    const topics = Object.entries(capture).filter(([t]) => t !== 'jk-bms/status');
    for (const [topic, payload] of topics) await w.publish(topic.replace(/^jk-bms\//, 'jk-burst/'), payload);
    await w.until(SVC('burst'), (i) => i['/Connected']!.value === 1, 'connected from the whole capture');
    await sleep(300);
    const owner = (await w.nameOwner(SVC('burst')))!;
    const since = signals.signals.length;
    // The next reading, every number moved, in 6 groups 2 ms apart: 6 socket reads at least.
    const pub = await w.publisher();
    const groups = 6;
    for (let g = 0; g < groups; g++) {
      for (const [topic, payload] of topics.filter((_, k) => k % groups === g)) {
        const moved = /^-?\d+(\.\d+)?$/.test(payload) ? String(Number(payload) + 0.01) : payload;
        pub.publish(topic.replace(/^jk-bms\//, 'jk-burst/'), moved, { qos: 0 });
      }
      await sleep(2);
    }
    const voltage = Number(capture['jk-bms/sensor/total_voltage/state']) + 0.01;
    await w.until(SVC('burst'), (i) => Math.abs((i['/Dc/0/Voltage']!.value as number) - voltage) < 1e-6, 'the new reading on the bus');
    await sleep(300);
    const updates = itemsChanged(signals, owner, since);
    assert.ok(
      updates.length >= 1 && updates.length <= 2,
      `one ItemsChanged for the reading (two if it straddled a gather), got ${updates.length}`,
    );
    assert.ok(Object.keys(updates[0]!).length > 10, 'the first carries the reading, not a few topics of it');
    await d.stop();
  });

  test('Venus OS MQTT, portal id given: a keepalive on R/<portal>/keepalive within 5 s of start and again and again after', async () => {
    const flashmq = await FakeFlashmq.start(w.broker.url, (portal) => [`N/${portal}/battery/512/JsonData`, JSONDATA(70)]);
    try {
      const t0 = Date.now();
      // --timeout 4: keepalives every 2 s (half the timeout) instead of 30 s, so the repeat is seen quickly.
      const d = w.vbat([
        '--broker',
        w.broker.url,
        '--topic',
        'N/c0ffee01/battery/512/JsonData',
        '--mapping',
        'mappings/serialbattery-jsondata.yaml',
        '--name',
        'gx',
        '--timeout',
        '4',
      ]);
      const end = t0 + 5000;
      while (!flashmq.keepalives.length && Date.now() < end) await sleep(20);
      assert.ok(flashmq.keepalives.length, `a keepalive within 5 s; log:\n${d.log}`);
      assert.deepEqual(flashmq.keepalives[0]!.topic, 'R/c0ffee01/keepalive');
      assert.equal(flashmq.keepalives[0]!.payload, '', 'the first asks for a full republish');
      const items = await w.until(SVC('gx'), (i) => i['/Connected']!.value === 1, 'connected from what the keepalive woke');
      assert.equal(items['/Soc']!.value, 70);
      const until = Date.now() + 6000;
      while (flashmq.keepalives.length < 3 && Date.now() < until) await sleep(50);
      assert.ok(flashmq.keepalives.length >= 3, `keepalives keep coming: ${flashmq.keepalives.length}`);
      for (let i = 1; i < flashmq.keepalives.length; i++) {
        const gap = flashmq.keepalives[i]!.t - flashmq.keepalives[i - 1]!.t;
        assert.ok(gap < 60_000 && gap < 4000, `gap ${gap} ms`);
      }
      const since = Math.floor(Date.now() / 1000);
      await w.until(
        SVC('gx'),
        (i) => i['/Connected']!.value === 1 && Number(i['/Vbat/LastMessageTime']!.value) >= since,
        'kept fresh by the answers',
      );
      await d.stop();
    } finally {
      flashmq.stop();
    }
  });

  test('Venus OS MQTT, portal id +: learned from the retained N/<portal>/system/0/Serial, keepalive within 5 s', async () => {
    await w.publish('N/beef0042/system/0/Serial', { value: 'beef0042' }, { retain: true });
    const flashmq = await FakeFlashmq.start(w.broker.url, (portal) => [`N/${portal}/battery/512/JsonData`, JSONDATA(71)]);
    try {
      const t0 = Date.now();
      const d = w.vbat([
        '--broker',
        w.broker.url,
        '--topic',
        'N/+/battery/512/JsonData',
        '--mapping',
        'mappings/serialbattery-jsondata.yaml',
        '--name',
        'gxplus',
      ]);
      while (!flashmq.keepalives.length && Date.now() - t0 < 5000) await sleep(20);
      assert.ok(flashmq.keepalives.length, `a keepalive within 5 s; log:\n${d.log}`);
      assert.equal(flashmq.keepalives[0]!.topic, 'R/beef0042/keepalive');
      await d.waitLog(/portal id beef0042/);
      const items = await w.until(SVC('gxplus'), (i) => i['/Connected']!.value === 1, 'connected');
      assert.equal(items['/Soc']!.value, 71);
      // The service vanishes on the GX: flashmq sends an empty payload; stale at once.
      await w.publish('N/beef0042/battery/512/JsonData', '');
      await w.until(
        SVC('gxplus'),
        (i) => i['/Connected']!.value === 0 && i['/Info/MaxChargeCurrent']!.value === null,
        'stale at once',
        2000,
      );
      assert.doesNotMatch(d.log, /bad message/);
      await d.stop();
    } finally {
      flashmq.stop();
      await w.publish('N/beef0042/system/0/Serial', '', { retain: true });
    }
  });

  test('two sources writing the same document key: reported once in the log, the service keeps running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vbat-collide-'));
    try {
      const config = join(dir, 'config.yaml');
      writeFileSync(config, `mqtt: {url: "${w.broker.url}"}\nbatteries:\n  - name: collide\n    topics: [collide/1, collide/2]\n`);
      const d = w.vbat(['--config', config]);
      await d.waitLog(/subscribed to/);
      for (let i = 0; i < 3; i++) {
        await w.publish('collide/1', { Dc: { Power: 100, Voltage: 50 }, Soc: 60 });
        await w.publish('collide/2', { Dc: { Power: 200, Voltage: 51 }, Soc: 70 + i });
      }
      await w.until(SVC('collide'), (i) => i['/Soc']!.value === 72, 'the last message mapped');
      await d.waitLog(/key collision: collide\/1 and collide\/2 both write the document key Soc/);
      assert.equal(d.count(/key collision.*key Soc;/), 1, d.log);
      await d.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
