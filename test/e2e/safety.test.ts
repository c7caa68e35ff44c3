/**
 * The stale-data and hostile-input rules end to end: a real mosquitto, a real dbus-daemon, vbat
 * as its own process, a D-Bus reader that is not vbat's code. The same cases run in milliseconds
 * with fake time in test/battery/policy.test.ts; here they prove the wiring.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDbusDaemon } from '../support/dbus-daemon.js';
import { fixture } from '../support/paths.js';
import { BusClient } from '../support/bus-client.js';
import { sleep } from '../support/wait.js';
import { World } from './harness.js';

const SVC = (name: string) => `com.victronenergy.battery.vbat_${name}`;
const FULL = {
  Dc: { Power: 321.6, Voltage: 52.7, Current: 6.1 },
  Soc: 63,
  Info: { MaxChargeVoltage: 55.2, MaxChargeCurrent: 80, MaxDischargeCurrent: 100 },
};
const MIN = { Dc: { Power: 100, Voltage: 50 }, Soc: 60 };
const LIMITS = ['/Info/MaxChargeVoltage', '/Info/MaxChargeCurrent', '/Info/MaxDischargeCurrent'];

describe('safety end to end', { concurrency: false }, () => {
  const w = new World();
  before(() => w.start());
  after(() => w.stop());

  test('prototype pollution through a JSON key: refused, nothing injected, messages keep flowing', async () => {
    const d = w.vbat(['--broker', w.broker.url, '--topic', 'safe/proto', '--name', 'proto', '--instance', '60']);
    await d.waitLog(/subscribed to/);
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      await w.publish('safe/proto', `{"Dc": {"Power": 1, "Voltage": 50}, "Soc": 50, "${key}": {"Info": {"MaxChargeCurrent": 300}}}`);
      await w.publish('safe/proto', `{"Dc": {"Power": 1, "Voltage": 50, "x": {"${key}": {"MaxChargeCurrent": 300}}}, "Soc": 50}`);
    }
    await d.waitLog(/key "__proto__" is not allowed/);
    for (let soc = 40; soc <= 42; soc++) {
      await w.publish('safe/proto', { ...MIN, Soc: soc });
      const items = await w.until(SVC('proto'), (i) => i['/Soc']!.value === soc, `SoC ${soc}`);
      assert.equal(items['/Info/MaxChargeCurrent']!.value, null, 'no 300 A from a polluted prototype');
      assert.equal(items['/Connected']!.value, 1);
    }
    assert.doesNotMatch(d.log, /RangeError|internal error/);
    await d.stop();
  });

  test('prototype pollution through a topic level (one value per topic): refused', async () => {
    const capture = JSON.parse(readFileSync(fixture('foreign', 'esphome-jk-bms', 'mqtt-capture.json'), 'utf8')) as Record<string, string>;
    const d = w.vbat([
      '--broker',
      w.broker.url,
      '--topic',
      'jk-bms/#',
      '--mapping',
      'mappings/esphome-jk-bms.yaml',
      '--name',
      'jk',
      '--instance',
      '61',
    ]);
    await d.waitLog(/subscribed to/);
    for (const level of ['__proto__', 'constructor', 'prototype']) await w.publish(`jk-bms/${level}/power/state`, '999');
    for (const [topic, payload] of Object.entries(capture)) await w.publish(topic, payload);
    const items = await w.until(SVC('jk'), (i) => i['/Connected']!.value === 1, 'connected from the capture');
    assert.equal(items['/Dc/0/Power']!.value, Number(capture['jk-bms/sensor/power/state']), 'Power is the BMS value, not 999');
    await d.waitLog(/level "__proto__" is not allowed/);
    await d.stop();
  });

  test('`{}` every second does not keep a battery alive', async () => {
    const d = w.vbat(['--broker', w.broker.url, '--topic', 'safe/empty', '--name', 'empty', '--instance', '62', '--timeout', '2']);
    await d.waitLog(/subscribed to/);
    await w.publish('safe/empty', FULL);
    await w.until(SVC('empty'), (i) => i['/Connected']!.value === 1, 'connected');
    const t0 = Date.now();
    let stale: Awaited<ReturnType<World['items']>> | undefined;
    while (Date.now() - t0 < 6000 && !stale) {
      await w.publish('safe/empty', '{}');
      const items = await w.items(SVC('empty'));
      if (items['/Connected']!.value === 0) stale = items;
      else await sleep(250);
    }
    assert.ok(stale, 'went stale while {} kept arriving');
    assert.ok(Date.now() - t0 < 4500, 'within the timeout plus a tick');
    for (const p of LIMITS) assert.equal(stale[p]!.value, null, p);
    await d.stop();
  });

  test('a dropped message leaves nothing; after staleness only new data counts; out-of-range limits are invalid', async () => {
    const d = w.vbat(['--broker', w.broker.url, '--topic', 'safe/drop', '--name', 'drop', '--instance', '63', '--timeout', '2']);
    await d.waitLog(/subscribed to/);
    await w.publish('safe/drop', { Dc: { Power: 1, Voltage: 70 }, Info: { MaxChargeCurrent: 500, MaxChargeVoltage: 70 } });
    await d.waitLog(/message dropped/);
    await w.publish('safe/drop', MIN);
    let items = await w.until(SVC('drop'), (i) => i['/Connected']!.value === 1, 'connected');
    assert.equal(items['/Info/MaxChargeCurrent']!.value, null, 'not the dropped 500 A');
    assert.equal(items['/Info/MaxChargeVoltage']!.value, null, 'not the dropped 70 V');

    await w.publish('safe/drop', FULL);
    await w.until(SVC('drop'), (i) => i['/Info/MaxChargeCurrent']!.value === 80, '80 A');
    await w.until(SVC('drop'), (i) => i['/Connected']!.value === 0, 'stale after 2 s of silence', 5000);
    await w.publish('safe/drop', { Dc: { Voltage: 51 }, Soc: 40 });
    await sleep(300);
    assert.equal((await w.item(SVC('drop'), '/Connected')).value, 0, 'Power from before the silence does not complete the document');
    await w.publish('safe/drop', MIN);
    items = await w.until(SVC('drop'), (i) => i['/Connected']!.value === 1, 'live again');
    assert.equal(items['/Info/MaxChargeCurrent']!.value, null, 'the 80 A from before the silence is gone');
    assert.equal(items['/Dc/0/Power']!.value, 100);

    await w.publish('safe/drop', { ...MIN, Info: { MaxChargeCurrent: 1e308, MaxDischargeCurrent: -50, MaxChargeVoltage: '1e3' } });
    items = await w.until(SVC('drop'), (i) => i['/Connected']!.value === 1 && i['/Dc/0/Power']!.value === 100, 'mapped');
    await d.waitLog(/\/Info\/MaxChargeCurrent invalid: out of range/);
    for (const p of LIMITS) assert.equal(items[p]!.value, null, `${p} out of range or not a number: invalid`);
    assert.equal(items['/Info/MaxChargeCurrent']!.type, 'ai');
    await d.stop();
  });

  test('deeply nested JSON within the size limit: a clear warning, no stack trace', async () => {
    const d = w.vbat(['--broker', w.broker.url, '--topic', 'safe/deep', '--name', 'deep', '--instance', '64']);
    await d.waitLog(/subscribed to/);
    await w.publish('safe/deep', '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000));
    await w.publish('safe/deep', '['.repeat(100_000) + ']'.repeat(100_000));
    await d.waitLog(/nested deeper than 32 levels/);
    await w.publish('safe/deep', MIN);
    await w.until(SVC('deep'), (i) => i['/Connected']!.value === 1, 'still serving');
    assert.doesNotMatch(d.log, /\n\s+at /, 'no stack trace in the log');
    await d.stop();
  });

  test('a 50 MB publish is skipped as it arrives, never held in memory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vbat-big-'));
    const cfg = join(dir, 'config.json');
    // QoS 1: vbat acknowledges the skipped packet itself, or the broker would hold it in flight.
    writeFileSync(
      cfg,
      JSON.stringify({ mqtt: { url: w.broker.url, qos: 1 }, batteries: [{ name: 'big', topic: 'safe/big', instance: 66 }] }),
    );
    const d = w.vbat(['--config', cfg]);
    await d.waitLog(/subscribed to/);
    const peakKb = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${d.child.pid}/status`, 'utf8'))![1]);
    await w.publish('safe/big', FULL);
    await w.until(SVC('big'), (i) => i['/Info/MaxChargeCurrent']!.value === 80, 'first payload');
    const before = peakKb();
    const huge = Buffer.alloc(50 * 1024 * 1024, 0x20);
    for (let round = 0; round < 2; round++) {
      await w.publish('safe/big', huge);
      await w.publish('safe/big', { ...FULL, Soc: 40 + round });
      await w.until(SVC('big'), (i) => i['/Soc']!.value === 40 + round, 'the next payload after the huge one');
    }
    assert.equal(d.count(/message on "safe\/big" dropped: 52428\d+ bytes is over mqtt.maxPayloadBytes/), 1, 'one warning, rate-limited');
    // Held whole, one 50 MB packet costs mqtt.js at least 100 MB (its chunks and their join; 160 MB
    // measured). Skipped, it costs only socket chunks that wait for V8's next collection (~40 MB).
    const grownMb = (peakKb() - before) / 1024;
    assert.ok(grownMb < 70, `peak memory grew by ${grownMb.toFixed(1)} MB for two 50 MB publishes`);
    assert.doesNotMatch(d.log, /lost|reconnecting/, 'the connection stayed up');
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('skipped QoS 1 publishes are acknowledged: more than the broker keeps in flight do not stall the stream', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vbat-acks-'));
    const cfg = join(dir, 'config.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        mqtt: { url: w.broker.url, qos: 1, maxPayloadBytes: 1024 },
        batteries: [{ name: 'acks', topic: 'safe/acks', instance: 67 }],
      }),
    );
    const d = w.vbat(['--config', cfg]);
    await d.waitLog(/subscribed to/);
    // mosquitto keeps at most 20 unacknowledged QoS 1 messages per client in flight, then queues.
    for (let k = 0; k < 30; k++) await w.publish('safe/acks', Buffer.alloc(100_000, 0x20));
    await w.publish('safe/acks', FULL);
    await w.until(SVC('acks'), (i) => i['/Info/MaxChargeCurrent']!.value === 80, 'the payload after 30 skipped ones');
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a missing TLS CA file: refused at start-up, before the bus name is claimed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vbat-tls-'));
    try {
      const cfg = join(dir, 'config.yaml');
      writeFileSync(
        cfg,
        [
          'mqtt:',
          `  url: ${w.broker.url.replace('mqtt:', 'mqtts:')}`,
          '  ca: nowhere/ca.pem',
          'batteries:',
          '  - {name: tls, topic: safe/tls}',
          '',
        ].join('\n'),
      );
      const d = w.vbat(['--config', cfg]);
      const code = await d.exit();
      assert.notEqual(code, 0);
      assert.match(d.log, /config\.yaml:3: .*cannot read nowhere\/ca\.pem: ENOENT/);
      assert.equal(await w.nameOwner(SVC('tls')), undefined, 'no bus name was ever held');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('many distinct topics: a bounded number is kept, and a known topic stays fast', async () => {
    const d = w.vbat(['--broker', w.broker.url, '--topic', 'many/#', '--name', 'many', '--instance', '65']);
    await d.waitLog(/subscribed to/);
    await w.publish('many/main', MIN);
    await w.until(SVC('many'), (i) => i['/Connected']!.value === 1, 'connected');
    const c = await w.publisher();
    await Promise.all(Array.from({ length: 1500 }, (_, i) => c.publishAsync(`many/t${i}`, `{"x${i}": ${i}}`, { qos: 0 })));
    await d.waitLog(/already holds data from 1000 topics/, 15_000);
    const t0 = Date.now();
    await w.publish('many/main', { ...MIN, Soc: 77 });
    await w.until(SVC('many'), (i) => i['/Soc']!.value === 77, 'new SoC');
    assert.ok(Date.now() - t0 < 1000, `a message after 1500 topics took ${Date.now() - t0} ms`);
    await d.stop();
  });
});

describe('broker outages', () => {
  test('after an outage of up to 10 s the newest value is on D-Bus within 1 s of the broker being back', async () => {
    const w = new World();
    await w.start();
    const d = w.vbat(['--broker', w.broker.url, '--topic', 'safe/outage', '--name', 'outage', '--instance', '75', '--timeout', '60']);
    const delays: number[] = [];
    try {
      await d.waitLog(/subscribed to/);
      const c = await w.publisher();
      for (const [round, outageMs] of [2000, 8000].entries()) {
        await w.broker.kill();
        await sleep(outageMs);
        await w.broker.restart();
        const back = Date.now();
        const soc = 10 + round;
        // The BMS publishes every 100 ms; its client reconnects on its own.
        const bms = setInterval(() => void c.publishAsync('safe/outage', JSON.stringify({ ...MIN, Soc: soc })).catch(() => undefined), 100);
        try {
          await w.until(SVC('outage'), (i) => i['/Soc']!.value === soc, `SoC ${soc} after a ${outageMs} ms outage`, 5000);
        } finally {
          clearInterval(bms);
        }
        delays.push(Date.now() - back);
      }
      for (const ms of delays) assert.ok(ms < 1000, `back after ${delays.join(', ')} ms`);
    } finally {
      await d.stop();
      await w.stop();
    }
  });
});

describe('SIGTERM while the bus dies at the same moment (a GX shutting down)', () => {
  test('vbat exits within 2 s, every time', async () => {
    const w = new World();
    await w.start();
    try {
      for (let i = 0; i < 4; i++) {
        const d = w.vbat(['--broker', w.broker.url, '--topic', 'safe/term', '--name', `term${i}`, '--instance', String(70 + i)]);
        await d.waitLog(/subscribed to/);
        await w.publish('safe/term', MIN);
        await w.until(SVC(`term${i}`), (it) => it['/Connected']!.value === 1, 'connected');
        w.reader.close();
        const dying = w.bus.stop();
        const [{ code, ms }] = await Promise.all([d.stop(), dying]);
        assert.ok(ms < 2000, `run ${i}: exited after ${ms} ms`);
        assert.notEqual(code, null, `run ${i}: exited by itself (not killed)`);
        w.bus = await startDbusDaemon();
        w.reader = await BusClient.connect(w.bus.address);
      }
    } finally {
      await w.stop();
    }
  });
});
