/** `vbat demo` as a newcomer runs it: a child process, Ctrl-C (SIGINT), nothing left behind. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, spawnCli } from '../support/cli.js';
import { startDbusDaemon, type DbusDaemon } from '../support/dbus-daemon.js';
import { portOpen } from '../support/mosquitto.js';
import type { Proc } from '../support/process.js';
import { bounded } from '../support/wait.js';

const demos: Proc[] = [];
function startDemo(args: string[] = [], env: NodeJS.ProcessEnv = {}): Proc {
  const d = spawnCli(['demo', ...args], { env });
  demos.push(d);
  return d;
}

after(async () => {
  await Promise.all(demos.map((d) => d.stop()));
});

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('vbat demo', () => {
  test('shows a connected battery within seconds; SIGINT cleans up everything and exits 0', async () => {
    const d = startDemo();
    const [, port] = await d.waitOut(/MQTT\s+mqtt:\/\/127\.0\.0\.1:(\d+)/);
    const [, socket, pid] = await d.waitOut(/D-Bus\s+unix:path=(\S+) \(private dbus-daemon, pid (\d+)\)/);
    const dir = dirname(socket!);
    assert.ok(existsSync(dir) && alive(Number(pid)) && (await portOpen(Number(port))), 'demo running');
    const t0 = Date.now();
    const [line] = await d.waitOut(/^.*Connected SoC \d+\.\d% .*$/m, 10_000);
    assert.ok(Date.now() - t0 < 5000, 'connected within a few seconds');
    assert.match(line, /\d+\.\d\dV [+-]?\d+\.\dA [+-]?\d+W .*CVL 55\.20V CCL \d+A DCL \d+A cells 3\.\d{3}-3\.\d{3}V alarms /);

    const t1 = Date.now();
    d.child.kill('SIGINT');
    const code = await bounded(d.exited, 'exit after SIGINT', 4000);
    const ms = Date.now() - t1;
    assert.equal(code, 0, d.err);
    assert.ok(ms < 2000, `exited ${ms} ms after SIGINT`);
    assert.equal(alive(Number(pid)), false, 'dbus-daemon stopped');
    assert.equal(existsSync(dir), false, 'temp dir removed');
    assert.equal(await portOpen(Number(port)), false, 'broker closed');
    assert.doesNotMatch(d.err, /ERROR|internal error/);
  });

  test('--duration stops by itself; --once as soon as the battery shows', async () => {
    const t0 = Date.now();
    const r = await runCli(['demo', '--duration', '1.5'], { timeoutMs: 15_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - t0 < 10_000);
    const once = await runCli(['demo', '--once'], { timeoutMs: 15_000 });
    assert.equal(once.code, 0, once.stderr);
    assert.match(once.stdout, /Connected SoC \d/);
  });

  test('without dbus-daemon: a one-line hint and exit 1', async () => {
    const r = await runCli(['demo'], { env: { PATH: '/nonexistent' }, timeoutMs: 15_000 });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /dbus-daemon not found.*apt-get install dbus/);
  });

  describe('with --bus', () => {
    let bus: DbusDaemon;
    before(async () => {
      bus = await startDbusDaemon();
    });
    after(() => bus?.stop());

    test('exports the demo battery on the given bus, starts no daemon of its own', async () => {
      const d = startDemo(['--bus', bus.address]);
      await d.waitOut(/Connected SoC \d/);
      assert.match(d.out, /\(given with --bus\)/);
      assert.doesNotMatch(d.out, /private dbus-daemon/);
      const json = await runCli(['watch', '--json', '--bus', bus.address]);
      assert.equal(json.code, 0, json.stderr);
      const snap = JSON.parse(json.stdout) as { service: string; items: Record<string, { value: unknown }> };
      assert.equal(snap.service, 'com.victronenergy.battery.vbat_demo');
      assert.equal(snap.items['/Connected']!.value, 1);
      assert.equal(snap.items['/Info/MaxChargeVoltage']!.value, 55.2);
      d.child.kill('SIGTERM');
      assert.equal(await bounded(d.exited, 'exit after SIGTERM', 4000), 0);
      const gone = await runCli(['watch', '--json', '--bus', bus.address]);
      assert.equal(gone.code, 1, 'the service left the bus');
    });
  });
});
