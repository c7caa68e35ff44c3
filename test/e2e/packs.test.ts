/**
 * Two packs as one battery end to end: a real mosquitto and dbus-daemon, vbat as its own process
 * with a config declaring the packs, the shipped mappings/packs-json.yaml and its capture.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fixture, mappingFile } from '../support/paths.js';
import { World } from './harness.js';

const SVC = 'com.victronenergy.battery.vbat_packs';
const capture = JSON.parse(readFileSync(fixture('foreign', 'packs', 'two-packs.json'), 'utf8')) as Record<string, string>;

describe('packs end to end', { concurrency: false }, () => {
  const w = new World();
  const dir = mkdtempSync(join(tmpdir(), 'vbat-packs-'));
  before(() => w.start());
  after(async () => {
    await w.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('two packs aggregated; one stale: dropped, limits of the other, NrOfModulesOffline 1; both stale: /Connected 0', async () => {
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      [
        `mqtt: {url: "${w.broker.url}"}`,
        'batteries:',
        '  - name: packs',
        `    mapping: ${mappingFile('packs-json.yaml')}`,
        '    timeout: 30',
        '    packs:',
        '      - {topic: e2e/pack1, timeout: 2}',
        '      - {topic: e2e/pack2, timeout: 2}',
        '',
      ].join('\n'),
    );
    const d = w.vbat(['--config', config]);
    await d.waitLog(/subscribed to/);
    const p1 = capture['house/pack1']!;
    const p2 = capture['house/pack2']!;
    await w.publish('e2e/pack1', p1);
    await w.publish('e2e/pack2', p2);
    const all = await w.until(SVC, (i) => i['/Info/MaxChargeCurrent']!.value === 110, 'both packs aggregated');
    assert.equal(all['/Connected']!.value, 1);
    assert.equal(all['/Soc']!.value, 74);
    assert.equal(all['/Info/MaxChargeVoltage']!.value, 55);
    assert.equal(all['/System/MinVoltageCellId']!.value, 'P2/C7');
    assert.equal(all['/System/NrOfModulesOnline']!.value, 2);
    assert.equal(all['/System/NrOfModulesOffline']!.value, 0);
    // Pack 2 falls silent; pack 1 goes on.
    const t0 = Date.now();
    let one: Awaited<ReturnType<World['items']>> | undefined;
    while (!one && Date.now() - t0 < 6000) {
      await w.publish('e2e/pack1', p1);
      const items = await w.items(SVC);
      if (items['/System/NrOfModulesOffline']!.value === 1) one = items;
      else await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(one, `pack 2 went stale; log:\n${d.log}`);
    assert.equal(one['/Connected']!.value, 1);
    assert.equal(one['/Info/MaxChargeCurrent']!.value, 70, "pack 1's limit only");
    assert.equal(one['/Info/MaxDischargeCurrent']!.value, 100);
    assert.equal(one['/Info/MaxChargeVoltage']!.value, 55.2);
    assert.equal(one['/Soc']!.value, 70);
    assert.equal(one['/System/NrOfModulesOnline']!.value, 1);
    assert.equal(one['/System/MinVoltageCellId']!.value, 'P1/C7');
    await d.waitLog(/pack P2: its data is dropped/);
    // Both silent: stale.
    const none = await w.until(SVC, (i) => i['/Connected']!.value === 0, 'both packs stale', 5000);
    for (const p of ['/Info/MaxChargeVoltage', '/Info/MaxChargeCurrent', '/Info/MaxDischargeCurrent', '/Soc'])
      assert.equal(none[p]!.value, null, `${p} invalid`);
    assert.doesNotMatch(d.log, /key collision/);
    await d.stop();
  });
});
