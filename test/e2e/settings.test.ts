/** Device instance and /CustomName through a settings service on the private bus (contract §5). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Variant } from 'dbus-next';
import { startSettingsService, type FakeSettings } from '../support/settings-service.js';
import { sleep } from '../support/wait.js';
import { World } from './harness.js';

const SVC = 'com.victronenergy.battery.vbat_inst';

describe('settings service', { concurrency: false }, () => {
  const w = new World();
  let settings: FakeSettings;
  before(async () => {
    await w.start();
    // Another device already holds battery:100, so localsettings hands out 101.
    settings = await startSettingsService(w.bus.address, { '/Settings/Devices/other/ClassAndVrmInstance': 'battery:100' });
  });
  after(async () => {
    await settings.stop();
    await w.stop();
  });

  test('the instance comes from ClassAndVrmInstance, bumped to a free one', async () => {
    const d = w.vbat(['--broker', w.broker.url, '--topic', 'e2e/inst', '--name', 'inst', '--instance', '100']);
    await d.waitLog(/exported/);
    assert.equal(settings.values.get('/Settings/Devices/vbat_inst/ClassAndVrmInstance'), 'battery:101');
    assert.equal((await w.item(SVC, '/DeviceInstance')).value, 101);
    assert.match(d.log, /settings service assigned instance 101 \(configured 100\)/);
    await d.stop();
  });

  test('a /CustomName set over D-Bus is stored and survives a restart', async () => {
    let d = w.vbat(['--broker', w.broker.url, '--topic', 'e2e/inst', '--name', 'inst', '--instance', '100']);
    await d.waitLog(/exported/);
    const reply = await w.reader.call(SVC, '/CustomName', 'SetValue', 'v', [new Variant('s', 'Boat bank')]);
    assert.equal(reply.body[0], 0);
    for (let i = 0; i < 100 && settings.values.get('/Settings/Devices/vbat_inst/CustomName') !== 'Boat bank'; i++) await sleep(20);
    assert.equal(settings.values.get('/Settings/Devices/vbat_inst/CustomName'), 'Boat bank');
    await d.stop();
    d = w.vbat(['--broker', w.broker.url, '--topic', 'e2e/inst', '--name', 'inst', '--instance', '100']);
    await d.waitLog(/exported/);
    assert.equal((await w.item(SVC, '/CustomName')).value, 'Boat bank');
    assert.equal((await w.item(SVC, '/DeviceInstance')).value, 101, 'the same instance again');
    await d.stop();
  });

  test('without a settings service the configured instance is used', async () => {
    await settings.stop();
    const d = w.vbat(['--broker', w.broker.url, '--topic', 'e2e/inst', '--name', 'inst', '--instance', '100']);
    await d.waitLog(/exported/);
    assert.equal((await w.item(SVC, '/DeviceInstance')).value, 100);
    assert.match(d.log, /no settings service on the bus: using the configured instance 100/);
    await d.stop();
  });
});
