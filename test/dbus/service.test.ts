/**
 * Reading a service and its signals with an independent dbus-next client (low-level messages,
 * so the checks see the wire signatures), on a private dbus-daemon.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Variant, type Message } from 'dbus-next';
import { startService, type BusItemService } from '../../src/dbus/index.js';
import type { Frame, ItemState } from '../../src/venus/types.js';
import { startDbusDaemon, type DbusDaemon } from '../support/dbus-daemon.js';
import { BusClient, IFACE, type ItemsChanged } from '../support/bus-client.js';
import { sleep, waitFor } from '../support/wait.js';
import { batteryItems, uniqueServiceName } from './helpers.js';

const TYPES: Record<string, string> = Object.fromEntries(batteryItems().map((d) => [d.path, d.type]));

let daemon: DbusDaemon;
let client: BusClient;
let svc: BusItemService;
const NAME = uniqueServiceName('read');

before(async () => {
  daemon = await startDbusDaemon();
  client = await BusClient.connect(daemon.address);
  await client.addMatch(`type='signal',interface='${IFACE}'`);
  svc = await startService({ serviceName: NAME, busAddress: daemon.address, items: batteryItems() });
});

after(async () => {
  await svc?.close();
  client?.close();
  await daemon?.stop();
});

const getItems = async (): Promise<{ msg: Message; items: ItemsChanged }> => {
  const msg = await client.call(NAME, '/', 'GetItems');
  return { msg, items: msg.body[0] as ItemsChanged };
};

/** ItemsChanged signals from our service received after `since`. */
const itemsChanged = (since: number): Message[] =>
  client.received('ItemsChanged').filter((m, i) => i >= since && m.sender === svc.uniqueName);

/** Apply, then wait (bounded) until a signal proves the daemon delivered everything before it. */
async function applyAndSettle(changes: Iterable<[string, ItemState]>): Promise<number> {
  const n = svc.apply(changes);
  const marker = svc.get('/Mode')!.value === 3 ? 4 : 3;
  const before = client.received('ItemsChanged').length;
  svc.apply([['/Mode', { value: marker, text: String(marker) }]]);
  await waitFor(
    () =>
      client
        .received('ItemsChanged')
        .slice(before)
        .some((m) => '/Mode' in m.body[0]),
    'marker signal',
  );
  return n;
}

describe('GetItems on /', () => {
  it('returns a{sa{sv}} with every path, keys with leading /, Value and Text', async () => {
    const { msg, items } = await getItems();
    assert.equal(msg.signature, 'a{sa{sv}}');
    assert.deepEqual(
      Object.keys(items),
      batteryItems().map((d) => d.path),
    );
    for (const [path, entry] of Object.entries(items)) {
      assert.deepEqual(Object.keys(entry), ['Value', 'Text'], path);
      assert.equal(entry.Text.signature, 's', path);
    }
  });

  it('keeps each path in its declared D-Bus type', async () => {
    const { items } = await getItems();
    for (const [path, entry] of Object.entries(items)) {
      const expected = entry.Text.value === '---' ? 'ai' : TYPES[path];
      assert.equal(entry.Value.signature, expected, path);
    }
    assert.equal(items['/History/ChargedEnergy']!.Value.value, 123456789012n);
    assert.equal(items['/Io/AllowToCharge']!.Value.value, true);
    assert.equal(items['/Soc']!.Value.value, 63);
  });

  it('encodes invalid as an empty ai with text ---', async () => {
    const { items } = await getItems();
    assert.deepEqual(items['/Dc/0/Current'], { Value: new Variant('ai', []), Text: new Variant('s', '---') });
    assert.deepEqual(items['/HardwareVersion']!.Value, new Variant('ai', []));
  });

  it('shows velib texts: given text, hex ProductId, String(value)', async () => {
    const { items } = await getItems();
    assert.equal(items['/Dc/0/Voltage']!.Text.value, '52.10V');
    assert.equal(items['/ProductId']!.Text.value, '0xFFFF');
    assert.equal(items['/TimeToGo']!.Text.value, '3600');
  });
});

describe('GetValue / GetText', () => {
  it('root GetValue is v wrapping a{sv} with keys without leading /', async () => {
    const msg = await client.call(NAME, '/', 'GetValue');
    assert.equal(msg.signature, 'v');
    const v = msg.body[0] as Variant<Record<string, Variant>>;
    assert.equal(v.signature, 'a{sv}');
    assert.equal(Object.keys(v.value).length, batteryItems().length);
    assert.deepEqual(v.value['Dc/0/Voltage'], new Variant('d', 52.1));
    assert.deepEqual(v.value['DeviceInstance'], new Variant('i', 100));
    assert.deepEqual(v.value['Dc/0/Current'], new Variant('ai', []));
  });

  it('root GetText is v wrapping a{ss}', async () => {
    const msg = await client.call(NAME, '/', 'GetText');
    assert.equal(msg.signature, 'v');
    const v = msg.body[0] as Variant<Record<string, string>>;
    assert.equal(v.signature, 'a{ss}');
    assert.equal(v.value['Dc/0/Voltage'], '52.10V');
    assert.equal(v.value['Dc/0/Current'], '---');
  });

  it('intermediate nodes answer for their subtree with relative keys', async () => {
    const dc = (await client.call(NAME, '/Dc', 'GetValue')).body[0] as Variant<Record<string, Variant>>;
    assert.equal(dc.signature, 'a{sv}');
    assert.deepEqual(Object.keys(dc.value), ['0/Voltage', '0/Current', '0/Power']);
    const dc0 = (await client.call(NAME, '/Dc/0', 'GetText')).body[0] as Variant<Record<string, string>>;
    assert.equal(dc0.signature, 'a{ss}');
    assert.deepEqual(dc0.value, { Voltage: '52.10V', Current: '---', Power: '-300W' });
  });

  it('leaves answer GetValue → v, GetText → s, GetDescription(si) → s', async () => {
    const v = await client.call(NAME, '/Dc/0/Power', 'GetValue');
    assert.equal(v.signature, 'v');
    assert.deepEqual(v.body[0], new Variant('i', -300));
    const t = await client.call(NAME, '/Dc/0/Power', 'GetText');
    assert.equal(t.signature, 's');
    assert.equal(t.body[0], '-300W');
    const d = await client.call(NAME, '/CustomName', 'GetDescription', 'si', ['en', 0]);
    assert.deepEqual([d.signature, d.body[0]], ['s', 'User name']);
    const nd = await client.call(NAME, '/Soc', 'GetDescription', 'si', ['en', 0]);
    assert.equal(nd.body[0], 'No description given');
  });

  it('rejects wrong signatures, unknown members and unknown paths with D-Bus errors', async () => {
    await assert.rejects(client.call(NAME, '/Soc', 'GetValue', 's', ['x']), { type: 'org.freedesktop.DBus.Error.InvalidArgs' });
    await assert.rejects(client.call(NAME, '/Soc', 'GetDescription'), { type: 'org.freedesktop.DBus.Error.InvalidArgs' });
    await assert.rejects(client.call(NAME, '/Soc', 'GetItems'), { type: 'org.freedesktop.DBus.Error.UnknownMethod' });
    await assert.rejects(client.call(NAME, '/Dc', 'SetValue', 'v', [new Variant('i', 1)]), {
      type: 'org.freedesktop.DBus.Error.UnknownMethod',
    });
    await assert.rejects(client.call(NAME, '/No/Such', 'GetValue'), { type: 'org.freedesktop.DBus.Error.UnknownMethod' });
  });

  it('introspects well enough for a dbus-next proxy', async () => {
    const root = await client.bus.getProxyObject(NAME, '/');
    assert.ok(root.interfaces[IFACE]);
    // (dbus-next's proxy drops the children of '/' itself: it joins them as '//Dc'.)
    const dc = await client.bus.getProxyObject(NAME, '/Dc');
    assert.deepEqual(dc.nodes, ['/Dc/0']);
    const dc0 = await client.bus.getProxyObject(NAME, '/Dc/0');
    assert.deepEqual(dc0.nodes, ['/Dc/0/Voltage', '/Dc/0/Current', '/Dc/0/Power']);
    const leaf = await client.bus.getProxyObject(NAME, '/Soc');
    const value = (await leaf.getInterface(IFACE)['GetValue']!()) as Variant;
    assert.deepEqual(value, new Variant('y', 63));
  });
});

describe('apply → ItemsChanged', () => {
  it('emits ONE ItemsChanged on / with only the changed paths', async () => {
    const since = client.received('ItemsChanged').length;
    const frame: Frame = new Map([
      ['/Dc/0/Voltage', { value: 52.1, text: '52.10V' }], // unchanged
      ['/Dc/0/Current', { value: 12.5, text: '12.5A' }],
      ['/Soc', { value: 64, text: '64%' }],
    ]);
    assert.equal(svc.apply(frame), 2);
    await waitFor(() => itemsChanged(since).length >= 1, 'ItemsChanged');
    await sleep(50);
    const got = itemsChanged(since);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.path, '/');
    assert.equal(got[0]!.signature, 'a{sa{sv}}');
    assert.deepEqual(got[0]!.body[0], {
      '/Dc/0/Current': { Value: new Variant('d', 12.5), Text: new Variant('s', '12.5A') },
      '/Soc': { Value: new Variant('y', 64), Text: new Variant('s', '64%') },
    });
    assert.deepEqual(svc.get('/Soc'), { value: 64, text: '64%' });
  });

  it('emits nothing when nothing changed', async () => {
    const since = client.received('ItemsChanged').length;
    const n = await applyAndSettle([
      ['/Soc', { value: 64, text: '64%' }],
      ['/No/Such/Path', { value: 1, text: '1' }],
    ]);
    assert.equal(n, 0);
    const got = itemsChanged(since);
    assert.equal(got.length, 1, 'only the marker');
    assert.deepEqual(Object.keys(got[0]!.body[0]), ['/Mode']);
  });

  it('holds `later` changes back: readable at once, signalled with the next change, or by `all`', async () => {
    const since = client.received('ItemsChanged').length;
    assert.equal(svc.apply([['/History/Counter', { value: 43, text: '43' }]], 'later'), 1);
    const value = (await client.call(NAME, '/History/Counter', 'GetValue')).body[0] as Variant;
    assert.equal(value.value, 43n, 'a client reading the path sees the new value');
    // The marker is the next change: the held path goes with it, in the same ItemsChanged.
    await applyAndSettle([]);
    let got = itemsChanged(since);
    assert.equal(got.length, 1, 'no signal of its own');
    assert.deepEqual(Object.keys(got[0]!.body[0]).sort(), ['/History/Counter', '/Mode']);
    // `all` sends what is held even when it changes nothing itself; with nothing held, nothing.
    const again = client.received('ItemsChanged').length;
    svc.apply([['/History/Counter', { value: 44, text: '44' }]], 'later');
    svc.apply([], 'all');
    svc.apply([], 'all');
    await applyAndSettle([]);
    got = itemsChanged(again);
    assert.deepEqual(
      got.map((m) => Object.keys(m.body[0])),
      [['/History/Counter'], ['/Mode']],
    );
  });

  it('signals a text-only change', async () => {
    const since = client.received('ItemsChanged').length;
    assert.equal(await applyAndSettle([['/Soc', { value: 64, text: '64 %' }]]), 1);
    assert.deepEqual(itemsChanged(since)[0]!.body[0], {
      '/Soc': { Value: new Variant('y', 64), Text: new Variant('s', '64 %') },
    });
  });

  it('coerces to the declared type and invalidates what does not fit', async () => {
    const since = client.received('ItemsChanged').length;
    const n = await applyAndSettle([
      ['/Dc/0/Voltage', { value: 53, text: '53V' }], // integral value stays d
      ['/Dc/0/Power', { value: 12.5, text: '12.5W' }], // non-integer on i → invalid
      ['/Soc', { value: 300, text: '300%' }], // out of range for y → invalid
      ['/TimeToGo', { value: NaN, text: 'NaN' }],
      ['/History/Counter', { value: 7n as unknown as number, text: '7' }], // BigInt normalised
    ]);
    assert.equal(n, 5);
    const body = itemsChanged(since)[0]!.body[0] as ItemsChanged;
    assert.deepEqual(body['/Dc/0/Voltage']!.Value, new Variant('d', 53));
    for (const p of ['/Dc/0/Power', '/Soc', '/TimeToGo']) {
      assert.deepEqual(body[p], { Value: new Variant('ai', []), Text: new Variant('s', '---') }, p);
    }
    assert.deepEqual(body['/History/Counter']!.Value, new Variant('t', 7n));
    assert.deepEqual(svc.get('/Soc'), { value: null, text: '---' });
  });

  it('counts a path given twice in one frame once and keeps the last value', async () => {
    const since = client.received('ItemsChanged').length;
    const n = await applyAndSettle([
      ['/Dc/0/Voltage', { value: 50, text: '50V' }],
      ['/Dc/0/Voltage', { value: 51, text: '51V' }],
    ]);
    assert.equal(n, 1);
    assert.deepEqual(itemsChanged(since)[0]!.body[0], {
      '/Dc/0/Voltage': { Value: new Variant('d', 51), Text: new Variant('s', '51V') },
    });
  });

  it('serves changed values from GetItems (cache refreshed)', async () => {
    svc.apply([['/Dc/0/Voltage', { value: 49.5, text: '49.50V' }]]);
    const { items } = await getItems();
    assert.deepEqual(items['/Dc/0/Voltage'], { Value: new Variant('d', 49.5), Text: new Variant('s', '49.50V') });
  });

  it('sends no PropertiesChanged unless configured', () => {
    assert.equal(client.signals.filter((s) => s.member === 'PropertiesChanged' && s.sender === svc.uniqueName).length, 0);
  });
});

describe('propertiesChanged option', () => {
  it('adds one PropertiesChanged(a{sv}) per changed path on the item path', async () => {
    const name = uniqueServiceName('pc');
    const s2 = await startService({ serviceName: name, busAddress: daemon.address, items: batteryItems(), propertiesChanged: true });
    try {
      const since = client.signals.length;
      assert.equal(
        s2.apply([
          ['/Soc', { value: 70, text: '70%' }],
          ['/Dc/0/Current', { value: 1, text: '1A' }],
        ]),
        2,
      );
      const mine = (): Message[] => client.signals.slice(since).filter((m) => m.sender === s2.uniqueName);
      await waitFor(() => mine().length >= 3, 'three signals');
      const pc = mine().filter((m) => m.member === 'PropertiesChanged');
      assert.deepEqual(
        pc.map((m) => m.path),
        ['/Soc', '/Dc/0/Current'],
      );
      assert.equal(pc[0]!.signature, 'a{sv}');
      assert.equal(pc[0]!.interface, IFACE);
      assert.deepEqual(pc[0]!.body[0], { Value: new Variant('y', 70), Text: new Variant('s', '70%') });
      assert.equal(mine().filter((m) => m.member === 'ItemsChanged').length, 1);
    } finally {
      await s2.close();
    }
  });
});
