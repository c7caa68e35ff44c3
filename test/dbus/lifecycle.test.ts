/** Start-up checks, name claiming, several services per process, close and connection loss. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Variant, type Message } from 'dbus-next';
import {
  MANDATORY_PATHS,
  NameTakenError,
  ServiceConfigError,
  startService,
  type BusItemService,
  type ItemDefinition,
} from '../../src/dbus/index.js';
import { startDbusDaemon, type DbusDaemon } from '../support/dbus-daemon.js';
import { BusClient, IFACE } from '../support/bus-client.js';
import { bounded, eventually, waitFor } from '../support/wait.js';
import { batteryItems, uniqueServiceName } from './helpers.js';

let daemon: DbusDaemon;
let client: BusClient;

before(async () => {
  daemon = await startDbusDaemon();
  client = await BusClient.connect(daemon.address);
  await client.addMatch(`type='signal',interface='${IFACE}'`);
  await client.addMatch("type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'");
});

after(async () => {
  client?.close();
  await daemon?.stop();
});

const hasOwner = async (name: string): Promise<boolean> => (await client.daemon('NameHasOwner', 's', [name])).body[0] as boolean;

const uniqueNames = async (): Promise<string[]> =>
  ((await client.daemon('ListNames')).body[0] as string[]).filter((n) => n.startsWith(':')).sort();

describe('start-up validation (before any connection)', () => {
  // A bus that does not exist: reaching it would fail differently, so these errors prove the
  // check runs before connecting.
  const nowhere = 'unix:path=/nonexistent/vbat/bus';
  const start = (items: ItemDefinition[], serviceName = 'com.victronenergy.battery.v') =>
    startService({ serviceName, busAddress: nowhere, items });
  const problems = async (p: Promise<unknown>): Promise<string> => {
    const err = await p.then(
      () => assert.fail('should not start'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ServiceConfigError, String(err));
    return err.problems.join('\n');
  };

  it('refuses a list without the mandatory paths, naming them', async () => {
    const items = batteryItems().filter((d) => d.path !== '/Serial' && d.path !== '/Connected');
    const text = await problems(start(items));
    assert.match(text, /mandatory path\(s\) missing: \/Serial, \/Connected/);
    assert.equal(MANDATORY_PATHS.length, 11);
  });

  it('refuses an invalid or non-integer /DeviceInstance', async () => {
    const withDi = (di: Partial<ItemDefinition>): ItemDefinition[] =>
      batteryItems().map((d) => (d.path === '/DeviceInstance' ? { ...d, ...di } : d));
    assert.match(await problems(start(withDi({ value: null }))), /\/DeviceInstance must have an integer type/);
    assert.match(await problems(start(withDi({ type: 's', value: '100' }))), /\/DeviceInstance must have an integer type/);
    assert.match(await problems(start(withDi({ type: 'd', value: 100 }))), /\/DeviceInstance must have an integer type/);
    assert.match(await problems(start(withDi({ value: 1.5 }))), /initial value 1.5 does not fit type i/);
  });

  it('refuses bad paths, duplicates, item/parent clashes, bad types and bad names, all at once', async () => {
    const text = await problems(
      start(
        batteryItems([
          { path: 'Dc/1', type: 'd', value: null },
          { path: '/Dc/1/', type: 'd', value: null },
          { path: '/Soc', type: 'y', value: null },
          { path: '/Dc/0', type: 'd', value: null },
          { path: '/X', type: 'z' as never, value: null },
          { path: '/Y', type: 'y', value: 'abc' },
          {
            path: '/Z',
            type: 'd',
            value: 1,
            format: () => {
              throw new Error('nope');
            },
          },
        ]),
        '1bad..name',
      ),
    );
    for (const re of [
      /"Dc\/1": not a valid object path/,
      /"\/Dc\/1\/": not a valid/,
      /\/Soc: defined twice/,
      /\/Dc\/0: used both as an item and as a parent/,
      /\/X: type "z"/,
      /\/Y: initial value "abc" does not fit type y/,
      /\/Z: format\(1\) threw: nope/,
      /service name "1bad..name"/,
    ]) {
      assert.match(text, re);
    }
  });
});

describe('connecting', () => {
  it('fails clearly and quickly when the bus is unreachable', async () => {
    const addr = `unix:path=${join(daemon.dir, 'missing')}`;
    await assert.rejects(
      bounded(startService({ serviceName: uniqueServiceName('x'), busAddress: addr, items: batteryItems() }), 'start'),
      (e: Error) => e.message.includes(`cannot connect to D-Bus at ${addr}`),
    );
  });

  it('uses DBUS_SYSTEM_BUS_ADDRESS when no address is given', async () => {
    const saved = process.env['DBUS_SYSTEM_BUS_ADDRESS'];
    process.env['DBUS_SYSTEM_BUS_ADDRESS'] = daemon.address;
    try {
      const name = uniqueServiceName('env');
      const svc = await startService({ serviceName: name, items: batteryItems() });
      assert.ok(await hasOwner(name));
      await svc.close();
    } finally {
      if (saved === undefined) delete process.env['DBUS_SYSTEM_BUS_ADDRESS'];
      else process.env['DBUS_SYSTEM_BUS_ADDRESS'] = saved;
    }
  });

  it('answers on its objects as soon as the name appears (exported before RequestName)', async () => {
    const name = uniqueServiceName('order');
    let first: Promise<Message> | undefined;
    const onMessage = (m: Message): void => {
      if (m.member === 'NameOwnerChanged' && m.body[0] === name && m.body[2] && !first) {
        first = client.call(name, '/DeviceInstance', 'GetValue'); // sent in the same tick
      }
    };
    client.bus.on('message', onMessage);
    const svc = await startService({ serviceName: name, busAddress: daemon.address, items: batteryItems() });
    try {
      await waitFor(() => first !== undefined, 'NameOwnerChanged');
      assert.deepEqual((await first!).body[0], new Variant('i', 100));
    } finally {
      client.bus.off('message', onMessage);
      await svc.close();
    }
  });
});

describe('name ownership', () => {
  it('fails with NameTakenError naming the service and the owner, and leaves no connection behind', async () => {
    const name = uniqueServiceName('taken');
    const first = await startService({ serviceName: name, busAddress: daemon.address, items: batteryItems() });
    try {
      const before = await uniqueNames();
      const err = await startService({ serviceName: name, busAddress: daemon.address, items: batteryItems() }).then(
        () => assert.fail('second start should fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof NameTakenError);
      assert.equal(err.serviceName, name);
      assert.equal(err.owner, first.uniqueName);
      assert.ok(err.message.includes(name) && err.message.includes(first.uniqueName), err.message);
      // The failed attempt's connection is gone again.
      await eventually(async () => (await uniqueNames()).join() === before.join(), 'failed connection to go');
      // And the first service is unaffected.
      assert.equal((await client.daemon('GetNameOwner', 's', [name])).body[0], first.uniqueName);
    } finally {
      await first.close();
    }
  });

  it('also reports a name held by some other client', async () => {
    const name = uniqueServiceName('other');
    const other = await BusClient.connect(daemon.address);
    try {
      assert.equal((await other.daemon('RequestName', 'su', [name, 4])).body[0], 1);
      await assert.rejects(
        startService({ serviceName: name, busAddress: daemon.address, items: batteryItems() }),
        (e: unknown) => e instanceof NameTakenError && e.owner === other.name,
      );
    } finally {
      other.close();
    }
  });
});

describe('several services in one process', () => {
  it('gives each its own connection, objects and signals', async () => {
    const [na, nb] = [uniqueServiceName('a'), uniqueServiceName('b')];
    const a = await startService({ serviceName: na, busAddress: daemon.address, items: batteryItems() });
    const b = await startService({
      serviceName: nb,
      busAddress: daemon.address,
      items: batteryItems().map((d) => (d.path === '/DeviceInstance' ? { ...d, value: 101 } : d)),
    });
    try {
      assert.notEqual(a.uniqueName, b.uniqueName);
      assert.equal((await client.daemon('GetNameOwner', 's', [na])).body[0], a.uniqueName);
      assert.equal((await client.daemon('GetNameOwner', 's', [nb])).body[0], b.uniqueName);
      const di = async (n: string): Promise<unknown> => (await client.call(n, '/DeviceInstance', 'GetValue')).body[0];
      assert.deepEqual(await di(na), new Variant('i', 100));
      assert.deepEqual(await di(nb), new Variant('i', 101));

      const since = client.received('ItemsChanged').length;
      a.apply([['/Soc', { value: 11, text: '11%' }]]);
      b.apply([['/Soc', { value: 22, text: '22%' }]]);
      await waitFor(() => client.received('ItemsChanged').length >= since + 2, 'two ItemsChanged');
      const got = client.received('ItemsChanged').slice(since);
      const bySender = Object.fromEntries(
        got.map((m) => [m.sender, (m.body[0] as Record<string, { Value: Variant }>)['/Soc']!.Value.value]),
      );
      assert.deepEqual(bySender, { [a.uniqueName]: 11, [b.uniqueName]: 22 });
      assert.equal(b.get('/Soc')!.value, 22);
      assert.equal(a.get('/Soc')!.value, 11);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('close', () => {
  it('releases the name, then the connection; idempotent; apply becomes a no-op', async () => {
    const name = uniqueServiceName('close');
    const svc: BusItemService = await startService({ serviceName: name, busAddress: daemon.address, items: batteryItems() });
    const unique = svc.uniqueName;
    assert.ok(await hasOwner(name));
    const closing = svc.close();
    assert.equal(svc.close(), closing, 'a second close() shares the first');
    await closing;
    assert.equal(await hasOwner(name), false);
    assert.equal(await hasOwner(unique), false);
    await waitFor(
      () => client.signals.some((m) => m.member === 'NameOwnerChanged' && m.body[0] === name && m.body[1] === unique && m.body[2] === ''),
      'NameOwnerChanged for the release',
    );
    assert.equal(svc.apply([['/Soc', { value: 1, text: '1' }]]), 0);
    // The name is free for the next instance.
    const again = await startService({ serviceName: name, busAddress: daemon.address, items: batteryItems() });
    await again.close();
  });

  it('reports a lost bus through onError, then apply is a no-op and close still resolves', async () => {
    const own = await startDbusDaemon();
    const errors: Error[] = [];
    let svc: BusItemService | undefined;
    try {
      svc = await startService({
        serviceName: uniqueServiceName('lost'),
        busAddress: own.address,
        items: batteryItems(),
        onError: (e) => errors.push(e),
      });
      await own.stop();
      await waitFor(() => errors.length > 0, 'onError');
      assert.equal(errors.length, 1);
      assert.match(errors[0]!.message, /closed|ECONNRESET|EPIPE/);
      assert.equal(svc.apply([['/Soc', { value: 1, text: '1' }]]), 0);
      await bounded(svc.close(), 'close after loss', 3000);
    } finally {
      await svc?.close();
      await own.stop();
    }
  });
});
