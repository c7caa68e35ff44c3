/**
 * The custom encoder must produce exactly the bytes dbus-next's marshaller produces for the same
 * message (same serial), for every message shape the service sends. dbus-next is the reference;
 * the daemon and the gdbus/dbus-send tests then check that those bytes mean what we think.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { Message, Variant } from 'dbus-next';
import type { BusConnection } from '../../src/dbus/connection.js';
import {
  encodeItemEntry,
  writeItemProps,
  writeItemsDict,
  writeTreeTexts,
  writeTreeValues,
  writeValueVariant,
  type EncodableItem,
} from '../../src/dbus/encode.js';
import { MessageSender } from '../../src/dbus/sender.js';
import { toVariant } from '../../src/dbus/values.js';
import { encodeMessage, MsgType, WireWriter } from '../../src/dbus/wire.js';
import { DBUS_TYPES, INVALID_TEXT, type DbusType, type PathValue } from '../../src/venus/types.js';

const require = createRequire(import.meta.url);
const { marshallMessage } = require('dbus-next/lib/marshall-compat.js') as {
  marshallMessage(msg: Message): [Buffer, unknown[]];
};

const IFACE = 'com.victronenergy.BusItem';

/** dbus-next's bytes for a message, with a fixed serial. */
function reference(msg: Message, serial: number): Buffer {
  msg.serial = serial;
  return marshallMessage(msg)[0];
}

/** A MessageSender on a fake connection that records what would be written. */
function capture(): { sender: MessageSender; out: Buffer[]; serial: () => number } {
  const out: Buffer[] = [];
  let serial = 40;
  const conn = {
    nextSerial: () => ++serial,
    write: (b: Buffer) => (out.push(b), true),
  } as unknown as BusConnection;
  return { sender: new MessageSender(conn), out, serial: () => serial };
}

interface TestItem extends EncodableItem {
  path: string;
}

// Deterministic pseudo-random numbers (mulberry32), so a failure is reproducible.
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CHARS = 'abcXYZ019 _./%-é°µ€日本😀';

function randomItem(r: () => number, i: number): TestItem {
  const type = DBUS_TYPES[Math.floor(r() * DBUS_TYPES.length)]!;
  const int = (min: number, max: number): number => min + Math.floor(r() * (max - min + 1));
  const str = (n: number): string => Array.from({ length: n }, () => [...CHARS][int(0, [...CHARS].length - 1)]).join('');
  let value: PathValue;
  switch (type) {
    case 'd':
      value = (r() - 0.5) * 10 ** int(-3, 12);
      break;
    case 'i':
      value = int(-(2 ** 31), 2 ** 31 - 1);
      break;
    case 'u':
      value = int(0, 2 ** 32 - 1);
      break;
    case 'y':
      value = int(0, 255);
      break;
    case 'n':
      value = int(-32768, 32767);
      break;
    case 'q':
      value = int(0, 65535);
      break;
    case 'x':
      value = int(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      break;
    case 't':
      value = int(0, Number.MAX_SAFE_INTEGER);
      break;
    case 'b':
      value = int(0, 1);
      break;
    case 's':
      value = str(int(0, 12));
      break;
  }
  if (r() < 0.2) value = null;
  // Path lengths vary so entries start at every alignment remainder.
  const path = `/P${'x'.repeat(int(0, 9))}/${'Seg_'.slice(0, int(1, 4))}${i}`;
  return { path, type, value, text: value === null ? INVALID_TEXT : str(int(0, 10)) };
}

const dnProps = (it: EncodableItem): Record<string, Variant> => ({
  Value: toVariant(it.type, it.value),
  Text: new Variant('s', it.text),
});

function dnItems(items: TestItem[]): Record<string, Record<string, Variant>> {
  const o: Record<string, Record<string, Variant>> = {};
  for (const it of items) o[it.path] = dnProps(it);
  return o;
}

const scratch = new WireWriter(64); // small on purpose: exercises growth

describe('wire encoder is byte-identical to dbus-next', () => {
  it('ItemsChanged a{sa{sv}} with random items of every type (200 messages)', () => {
    const r = rng(1);
    for (let m = 0; m < 200; m++) {
      const items = Array.from({ length: 1 + Math.floor(r() * 40) }, (_, i) => randomItem(r, i));
      const { sender, out, serial } = capture();
      sender.signal('/', 'ItemsChanged', 'a{sa{sv}}', (w) =>
        writeItemsDict(
          w,
          items.map((it) => encodeItemEntry(scratch, it.path, it)),
        ),
      );
      const ref = reference(Message.newSignal('/', IFACE, 'ItemsChanged', 'a{sa{sv}}', [dnItems(items)]), serial());
      assert.deepEqual(out[0], ref, `message ${m}`);
    }
  });

  it('a large GetItems reply (2000 entries, buffer growth)', () => {
    const r = rng(2);
    const items = Array.from({ length: 2000 }, (_, i) => randomItem(r, i));
    const { sender, out, serial } = capture();
    const call = new Message({ serial: 9, sender: ':1.77', path: '/', member: 'GetItems' });
    sender.reply(call, 'a{sa{sv}}', (w) =>
      writeItemsDict(
        w,
        items.map((it) => encodeItemEntry(scratch, it.path, it)),
      ),
    );
    const ref = reference(Message.newMethodReturn(call, 'a{sa{sv}}', [dnItems(items)]), serial());
    assert.ok(out[0]!.length > 100_000);
    assert.deepEqual(out[0], ref);
  });

  it('PropertiesChanged a{sv} and leaf GetValue v for each type, valid and invalid', () => {
    for (const type of DBUS_TYPES) {
      for (const value of [sample(type), null]) {
        const item: TestItem = { path: '/Dc/0/Voltage', type, value, text: value === null ? '---' : 'some text' };
        const sig = capture();
        sig.sender.signal(item.path, 'PropertiesChanged', 'a{sv}', (w) => writeItemProps(w, item));
        assert.deepEqual(
          sig.out[0],
          reference(Message.newSignal(item.path, IFACE, 'PropertiesChanged', 'a{sv}', [dnProps(item)]), sig.serial()),
          `PropertiesChanged ${type} ${value}`,
        );

        const ret = capture();
        const call = new Message({ serial: 3, sender: ':1.5', path: item.path, member: 'GetValue' });
        ret.sender.reply(call, 'v', (w) => writeValueVariant(w, type, value));
        assert.deepEqual(
          ret.out[0],
          reference(Message.newMethodReturn(call, 'v', [toVariant(type, value)]), ret.serial()),
          `GetValue ${type} ${value}`,
        );
      }
    }
  });

  it('tree GetValue v(a{sv}) and GetText v(a{ss})', () => {
    const r = rng(3);
    const entries = Array.from({ length: 30 }, (_, i) => {
      const item = randomItem(r, i);
      return { key: item.path.slice(1), item };
    });
    const call = new Message({ serial: 11, sender: ':1.9', path: '/', member: 'GetValue' });
    const values: Record<string, Variant> = {};
    const texts: Record<string, string> = {};
    for (const e of entries) {
      values[e.key] = toVariant(e.item.type, e.item.value);
      texts[e.key] = e.item.text;
    }
    const v = capture();
    v.sender.reply(call, 'v', (w) => writeTreeValues(w, entries));
    assert.deepEqual(v.out[0], reference(Message.newMethodReturn(call, 'v', [new Variant('a{sv}', values)]), v.serial()));
    const t = capture();
    t.sender.reply(call, 'v', (w) => writeTreeTexts(w, entries));
    assert.deepEqual(t.out[0], reference(Message.newMethodReturn(call, 'v', [new Variant('a{ss}', texts)]), t.serial()));
  });

  it('scalar replies (GetText s, SetValue i, Introspect s) and error replies', () => {
    const call = new Message({ serial: 2 ** 31 + 5, sender: ':1.1234', path: '/Soc', member: 'GetText' });
    for (const [sig, body, write] of [
      ['s', ['63 %'], (w: WireWriter) => w.string('63 %')],
      ['s', ['<node>ünïcode</node>'], (w: WireWriter) => w.string('<node>ünïcode</node>')],
      ['i', [2], (w: WireWriter) => w.int32(2)],
      ['i', [-1], (w: WireWriter) => w.int32(-1)],
    ] as const) {
      const c = capture();
      c.sender.reply(call, sig, write);
      assert.deepEqual(c.out[0], reference(Message.newMethodReturn(call, sig, [...body]), c.serial()));
    }
    const e = capture();
    e.sender.error(call, 'org.freedesktop.DBus.Error.InvalidArgs', 'bad');
    assert.deepEqual(e.out[0], reference(Message.newError(call as never, 'org.freedesktop.DBus.Error.InvalidArgs', 'bad'), e.serial()));
  });

  it('method calls with and without a body (used by the bench client)', () => {
    const w = new WireWriter(16);
    const hello = {
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'Hello',
    };
    assert.deepEqual(encodeMessage(w, { type: MsgType.MethodCall, serial: 1, ...hello }), reference(new Message(hello), 1));
    const rn = { ...hello, member: 'RequestName', signature: 'su', body: ['com.victronenergy.battery.x', 4] };
    assert.deepEqual(
      encodeMessage(w, { type: MsgType.MethodCall, serial: 2, ...rn }, (w) => {
        w.string('com.victronenergy.battery.x');
        w.uint32(4);
      }),
      reference(new Message(rn), 2),
    );
  });

  it('replies nothing when the caller set NO_REPLY_EXPECTED', () => {
    const c = capture();
    const call = new Message({ serial: 3, sender: ':1.5', path: '/Mode', member: 'SetValue', flags: 1 as never });
    c.sender.reply(call, 'i', (w) => w.int32(0));
    c.sender.error(call, 'org.freedesktop.DBus.Error.Failed', 'x');
    assert.equal(c.out.length, 0);
  });
});

function sample(type: DbusType): PathValue {
  const samples: Record<DbusType, PathValue> = {
    d: 52.1,
    i: -300,
    u: 4000000000,
    y: 200,
    n: -5,
    q: 3600,
    x: -(2 ** 40),
    t: 2 ** 50,
    b: 1,
    s: 'héllo',
  };
  return samples[type];
}
