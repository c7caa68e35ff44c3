/** Remote SetValue: velib's result codes, the onSetValue report, and the change signal. */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Variant } from 'dbus-next';
import { startService, type BusItemService } from '../../src/dbus/index.js';
import type { PathValue } from '../../src/venus/types.js';
import { startDbusDaemon, type DbusDaemon } from '../support/dbus-daemon.js';
import { BusClient, IFACE } from '../support/bus-client.js';
import { sleep, waitFor } from '../support/wait.js';
import { batteryItems, uniqueServiceName } from './helpers.js';

let daemon: DbusDaemon;
let client: BusClient;
let svc: BusItemService;
const NAME = uniqueServiceName('set');
const calls: [string, PathValue][] = [];
const senders: string[] = [];
let verdict: (path: string, value: PathValue) => boolean | void | Promise<boolean | void> = () => undefined;

before(async () => {
  daemon = await startDbusDaemon();
  client = await BusClient.connect(daemon.address);
  await client.addMatch(`type='signal',interface='${IFACE}'`);
  svc = await startService({
    serviceName: NAME,
    busAddress: daemon.address,
    items: batteryItems(),
    onSetValue: (path, value, sender) => {
      calls.push([path, value]);
      senders.push(sender);
      return verdict(path, value);
    },
  });
});

after(async () => {
  await svc?.close();
  client?.close();
  await daemon?.stop();
});

beforeEach(() => {
  calls.length = 0;
  senders.length = 0;
  verdict = () => undefined;
});

async function setValue(path: string, v: Variant): Promise<number> {
  const reply = await client.call(NAME, path, 'SetValue', 'v', [v]);
  assert.equal(reply.signature, 'i');
  return reply.body[0] as number;
}

const changedSignals = (since: number) => client.received('ItemsChanged', '/').slice(since);

describe('SetValue', () => {
  it('returns 1 on a read-only path and changes nothing', async () => {
    const since = client.received('ItemsChanged').length;
    assert.equal(await setValue('/Soc', new Variant('y', 10)), 1);
    assert.equal(await setValue('/ProductName', new Variant('s', 'x')), 1);
    assert.deepEqual(svc.get('/Soc'), { value: 63, text: '63%' });
    assert.deepEqual(calls, []);
    await sleep(30);
    assert.equal(changedSignals(since).length, 0);
  });

  it('returns 1 for a value of the wrong type on a writable path', async () => {
    assert.equal(await setValue('/Info/MaxChargeVoltage', new Variant('s', '56')), 1);
    assert.equal(await setValue('/Mode', new Variant('d', 2.5)), 1);
    assert.equal(await setValue('/CustomName', new Variant('i', 5)), 1);
    assert.equal(await setValue('/Mode', new Variant('ai', [1])), 1);
    assert.deepEqual(calls, []);
  });

  it('accepts a fitting value: reply 0, reported, stored with its text, signalled', async () => {
    const since = client.received('ItemsChanged').length;
    assert.equal(await setValue('/Info/MaxChargeVoltage', new Variant('d', 56.4)), 0);
    assert.deepEqual(calls, [['/Info/MaxChargeVoltage', 56.4]]);
    assert.deepEqual(svc.get('/Info/MaxChargeVoltage'), { value: 56.4, text: '56.4V' });
    await waitFor(() => changedSignals(since).length === 1, 'ItemsChanged');
    assert.deepEqual(changedSignals(since)[0]!.body[0], {
      '/Info/MaxChargeVoltage': { Value: new Variant('d', 56.4), Text: new Variant('s', '56.4V') },
    });
  });

  it('renames through /CustomName', async () => {
    assert.equal(await setValue('/CustomName', new Variant('s', 'Shed battery')), 0);
    assert.deepEqual(svc.get('/CustomName'), { value: 'Shed battery', text: 'Shed battery' });
    const text = await client.call(NAME, '/CustomName', 'GetText');
    assert.equal(text.body[0], 'Shed battery');
  });

  it('converts numeric variants to the path type (d 5.0 on an i path stays i)', async () => {
    assert.equal(await setValue('/Mode', new Variant('d', 5)), 0);
    const v = await client.call(NAME, '/Mode', 'GetValue');
    assert.deepEqual(v.body[0], new Variant('i', 5));
    assert.equal(await setValue('/Mode', new Variant('x', 252n)), 0);
    assert.deepEqual(svc.get('/Mode'), { value: 252, text: '252' });
  });

  it('returns 0 without calling back or signalling when the value is unchanged', async () => {
    await setValue('/Mode', new Variant('i', 3));
    calls.length = 0;
    const since = client.received('ItemsChanged').length;
    assert.equal(await setValue('/Mode', new Variant('i', 3)), 0);
    assert.deepEqual(calls, []);
    await sleep(30);
    assert.equal(changedSignals(since).length, 0);
  });

  it('returns 2 when onSetValue refuses (false or throw) and keeps the old value', async () => {
    verdict = () => false;
    assert.equal(await setValue('/Mode', new Variant('i', 9)), 2);
    verdict = () => {
      throw new Error('boom');
    };
    assert.equal(await setValue('/Mode', new Variant('i', 9)), 2);
    assert.equal(svc.get('/Mode')!.value, 3);
    assert.equal(calls.length, 2);
  });

  it("passes the caller's unique bus name, and waits for an asynchronous verdict before replying", async () => {
    let release!: (v: boolean) => void;
    verdict = () => new Promise<boolean>((r) => (release = r));
    const reply = setValue('/Mode', new Variant('i', 7));
    await waitFor(() => calls.length === 1, 'onSetValue');
    assert.deepEqual(senders, [client.name]);
    assert.notEqual(svc.get('/Mode')!.value, 7, 'not stored before the verdict');
    release(true);
    assert.equal(await reply, 0);
    assert.equal(svc.get('/Mode')!.value, 7);
    verdict = async () => false;
    assert.equal(await setValue('/Mode', new Variant('i', 8)), 2);
    verdict = () => Promise.reject(new Error('broker gone'));
    assert.equal(await setValue('/Mode', new Variant('i', 8)), 2);
    assert.equal(svc.get('/Mode')!.value, 7);
  });

  it('invalidates with an empty array (any element type)', async () => {
    assert.equal(await setValue('/Info/MaxChargeVoltage', new Variant('ai', [])), 0);
    assert.deepEqual(calls, [['/Info/MaxChargeVoltage', null]]);
    assert.deepEqual(svc.get('/Info/MaxChargeVoltage'), { value: null, text: '---' });
    const v = await client.call(NAME, '/Info/MaxChargeVoltage', 'GetValue');
    assert.deepEqual(v.body[0], new Variant('ai', []));
    assert.equal(await setValue('/Info/MaxChargeVoltage', new Variant('au', [])), 0, 'already invalid');
    assert.equal(await setValue('/Info/MaxChargeVoltage', new Variant('d', 55)), 0);
  });

  it('accepts a bare basic-typed argument like velib, refuses other signatures', async () => {
    const r = await client.call(NAME, '/Mode', 'SetValue', 'i', [4]);
    assert.equal(r.body[0], 0);
    assert.equal(svc.get('/Mode')!.value, 4);
    await assert.rejects(client.call(NAME, '/Mode', 'SetValue', 'ii', [1, 2]), {
      type: 'org.freedesktop.DBus.Error.InvalidArgs',
    });
    await assert.rejects(client.call(NAME, '/Mode', 'SetValue'), { type: 'org.freedesktop.DBus.Error.InvalidArgs' });
  });
});
