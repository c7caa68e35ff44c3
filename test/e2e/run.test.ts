/** `vbat run` end to end: a real mosquitto, a real dbus-daemon, vbat as its own process. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BusClient } from '../support/bus-client.js';
import { fixture, repoRoot } from '../support/paths.js';
import { readmeMappings } from '../support/readme.js';
import { sleep } from '../support/wait.js';
import { World } from './harness.js';

const FULL = readFileSync(fixture('seed', 'seed-full.json'), 'utf8');
const SVC = (name: string) => `com.victronenergy.battery.vbat_${name}`;
const tmp = mkdtempSync(join(tmpdir(), 'vbat-e2e-'));

describe('vbat run', { concurrency: false }, () => {
  const w = new World();
  before(() => w.start());
  after(async () => {
    await w.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('exports the service at once, invalid and disconnected until data arrives; then maps each payload', async () => {
    const d = w.vbat(['--broker', w.broker.url, '--topic', 'e2e/a', '--name', 'a', '--instance', '41', '--timeout', '30']);
    await d.waitLog(/subscribed to/);
    let items = await w.items(SVC('a'));
    assert.deepEqual(items['/Connected'], { value: 0, type: 'i', text: '0' });
    assert.deepEqual(items['/DeviceInstance'], { value: 41, type: 'i', text: '41' });
    assert.deepEqual(items['/Dc/0/Voltage'], { value: null, type: 'ai', text: '---' });
    for (const p of [
      '/Mgmt/ProcessName',
      '/Mgmt/ProcessVersion',
      '/Mgmt/Connection',
      '/ProductId',
      '/ProductName',
      '/CustomName',
      '/FirmwareVersion',
      '/HardwareVersion',
      '/Serial',
    ])
      assert.ok(p in items, p);
    assert.equal(items['/ProductId']!.text, '0xFFFF');

    await w.publish('e2e/a', FULL);
    items = await w.until(SVC('a'), (i) => i['/Connected']!.value === 1, 'connected');
    assert.deepEqual(items['/Dc/0/Voltage'], { value: 52.7, type: 'd', text: '52.70V' });
    assert.deepEqual(items['/Dc/0/Temperature'], { value: 23, type: 'd', text: '23.0°C' }, 'a measurement stays a double');
    assert.deepEqual(items['/Info/MaxChargeCurrent'], { value: 80, type: 'd', text: '80.0A' });
    assert.deepEqual(items['/Voltages/Diff'], { value: 0.02499999999999991, type: 'd', text: '0.025V' });
    assert.equal(items['/Vbat/MessagesAccepted']!.value, 1);

    await w.publish('e2e/a', { Dc: { Power: -100.5, Voltage: 51.2 }, Soc: 40 });
    items = await w.until(SVC('a'), (i) => i['/Soc']!.value === 40, 'second payload');
    assert.equal(items['/Dc/0/Power']!.text, '-100W');
    assert.equal(items['/Info/MaxChargeCurrent']!.value, 80, 'merge: fields a message leaves out keep their value');
    const r = await d.stop();
    assert.equal(r.code, 0);
  });

  test('idle on the bus: unchanged data and a stale battery send no ItemsChanged', async () => {
    const d = w.vbat(['--broker', w.broker.url, '--topic', 'e2e/idle', '--name', 'idle', '--instance', '49', '--timeout', '2']);
    await d.waitLog(/subscribed to/);
    const owner = (await w.reader.daemon('GetNameOwner', 's', [SVC('idle')])).body[0] as string;
    await w.reader.addMatch(`type='signal',sender='${owner}',member='ItemsChanged'`);
    const signals = () => w.reader.received('ItemsChanged').filter((m) => m.sender === owner).length;
    await w.publish('e2e/idle', FULL);
    await w.until(SVC('idle'), (i) => i['/Connected']!.value === 1, 'connected');
    const connected = signals();
    for (let k = 0; k < 10; k++) {
      await w.publish('e2e/idle', FULL);
      await sleep(300);
    }
    assert.equal(signals(), connected, 'the same payload for 3 s: no signal');
    const items = await w.items(SVC('idle'));
    assert.ok(Number(items['/Vbat/MessagesAccepted']!.value) >= 9, 'a client reading the counters sees them up to date');
    await w.until(SVC('idle'), (i) => i['/Connected']!.value === 0, 'stale after 2 s without data', 5000);
    await sleep(200);
    const stale = signals();
    assert.equal(stale, connected + 1, 'going stale is one ItemsChanged');
    await sleep(3000);
    assert.equal(signals(), stale, 'a stale battery: no signal');
    await d.stop();
  });

  test('a burst of messages: the last value always reaches D-Bus; credentials never reach the log', async () => {
    const url = w.broker.url.replace('mqtt://', 'mqtt://vbat:s3cr3t-pw@');
    const d = w.vbat(['--broker', url, '--topic', 'e2e/burst', '--name', 'burst', '--instance', '45']);
    await d.waitLog(/subscribed to/);
    const c = await w.publisher();
    for (let i = 1; i <= 500; i++) c.publish('e2e/burst', JSON.stringify({ Dc: { Power: i, Voltage: 52 }, Soc: i / 5 }));
    const items = await w.until(SVC('burst'), (i) => i['/Dc/0/Power']!.value === 500, 'the final value of the burst');
    assert.equal(items['/Soc']!.value, 100);
    assert.doesNotMatch(d.log, /s3cr3t-pw/);
    assert.match(d.log, /MQTT connected to mqtt:\/\/127\.0\.0\.1/);
    await d.stop();
  });

  test('staleness: /Connected 0 and the charge limits invalid; recovery on the next message', async () => {
    const d = w.vbat(['--broker', w.broker.url, '--topic', 'e2e/stale', '--name', 'stale', '--instance', '42', '--timeout', '1.5']);
    await d.waitLog(/subscribed to/);
    await w.publish('e2e/stale', FULL);
    await w.until(SVC('stale'), (i) => i['/Connected']!.value === 1, 'connected');
    const t0 = Date.now();
    const stale = await w.until(SVC('stale'), (i) => i['/Connected']!.value === 0, 'stale', 6000);
    assert.ok(Date.now() - t0 < 4000);
    for (const p of [
      '/Info/MaxChargeVoltage',
      '/Info/MaxChargeCurrent',
      '/Info/MaxDischargeCurrent',
      '/Dc/0/Voltage',
      '/Soc',
      '/Voltages/Cell1',
    ]) {
      assert.deepEqual(stale[p], { value: null, type: 'ai', text: '---' }, `${p} invalid when stale`);
    }
    assert.ok('/Info/MaxChargeVoltage' in stale, 'the service stays registered with all its paths');
    await d.waitLog(/battery stale/);
    await w.publish('e2e/stale', { Dc: { Power: 10, Voltage: 53 }, Soc: 70, Info: { MaxChargeVoltage: 55.6 } });
    const back = await w.until(SVC('stale'), (i) => i['/Connected']!.value === 1, 'recovered');
    assert.equal(back['/Info/MaxChargeVoltage']!.value, 55.6);
    assert.deepEqual(
      back['/Info/MaxChargeCurrent'],
      { value: null, type: 'ai', text: '---' },
      'nothing from before the silence comes back',
    );
    await d.stop();
  });

  test('a retained payload at start is not live data, and none of its values is used later', async () => {
    await w.publish('e2e/retained', FULL, { retain: true });
    const d = w.vbat(['--broker', w.broker.url, '--topic', 'e2e/retained', '--name', 'ret', '--instance', '43']);
    await d.waitLog(/subscribed to/);
    await sleep(700);
    const items = await w.items(SVC('ret'));
    assert.equal(items['/Connected']!.value, 0);
    assert.equal(items['/Info/MaxChargeVoltage']!.value, null, 'no stale limits from a retained message');
    await w.publish('e2e/retained', { Dc: { Power: 1, Voltage: 52 }, Soc: 50 });
    const live = await w.until(SVC('ret'), (i) => i['/Connected']!.value === 1, 'live after a fresh message');
    assert.equal(live['/Soc']!.value, 50);
    assert.equal(live['/Info/MaxChargeVoltage']!.value, null, 'a retained value of unknown age never completes a live document');
    await w.publish('e2e/retained', '', { retain: true }); // clear the retained message
    await d.stop();
  });

  test('bad messages are dropped with a rate-limited warning; the daemon keeps serving', async () => {
    const d = w.vbat(['--broker', w.broker.url, '--topic', 'e2e/bad', '--name', 'bad', '--instance', '44']);
    await d.waitLog(/subscribed to/);
    await w.publish('e2e/bad', FULL);
    await w.until(SVC('bad'), (i) => i['/Connected']!.value === 1, 'connected');
    const rejected = (n: number) => w.until(SVC('bad'), (i) => i['/Vbat/MessagesRejected']!.value === n, `${n} rejected`);
    for (let i = 0; i < 20; i++) await w.publish('e2e/bad', '{"Dc": ');
    await rejected(20);
    await w.publish('e2e/bad', JSON.stringify({ pad: 'x'.repeat(300_000) }));
    await rejected(21);
    // Alone in its batch (a later message in the same batch would complete the merged document).
    await w.publish('e2e/bad', { Dc: { Power: 1, Voltage: null }, Soc: 5 });
    await rejected(22);
    await w.publish('e2e/bad', { Dc: { Power: 12, Voltage: 52, Temperature: 'hot' }, Soc: 44 });
    const items = await w.until(SVC('bad'), (i) => i['/Soc']!.value === 44, 'the good part of the last message');
    assert.equal(items['/Dc/0/Temperature']!.value, null);
    assert.equal(items['/Dc/0/Voltage']!.value, 52);
    assert.equal(items['/Vbat/MessagesRejected']!.value, 22);
    // Diagnostics follow within a second (the service paths refresh on the 1 s tick).
    await w.until(SVC('bad'), (i) => /Temperature/.test(String(i['/Vbat/LastProblem']!.value)), 'last problem shown');
    assert.equal(d.count(/bad message on e2e\/bad: not valid JSON/), 1, 'twenty bad messages, one warning line');
    assert.equal(d.count(/over the limit/), 1);
    assert.equal(d.count(/required input missing or invalid for \/Dc\/0\/Voltage/), 1);
    assert.equal(d.count(/\/Dc\/0\/Temperature invalid: expected a number, got the string "hot"/), 1);
    await d.stop();
  });

  test('two batteries in one process, each its own service and connection', async () => {
    const cfg = join(tmp, 'two.yaml');
    writeFileSync(
      cfg,
      [
        `mqtt: {url: "${w.broker.url}"}`,
        'batteries:',
        '  - {name: left, topic: e2e/left, instance: 50}',
        '  - {name: right, topic: e2e/right, instance: 51, customName: Right pack}',
        '',
      ].join('\n'),
    );
    const d = w.vbat(['--config', cfg]);
    await d.waitLog(/right: subscribed to/);
    await d.waitLog(/left: subscribed to/);
    await w.publish('e2e/left', { Dc: { Power: 1, Voltage: 51 }, Soc: 11 });
    await w.publish('e2e/right', { Dc: { Power: 2, Voltage: 52 }, Soc: 22 });
    const left = await w.until(SVC('left'), (i) => i['/Soc']!.value === 11, 'left');
    const right = await w.until(SVC('right'), (i) => i['/Soc']!.value === 22, 'right');
    assert.equal(left['/DeviceInstance']!.value, 50);
    assert.equal(right['/CustomName']!.value, 'Right pack');
    const owners = [await w.nameOwner(SVC('left')), await w.nameOwner(SVC('right'))];
    assert.ok(owners[0] && owners[1] && owners[0] !== owners[1], `one connection per service: ${owners.join(' ')}`);
    await d.stop();
  });

  test('every shipped mapping and the README mapping example start under vbat run and map a payload', async () => {
    const files = readdirSync(join(repoRoot, 'mappings'))
      .filter((f) => f.endsWith('.yaml') && f !== 'service-paths.yaml')
      .map((f) => join(repoRoot, 'mappings', f));
    readmeMappings().forEach((yaml, i) => {
      const f = join(tmp, `readme-${i}.yaml`);
      writeFileSync(f, yaml);
      files.push(f);
    });
    const cfg = join(tmp, 'every-mapping.yaml');
    const names = files.map((_, i) => `m${i}`);
    writeFileSync(
      cfg,
      [
        `mqtt: {url: "${w.broker.url}"}`,
        'batteries:',
        ...files.map((f, i) => `  - {name: ${names[i]}, topic: "e2e/m${i}/#", instance: ${60 + i}, mapping: "${f}"}`),
        '',
      ].join('\n'),
    );
    const d = w.vbat(['--config', cfg]);
    for (const n of names) await d.waitLog(new RegExp(`${n}: subscribed to`));
    for (const n of names) assert.equal((await w.items(SVC(n)))['/Connected']!.value, 0, n);
    const m = `m${files.findIndex((f) => f.endsWith('/default.yaml'))}`;
    await w.publish(`e2e/${m}`, FULL);
    await w.until(SVC(m), (i) => i['/Soc']!.value === 63 && i['/Connected']!.value === 1, 'default mapping connected');
    assert.equal((await d.stop()).code, 0);
  });

  test('several sources: an optional one going stale drops only its values, a required one the battery', async () => {
    const cfg = join(tmp, 'multi.yaml');
    writeFileSync(
      cfg,
      [
        `mqtt: {url: "${w.broker.url}"}`,
        'batteries:',
        '  - name: multi',
        '    instance: 60',
        '    timeout: 30',
        '    topics:',
        '      - {topic: e2e/multi/basic, timeout: 2.5}',
        '      - {topic: e2e/multi/cells, timeout: 1, required: false}',
        '',
      ].join('\n'),
    );
    const d = w.vbat(['--config', cfg]);
    await d.waitLog(/subscribed to/);
    await w.publish('e2e/multi/cells', { Voltages: { Cell1: 3.3, Cell2: 3.31 } });
    await w.publish('e2e/multi/basic', { Dc: { Power: 5, Voltage: 52 }, Soc: 60 });
    await w.until(SVC('multi'), (i) => i['/Voltages/Cell2']!.value === 3.31 && i['/Soc']!.value === 60, 'both sources');
    const keepBasic = setInterval(
      () => void w.publish('e2e/multi/basic', { Dc: { Power: 5, Voltage: 52 }, Soc: 61 }).catch(() => undefined),
      300,
    );
    try {
      const items = await w.until(SVC('multi'), (i) => i['/Voltages/Cell1']!.value === null, 'cells dropped', 5000);
      assert.equal(items['/Connected']!.value, 1, 'an optional source does not make the battery stale');
      assert.equal(items['/Soc']!.value, 61);
    } finally {
      clearInterval(keepBasic);
    }
    const stale = await w.until(SVC('multi'), (i) => i['/Connected']!.value === 0, 'required source stale', 6000);
    assert.equal(stale['/Soc']!.value, null);
    await d.stop();
  });

  test('broker restart: reconnects, resubscribes, logs the loss once', async () => {
    const d = w.vbat(['--broker', w.broker.url, '--topic', 'e2e/restart', '--name', 'restart', '--instance', '70', '--timeout', '60']);
    await d.waitLog(/subscribed to/);
    await w.publish('e2e/restart', { Dc: { Power: 1, Voltage: 50 }, Soc: 1 });
    await w.until(SVC('restart'), (i) => i['/Soc']!.value === 1, 'first');
    await w.broker.kill();
    await sleep(2500);
    assert.equal((await w.items(SVC('restart')))['/Soc']!.value, 1, 'D-Bus keeps serving while the broker is away');
    await w.broker.restart();
    await d.waitLog(/subscribed to[^\n]*\n[\s\S]*subscribed to/, 10_000);
    await w.publish('e2e/restart', { Dc: { Power: 1, Voltage: 50 }, Soc: 2 });
    await w.until(SVC('restart'), (i) => i['/Soc']!.value === 2, 'after the restart', 8000);
    assert.equal(d.count(/connection to .* lost/), 1, 'one line for the loss, not one per retry');
    await d.stop();
  });

  test('SIGTERM releases the name within a second; a taken name fails start-up naming the owner', async () => {
    const d = w.vbat(['--broker', w.broker.url, '--topic', 'e2e/term', '--name', 'term', '--instance', '80']);
    await d.waitLog(/exported/);
    const owner = await w.nameOwner(SVC('term'));
    assert.ok(owner);
    const second = w.vbat(['--broker', w.broker.url, '--topic', 'e2e/term', '--name', 'term', '--instance', '81']);
    assert.equal(await second.exit(), 1);
    assert.match(second.log, new RegExp(`${SVC('term').replace(/\./g, '\\.')}.*${owner!.replace(/\./g, '\\.')}`));
    const r = await d.stop('SIGTERM');
    assert.equal(r.code, 0);
    assert.ok(r.ms < 1000, `stopped in ${r.ms} ms`);
    assert.equal(await w.nameOwner(SVC('term')), undefined);
  });

  test('a bad config is refused with file and line before anything connects', async () => {
    const cfg = join(tmp, 'bad.yaml');
    writeFileSync(
      cfg,
      ['mqtt:', '  url: mqtt://127.0.0.1:1', 'batteries:', '  - name: x', '    topic: a/#/b', '    colour: red', ''].join('\n'),
    );
    const d = w.vbat(['--config', cfg]);
    assert.equal(await d.exit(), 1);
    assert.match(d.log, new RegExp(`${cfg.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:6: batteries › 0 › colour: unknown key "colour"`));
  });
});

describe('vbat run when the bus goes away', () => {
  test('dbus-daemon restarted: the service is exported again, stale until fresh data', async () => {
    const { startDbusDaemon } = await import('../support/dbus-daemon.js');
    const w = new World();
    const busDir = mkdtempSync(join(tmpdir(), 'vbat-bus-'));
    const socketPath = join(busDir, 'bus');
    await w.start({ socketPath });
    try {
      const d = w.vbat(['--broker', w.broker.url, '--topic', 'e2e/bus', '--name', 'bus', '--instance', '90']);
      await d.waitLog(/subscribed to/);
      await w.publish('e2e/bus', FULL);
      await w.until(SVC('bus'), (i) => i['/Connected']!.value === 1, 'connected');
      w.reader.close();
      await w.bus.stop();
      w.bus = await startDbusDaemon({ socketPath });
      w.reader = await BusClient.connect(w.bus.address);
      const again = await w.until(SVC('bus'), () => true, 're-exported', 10_000);
      assert.equal(again['/Connected']!.value, 0, 'no stale values after the bus came back');
      assert.equal(again['/Info/MaxChargeVoltage']!.value, null);
      await w.publish('e2e/bus', FULL);
      await w.until(SVC('bus'), (i) => i['/Connected']!.value === 1 && i['/Info/MaxChargeVoltage']!.value === 55.2, 'live again');
      await d.waitLog(/exported com\.victronenergy\.battery\.vbat_bus again/);
      await d.stop();
    } finally {
      await w.stop();
      rmSync(busDir, { recursive: true, force: true });
    }
  });
});
