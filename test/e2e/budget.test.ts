/**
 * End to end: one battery's mapping has runaway expressions (a catastrophic regex, a doubling
 * string, an endless loop). Its own paths go invalid with one warning each; the other battery's
 * values reach D-Bus promptly, D-Bus answers within the budget, and vbat keeps running.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sleep } from '../support/wait.js';
import { World } from './harness.js';

const SVC = (name: string) => `com.victronenergy.battery.vbat_${name}`;
const tmp = mkdtempSync(join(tmpdir(), 'vbat-e2e-budget-'));

const RUNAWAY = `name: runaway
input: {format: json}
required: [/Soc]
paths:
  /Soc: {type: d, value: Soc}
  /Dc/0/Voltage: {type: d, value: Dc.Voltage}
  # Backtracks exponentially on 40 x's, and slips past the compile-time check.
  /Info/MaxChargeVoltage: {type: d, value: "$length($match(text, /(x|xx)+y/).match)"}
  # Doubles a string 40 times (this crashed vbat before the budget).
  /Info/MaxChargeCurrent: {type: d, value: "($f := function($s, $n){ $n = 0 ? $s : $f($s & $s, $n - 1)}; $length($f('x', 40)))"}
  # Never ends.
  /Info/MaxDischargeCurrent: {type: d, value: "($f := function($n){ $f($n + 1) }; $f(Soc))"}
`;

describe('expression budget end to end', { concurrency: false }, () => {
  const w = new World();
  before(() => w.start());
  after(async () => {
    await w.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('a runaway mapping invalidates only its own paths and never holds up the other battery or D-Bus', async (t) => {
    writeFileSync(join(tmp, 'runaway.yaml'), RUNAWAY);
    const cfg = join(tmp, 'config.yaml');
    writeFileSync(
      cfg,
      [
        `mqtt: {url: "${w.broker.url}"}`,
        'batteries:',
        '  - {name: runaway, topic: e2e/runaway, instance: 60, mapping: runaway.yaml}',
        '  - {name: good, topic: e2e/good, instance: 61}',
        '',
      ].join('\n'),
    );
    const d = w.vbat(['--config', cfg]);
    await d.waitLog(/runaway: subscribed to/);
    await d.waitLog(/good: subscribed to/);

    // Both batteries get data; the runaway one keeps costing 3 × 100 ms of work per message.
    const text = 'x'.repeat(40);
    await w.publish('e2e/runaway', { Soc: 50, Dc: { Voltage: 52 }, text });
    await w.publish('e2e/good', { Dc: { Power: 1, Voltage: 51 }, Soc: 10 });
    const first = await w.until(SVC('runaway'), (i) => i['/Soc']!.value === 50, 'the runaway battery connected');
    await w.until(SVC('good'), (i) => i['/Soc']!.value === 10, 'the good battery connected');
    for (const p of ['/Info/MaxChargeVoltage', '/Info/MaxChargeCurrent', '/Info/MaxDischargeCurrent']) {
      assert.deepEqual(first[p], { value: null, type: 'ai', text: '---' }, `${p} invalid`);
    }
    assert.deepEqual(first['/Dc/0/Voltage'], { value: 52, type: 'd', text: '52' }, 'the runaway mapping keeps its good paths');

    // Keep the runaway battery busy while the good one publishes and D-Bus is asked.
    let busy = true;
    const feeder = (async () => {
      for (let k = 1; busy; k++) {
        await w.publish('e2e/runaway', { Soc: 50 + (k % 40), Dc: { Voltage: 52 }, text });
        await sleep(50);
      }
    })();
    const rtts: number[] = [];
    let asking = true;
    const asker = (async () => {
      while (asking) {
        const t = Date.now();
        await w.item(SVC('good'), '/Soc');
        await w.item(SVC('runaway'), '/Dc/0/Voltage');
        rtts.push((Date.now() - t) / 2);
        await sleep(5);
      }
    })();
    await sleep(300);
    const latencies: number[] = [];
    for (let soc = 11; soc <= 20; soc++) {
      const t = Date.now();
      await w.publish('e2e/good', { Dc: { Power: soc, Voltage: 51 }, Soc: soc });
      await w.until(SVC('good'), (i) => i['/Soc']!.value === soc, `good Soc ${soc}`, 3000);
      latencies.push(Date.now() - t);
      await sleep(100);
    }
    asking = false;
    busy = false;
    await Promise.all([asker, feeder]);

    const runawayItems = await w.items(SVC('runaway'));
    t.diagnostic(
      `good battery publish→D-Bus ms: ${latencies.join(' ')}; D-Bus round trips: ${rtts.length}, max ${Math.max(...rtts)} ms; runaway messages accepted: ${String(runawayItems['/Vbat/MessagesAccepted']!.value)}`,
    );
    // The poll in `until` adds up to 30 ms and its own GetItems round trips.
    assert.ok(Math.max(...latencies) < 400, `good battery latencies ${latencies.join(', ')} ms`);
    assert.ok(Math.max(...rtts) < 150, `D-Bus round trips up to ${Math.max(...rtts)} ms (of ${rtts.length})`);

    const runaway = runawayItems;
    assert.ok(Number(runaway['/Vbat/MessagesAccepted']!.value) >= 3, 'the runaway battery keeps accepting messages');
    assert.equal(runaway['/Connected']!.value, 1);
    assert.equal(runaway['/Info/MaxChargeCurrent']!.value, null);

    // One warning per path however many messages: rate-limited.
    assert.equal(
      d.count(
        /runaway: \/Info\/MaxChargeVoltage invalid: expression failed: regex \/\(x\|xx\)\+y\/ ran longer than the expression's 100 ms/,
      ),
      1,
      d.log,
    );
    assert.equal(
      d.count(/runaway: \/Info\/MaxChargeCurrent invalid: expression failed: expression made a string of 2,097,152 characters/),
      1,
      d.log,
    );
    assert.equal(
      d.count(
        /runaway: \/Info\/MaxDischargeCurrent invalid: expression failed: expression (ran longer than 100 ms|used more than \d+ MB of memory)/,
      ),
      1,
      d.log,
    );
    assert.doesNotMatch(d.log, /good: .* invalid/);
    assert.equal(d.child.exitCode, null, 'vbat is still running');
    const r = await d.stop();
    assert.equal(r.code, 0);
  });
});
