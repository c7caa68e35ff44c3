/**
 * `vbat watch` and its BusWatcher against services the test exports on a private dbus-daemon
 * (src/dbus's startService, the same layer `vbat run` uses).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startService, type BusItemService } from '../../src/dbus/index.js';
import { BusWatcher } from '../../src/watch/watcher.js';
import { runCli, spawnCli } from '../support/cli.js';
import { startDbusDaemon, type DbusDaemon } from '../support/dbus-daemon.js';
import { bounded, sleep, waitFor } from '../support/wait.js';
import { batteryItems, uniqueServiceName } from '../dbus/helpers.js';

interface JsonSnapshot {
  service: string;
  owner: string;
  paths: number;
  items: Record<string, { value: unknown; type: string; text: string }>;
}

describe('vbat watch', () => {
  let bus: DbusDaemon;
  const services: BusItemService[] = [];
  const watchers: BusWatcher[] = [];
  const start = async (name: string, opts: { propertiesChanged?: boolean } = {}) => {
    const s = await startService({ serviceName: name, busAddress: bus.address, items: batteryItems(), ...opts });
    services.push(s);
    return s;
  };
  const watcher = async () => {
    const w = await BusWatcher.connect(bus.address);
    watchers.push(w);
    return w;
  };

  before(async () => {
    bus = await startDbusDaemon();
  });
  after(async () => {
    await Promise.all(watchers.map((w) => w.close()));
    await Promise.all(services.map((s) => s.close()));
    await bus?.stop();
  });

  test('no battery service on the bus: says so, exit 1', async () => {
    const r = await runCli(['watch', '--bus', bus.address]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no com\.victronenergy\.battery\.\* service on unix:path=/);
  });

  test('a bus that is not there: one line, exit 1', async () => {
    const r = await runCli(['watch', '--json', '--bus', `unix:path=${bus.dir}/nothing`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^vbat watch: cannot connect to D-Bus at unix:path=.*\n$/);
  });

  test('--json: every path with value, D-Bus type and text, as GetItems has them', async () => {
    const name = uniqueServiceName('json');
    const svc = await start(name);
    const r = await runCli(['watch', '--json', '--bus', bus.address, name]);
    assert.equal(r.code, 0, r.stderr);
    const snap = JSON.parse(r.stdout) as JsonSnapshot;
    assert.equal(snap.service, name);
    assert.equal(snap.owner, svc.uniqueName);
    const items = batteryItems();
    assert.equal(snap.paths, items.length);
    assert.deepEqual(Object.keys(snap.items), items.map((i) => i.path).sort());
    assert.deepEqual(snap.items['/Dc/0/Voltage'], { value: 52.1, type: 'd', text: '52.10V' });
    assert.deepEqual(snap.items['/Dc/0/Current'], { value: null, type: 'ai', text: '---' }, 'invalid');
    assert.deepEqual(snap.items['/Dc/0/Power'], { value: -300, type: 'i', text: '-300W' });
    assert.deepEqual(snap.items['/Soc'], { value: 63, type: 'y', text: '63%' });
    assert.deepEqual(
      snap.items['/History/ChargedEnergy'],
      { value: 123456789012, type: 'x', text: '123456789012' },
      'int64 as a JSON number',
    );
    assert.deepEqual(snap.items['/History/Counter'], { value: 42, type: 't', text: '42' });
    assert.deepEqual(snap.items['/System/Temp'], { value: -5, type: 'n', text: '-5' });
    assert.equal(snap.items['/Io/AllowToCharge']!.type, 'b');
    assert.deepEqual(snap.items['/CustomName'], { value: 'Test bat', type: 's', text: 'Test bat' });

    // The short form of the name works too, and the values follow the service.
    svc.apply(new Map([['/Soc', { value: 64, text: '64%' }]]));
    const short = await runCli(['watch', '--json', '--bus', bus.address, name.replace('com.victronenergy.battery.', '')]);
    assert.equal(short.code, 0, short.stderr);
    assert.deepEqual((JSON.parse(short.stdout) as JsonSnapshot).items['/Soc'], { value: 64, type: 'y', text: '64%' });
  });

  test('--json for a service that is not there: exit 1', async () => {
    await start(uniqueServiceName('present')); // something is there, just not this one
    const r = await runCli(['watch', '--json', '--bus', bus.address, 'com.victronenergy.battery.absent']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /com\.victronenergy\.battery\.absent is not on /);
  });

  test('without SERVICE: the first battery service (sorted); the others are named', async () => {
    const w = await watcher();
    const found = await w.listServices();
    assert.ok(found.length >= 2);
    assert.deepEqual(found, [...found].sort());
    assert.ok(found.every((n) => n.startsWith('com.victronenergy.battery.')));
    const r = await runCli(['watch', '--json', '--bus', bus.address]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as JsonSnapshot).service, found[0]);
  });

  test('live, not a terminal: one compact line per update, at most once a second; SIGINT exits 0', async () => {
    const name = uniqueServiceName('live');
    const svc = await start(name);
    const watch = spawnCli(['watch', '--bus', bus.address, name]);
    try {
      await watch.waitOut(/Connected SoC 63\.0%/, 10_000);
      assert.match(watch.out, new RegExp(`^vbat watch: ${name.replace(/\./g, '\\.')} on unix:path=`, 'm'));
      assert.match(watch.out, /Connected SoC 63\.0% 52\.10V --- -300W/);
      for (let soc = 70; soc <= 75; soc++) {
        svc.apply(new Map([['/Soc', { value: soc, text: `${soc}%` }]]));
        await sleep(150);
      }
      await watch.waitOut(/SoC 75\.0%/, 5000);
      const lines = watch.out.split('\n').filter((l) => /SoC/.test(l));
      assert.ok(lines.length <= 3, `throttled to one line a second:\n${lines.join('\n')}`);
      const t0 = Date.now();
      watch.child.kill('SIGINT');
      assert.equal(await bounded(watch.exited, 'watch to exit'), 0, watch.err);
      assert.ok(Date.now() - t0 < 2000);
    } finally {
      await watch.stop();
    }
  });

  describe('BusWatcher', () => {
    test('GetItems, then ItemsChanged and PropertiesChanged of the owner only', async () => {
      const name = uniqueServiceName('watcher');
      const svc = await start(name, { propertiesChanged: true });
      const w = await watcher();
      let changes = 0;
      await w.watch(name, () => changes++);
      const snap = w.snapshot;
      assert.equal(snap.owner, svc.uniqueName);
      assert.deepEqual(snap.items.get('/Dc/0/Voltage'), { value: 52.1, type: 'd', text: '52.10V' });
      assert.deepEqual(snap.items.get('/Dc/0/Current'), { value: null, type: 'ai', text: '---' });

      svc.apply(
        new Map([
          ['/Dc/0/Current', { value: 6.1, text: '6.1A' }],
          ['/Dc/0/Voltage', { value: null, text: '---' }],
        ]),
      );
      await waitFor(() => w.snapshot.items.get('/Dc/0/Current')?.value === 6.1, 'ItemsChanged applied');
      assert.deepEqual(w.snapshot.items.get('/Dc/0/Voltage'), { value: null, type: 'ai', text: '---' });
      assert.ok(changes >= 2);

      // Another service's signals on the same paths change nothing.
      const other = await start(uniqueServiceName('other'));
      other.apply(new Map([['/Dc/0/Current', { value: -99, text: '-99A' }]]));
      await sleep(150);
      assert.equal(w.snapshot.items.get('/Dc/0/Current')?.value, 6.1);
    });

    test('the service going away and coming back', async () => {
      const name = uniqueServiceName('restart');
      const first = await start(name);
      const w = await watcher();
      await w.watch(name);
      assert.equal(w.snapshot.owner, first.uniqueName);
      await first.close();
      await waitFor(() => w.snapshot.owner === undefined, 'the owner gone');
      const second = await start(name);
      second.apply(new Map([['/Soc', { value: 12, text: '12%' }]]));
      await waitFor(
        () => w.snapshot.owner === second.uniqueName && w.snapshot.items.get('/Soc')?.value === 12,
        'reloaded from the new owner',
      );
    });

    test('watching a name before it exists', async () => {
      const name = uniqueServiceName('later');
      const w = await watcher();
      await w.watch(name);
      assert.equal(w.snapshot.owner, undefined);
      assert.equal(w.snapshot.items.size, 0);
      const svc = await start(name);
      await waitFor(
        () => w.snapshot.owner === svc.uniqueName && w.snapshot.items.size === batteryItems().length,
        'loaded when it appeared',
      );
    });
  });
});
