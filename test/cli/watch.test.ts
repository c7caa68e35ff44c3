/**
 * `vbat watch NAME` when NAME is not on the bus: it says which battery services are there (or
 * that there are none) instead of waiting silently. Its own private dbus-daemon, never the
 * system or session bus.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { notThere } from '../../src/cli/watch.js';
import { startService, type BusItemService } from '../../src/dbus/index.js';
import { batteryItems, uniqueServiceName } from '../dbus/helpers.js';
import { runCli } from '../support/cli.js';
import { startDbusDaemon, type DbusDaemon } from '../support/dbus-daemon.js';

const P = 'com.victronenergy.battery.';

test('notThere: the services found, or that there are none, and the likely one', () => {
  assert.equal(
    notThere(`${P}vbat_hous`, [`${P}vbat_house`, `${P}vbat_shed`], 'unix:path=/x'),
    `${P}vbat_hous is not on unix:path=/x; the battery services there: ${P}vbat_house, ${P}vbat_shed (did you mean vbat_house?)`,
  );
  assert.equal(
    notThere(`${P}house`, [`${P}vbat_house`], 'B'),
    `${P}house is not on B; the battery services there: ${P}vbat_house (did you mean vbat_house?)`,
  );
  assert.equal(notThere(`${P}x`, [], 'B'), `${P}x is not on B; there is no ${P}* service there`);
  assert.equal(
    notThere(`${P}vbat_a`, [`${P}vbat_ab`, `${P}vbat_ac`], 'B'),
    `${P}vbat_a is not on B; the battery services there: ${P}vbat_ab, ${P}vbat_ac`,
    'no guess when two fit',
  );
});

describe('vbat watch NAME that is not on the bus', () => {
  let bus: DbusDaemon;
  const services: BusItemService[] = [];

  before(async () => {
    bus = await startDbusDaemon();
  });
  after(async () => {
    await Promise.all(services.map((s) => s.close()));
    await bus?.stop();
  });

  test('an empty bus: says there is no battery service (--json exits 1; live waits for it)', async () => {
    const [json, live] = await Promise.all([
      runCli(['watch', '--json', '--bus', bus.address, 'vbat_house']),
      runCli(['watch', '--duration', '1', '--bus', bus.address, 'vbat_house']),
    ]);
    assert.equal(json.code, 1);
    assert.equal(json.stdout, '');
    assert.equal(json.stderr, `vbat watch: ${P}vbat_house is not on ${bus.address}; there is no ${P}* service there\n`);
    assert.equal(live.code, 0, live.stderr);
    assert.equal(
      live.stderr,
      `vbat watch: ${P}vbat_house is not on ${bus.address}; there is no ${P}* service there\nvbat watch: waiting for ${P}vbat_house to appear (Ctrl-C to stop)\n`,
    );
    assert.match(live.stdout, /vbat_house is not on the bus/);
  });

  test('other batteries on the bus: lists them, and guesses the one meant', async () => {
    const house = uniqueServiceName('house');
    const shed = uniqueServiceName('shed');
    for (const name of [house, shed])
      services.push(await startService({ serviceName: name, busAddress: bus.address, items: batteryItems() }));
    // Also something that is not a battery: never listed.
    services.push(
      await startService({ serviceName: 'com.victronenergy.solarcharger.t_other', busAddress: bus.address, items: batteryItems() }),
    );
    const typo = house.slice(0, -1) + 'x'; // ..._house_1 → ..._house_x
    const r = await runCli(['watch', '--json', '--bus', bus.address, typo.slice(P.length)]);
    assert.equal(r.code, 1);
    const listed = [house, shed].sort().join(', ');
    assert.equal(r.stderr, `vbat watch: ${typo} is not on ${bus.address}; the battery services there: ${listed}\n`);
    const short = house.slice(P.length).replace(/_\d+$/, ''); // t<pid>_house: part of exactly one name
    const guess = await runCli(['watch', '--json', '--bus', bus.address, short]);
    assert.match(guess.stderr, new RegExp(`the battery services there: .*\\(did you mean ${house.slice(P.length)}\\?\\)\\n$`));
    assert.doesNotMatch(r.stderr + guess.stderr, /solarcharger/);

    // The one that is there is watched as before.
    const ok = await runCli(['watch', '--json', '--bus', bus.address, house.slice(P.length)]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { service: string }).service, house);
  });
});
