/**
 * The wire format as non-dbus-next clients see it: GLib's gdbus (prints GVariant text with
 * explicit types) and libdbus's dbus-send / dbus-monitor. If our encoder were wrong, the daemon
 * or these tools would reject the messages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startService, type BusItemService } from '../../src/dbus/index.js';
import { startDbusDaemon, type DbusDaemon } from '../support/dbus-daemon.js';
import { IFACE } from '../support/bus-client.js';
import { waitFor } from '../support/wait.js';
import { dbusSend, gdbusCall, Monitor, runTool } from '../support/dbus-tools.js';
import { batteryItems, uniqueServiceName } from './helpers.js';

let daemon: DbusDaemon;
let svc: BusItemService;
const NAME = uniqueServiceName('tools');

before(async () => {
  daemon = await startDbusDaemon();
  svc = await startService({ serviceName: NAME, busAddress: daemon.address, items: batteryItems() });
});

after(async () => {
  await svc?.close();
  await daemon?.stop();
});

const gdbus = (path: string, method: string, ...args: string[]): Promise<string> => gdbusCall(daemon.address, NAME, path, method, ...args);

describe('gdbus (GLib)', () => {
  it('introspects / with the BusItem root interface and child nodes', async () => {
    const r = await runTool('gdbus', ['introspect', '--address', daemon.address, '--dest', NAME, '--object-path', '/']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`interface ${IFACE.replaceAll('.', '\\.')} \\{`));
    assert.match(r.stdout, /GetItems\(out a\{sa\{sv\}\} items\);/);
    assert.match(r.stdout, /GetValue\(out v value\);/);
    assert.match(r.stdout, /GetText\(out v text\);/);
    assert.match(r.stdout, /ItemsChanged\(a\{sa\{sv\}\} changes\);/);
    for (const child of ['Mgmt', 'Dc', 'DeviceInstance', 'Soc', 'Info']) assert.match(r.stdout, new RegExp(`node ${child} \\{`));
  });

  it('introspects a leaf with SetValue(v) → i and the PropertiesChanged(a{sv}) signal', async () => {
    const r = await runTool('gdbus', ['introspect', '--address', daemon.address, '--dest', NAME, '--object-path', '/Dc/0/Voltage']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /SetValue\(in {2}v newvalue,\s+out i result\);/);
    assert.match(r.stdout, /GetText\(out s text\);/);
    assert.match(r.stdout, /GetDescription\(in {2}s language,\s+in {2}i length,\s+out s description\);/);
    assert.match(r.stdout, /PropertiesChanged\(a\{sv\} changes\);/);
  });

  it('recursive introspection reaches every item', async () => {
    const r = await runTool('gdbus', ['introspect', '--address', daemon.address, '--dest', NAME, '--object-path', '/', '--recurse']);
    assert.equal(r.code, 0, r.stderr);
    for (const d of batteryItems()) assert.ok(r.stdout.includes(`node ${d.path} {`), d.path);
  });

  it('reads GetItems with the declared type of every path', async () => {
    const out = await gdbus('/', 'GetItems');
    const expected: Record<string, string> = {
      '/Mgmt/ProcessName': "{'Value': <'vbat'>, 'Text': <'vbat'>}",
      '/DeviceInstance': "{'Value': <100>, 'Text': <'100'>}",
      '/ProductId': "{'Value': <65535>, 'Text': <'0xFFFF'>}",
      '/HardwareVersion': "{'Value': <@ai []>, 'Text': <'---'>}",
      '/Dc/0/Voltage': "{'Value': <52.100000000000001>, 'Text': <'52.10V'>}",
      '/Dc/0/Current': "{'Value': <@ai []>, 'Text': <'---'>}",
      '/Dc/0/Power': "{'Value': <-300>, 'Text': <'-300W'>}",
      '/Soc': "{'Value': <byte 0x3f>, 'Text': <'63%'>}",
      '/TimeToGo': "{'Value': <uint16 3600>, 'Text': <'3600'>}",
      '/Alarms/LowVoltage': "{'Value': <uint32 0>, 'Text': <'0'>}",
      '/System/Temp': "{'Value': <int16 -5>, 'Text': <'-5'>}",
      '/History/ChargedEnergy': "{'Value': <int64 123456789012>, 'Text': <'123456789012'>}",
      '/History/Counter': "{'Value': <uint64 42>, 'Text': <'42'>}",
      '/Io/AllowToCharge': "{'Value': <true>, 'Text': <'1'>}",
    };
    assert.ok(out.startsWith("({'/Mgmt/ProcessName': "), out);
    for (const [path, entry] of Object.entries(expected)) assert.ok(out.includes(`'${path}': ${entry}`), `${path} in ${out}`);
  });

  it('reads root GetValue as v(a{sv}) and GetText as v(a{ss}) with relative keys', async () => {
    const v = await gdbus('/', 'GetValue');
    assert.ok(v.startsWith("(<{'Mgmt/ProcessName': <'vbat'>, "), v);
    assert.ok(v.includes("'Dc/0/Voltage': <52.100000000000001>, 'Dc/0/Current': <@ai []>"), v);
    const t = await gdbus('/', 'GetText');
    assert.ok(t.startsWith("(<{'Mgmt/ProcessName': 'vbat', "), t);
    assert.ok(t.includes("'Dc/0/Current': '---'"), t);
    assert.equal(await gdbus('/Dc/0', 'GetText'), "(<{'Voltage': '52.10V', 'Current': '---', 'Power': '-300W'}>,)");
  });

  it('reads leaves: GetValue → v, GetText → s', async () => {
    assert.equal(await gdbus('/Soc', 'GetValue'), '(<byte 0x3f>,)');
    assert.equal(await gdbus('/Dc/0/Current', 'GetValue'), '(<@ai []>,)');
    assert.equal(await gdbus('/Dc/0/Current', 'GetText'), "('---',)");
    assert.equal(await gdbus('/ProductId', 'GetText'), "('0xFFFF',)");
    assert.equal(await gdbus('/CustomName', 'GetDescription', 'en', '0'), "('User name',)");
  });

  it('SetValue returns 0/1 and an empty array invalidates', async () => {
    assert.equal(await gdbus('/Soc', 'SetValue', '<byte 5>'), '(1,)');
    assert.equal(await gdbus('/Mode', 'SetValue', "<'x'>"), '(1,)');
    assert.equal(await gdbus('/Mode', 'SetValue', '<7>'), '(0,)');
    assert.equal(await gdbus('/Mode', 'GetValue'), '(<7>,)');
    assert.equal(await gdbus('/Info/MaxChargeVoltage', 'SetValue', '<@ai []>'), '(0,)');
    assert.equal(await gdbus('/Info/MaxChargeVoltage', 'GetValue'), '(<@ai []>,)');
    assert.equal(await gdbus('/Info/MaxChargeVoltage', 'GetText'), "('---',)");
    assert.equal(await gdbus('/Info/MaxChargeVoltage', 'SetValue', '<55.2>'), '(0,)');
  });
});

describe('dbus-send (libdbus)', () => {
  it('prints typed values and the invalid empty array', async () => {
    const v = await dbusSend(daemon.address, NAME, '/Dc/0/Voltage', 'GetValue');
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^\s+variant\s+double 52\.1$/m);
    const inv = await dbusSend(daemon.address, NAME, '/Dc/0/Current', 'GetValue');
    assert.match(inv.stdout, /variant\s+array \[\s+\]/);
    const soc = await dbusSend(daemon.address, NAME, '/Soc', 'GetValue');
    assert.match(soc.stdout, /variant\s+byte 63/);
    const t = await dbusSend(daemon.address, NAME, '/Dc/0/Current', 'GetText');
    assert.match(t.stdout, /^\s+string "---"$/m);
  });

  it('prints GetItems as array of dict entries {string, array of {string, variant}}', async () => {
    const r = await dbusSend(daemon.address, NAME, '/', 'GetItems');
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /dict entry\(\s+string "\/Dc\/0\/Power"\s+array \[\s+dict entry\(\s+string "Value"\s+variant\s+int32 -300\s+\)\s+dict entry\(\s+string "Text"\s+variant\s+string "-300W"\s+\)\s+\]\s+\)/,
    );
  });

  it('SetValue: variant:int32 → 0, read-only → 1, bare int32 (velib style) → 0', async () => {
    const ok = await dbusSend(daemon.address, NAME, '/Mode', 'SetValue', 'variant:int32:252');
    assert.match(ok.stdout, /int32 0$/m);
    const ro = await dbusSend(daemon.address, NAME, '/Connected', 'SetValue', 'variant:int32:0');
    assert.match(ro.stdout, /int32 1$/m);
    const bare = await dbusSend(daemon.address, NAME, '/Mode', 'SetValue', 'int32:3');
    assert.match(bare.stdout, /int32 0$/m);
    const name = await dbusSend(daemon.address, NAME, '/CustomName', 'SetValue', 'variant:string:Garage');
    assert.match(name.stdout, /int32 0$/m);
    assert.deepEqual(svc.get('/CustomName'), { value: 'Garage', text: 'Garage' });
  });
});

describe('dbus-monitor (libdbus)', () => {
  it('sees one ItemsChanged on / with only the changed paths, and none when nothing changed', async () => {
    const mon = await Monitor.start(daemon.address, `type='signal',interface='${IFACE}'`);
    try {
      svc.apply([
        ['/Dc/0/Voltage', { value: 51.5, text: '51.50V' }],
        ['/Soc', { value: 63, text: '63%' }], // unchanged
        ['/Dc/0/Current', { value: -2, text: '-2.0A' }],
      ]);
      svc.apply([['/Dc/0/Voltage', { value: 51.5, text: '51.50V' }]]); // nothing changed
      svc.apply([['/TimeToGo', { value: null, text: 'ignored' }]]); // marker: proves delivery order
      await waitFor(() => mon.messages('ItemsChanged').length >= 2, 'two ItemsChanged in dbus-monitor');
      const msgs = mon.messages('ItemsChanged');
      assert.equal(msgs.length, 2, mon.text);
      assert.match(
        msgs[0]!,
        new RegExp(
          `sender=${svc.uniqueName.replace('.', '\\.')} .* path=/; interface=${IFACE.replaceAll('.', '\\.')}; member=ItemsChanged`,
        ),
      );
      assert.match(
        msgs[0]!,
        /string "\/Dc\/0\/Voltage"\s+array \[\s+dict entry\(\s+string "Value"\s+variant\s+double 51\.5\s+\)\s+dict entry\(\s+string "Text"\s+variant\s+string "51\.50V"/,
      );
      assert.match(msgs[0]!, /string "\/Dc\/0\/Current"[\s\S]*variant\s+double -2\s/);
      assert.doesNotMatch(msgs[0]!, /"\/Soc"/);
      assert.match(
        msgs[1]!,
        /string "\/TimeToGo"\s+array \[\s+dict entry\(\s+string "Value"\s+variant\s+array \[\s+\]\s+\)\s+dict entry\(\s+string "Text"\s+variant\s+string "---"/,
      );
      assert.equal(mon.messages('PropertiesChanged').length, 0);
    } finally {
      await mon.stop();
    }
  });
});
