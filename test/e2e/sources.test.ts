/**
 * Sources end to end, through a real mosquitto and dbus-daemon with vbat as its own process:
 * availability (last-will) topics, and Venus OS's MQTT (the keepalive vbat sends dbus-flashmq).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Message, Variant } from 'dbus-next';
import { fixture } from '../support/paths.js';
import { Client, sleep } from '../dbus/helpers.js';
import { World } from './harness.js';

const SVC = (name: string) => `com.victronenergy.battery.vbat_${name}`;
const LIMITS = ['/Info/MaxChargeVoltage', '/Info/MaxChargeCurrent', '/Info/MaxDischargeCurrent'];
type Changes = Record<string, { Value: Variant; Text: Variant }>;

/** The ItemsChanged signals a service sent after `since` (index into client.signals). */
function itemsChanged(client: Client, sender: string, since: number): Changes[] {
  return client.signals
    .slice(since)
    .filter((m: Message) => m.member === 'ItemsChanged' && m.sender === sender)
    .map((m) => m.body[0] as Changes);
}

describe('sources end to end', { concurrency: false }, () => {
  const w = new World();
  let signals: Client;
  before(async () => {
    await w.start();
    signals = await Client.connect(w.bus.address);
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
    const before = await w.until(SVC('lwt'), (i) => i['/Connected']!.value === 1, 'connected from the capture');
    assert.equal(typeof before['/Info/MaxChargeCurrent']!.value, 'number');
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
});
