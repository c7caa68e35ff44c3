/**
 * The release tarball (`npm run package`): its contents, and the bundled vbat.js running on
 * nothing but Node — `vbat check`, `vbat run --help`, and the installed service/run exporting a
 * battery on a private D-Bus from a private MQTT broker.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LOG_WAIT_MS, World } from '../e2e/harness.js';
import { fixture, repoRoot } from '../support/paths.js';
import { Proc } from '../support/process.js';
import { buildRelease, cleanEnv, nodeModulesAbove, runCommand, VERSION, type Release } from './release.js';

let rel: Release;
let vbatDir: string;
before(() => {
  rel = buildRelease('bundle');
  vbatDir = join(rel.unpacked, 'vbat');
});
after(() => rel?.remove());

const node = (args: string[], cwd: string) => runCommand(process.execPath, args, { cwd });

test('npm run package writes vbat-<version>.tar.gz holding the bundle, data, sample config, service and scripts', () => {
  assert.match(rel.buildOutput, new RegExp(`vbat-${VERSION.replace(/\./g, '\\.')}\\.tar\\.gz: \\d+ KiB`));
  const files = (dir: string) =>
    readdirSync(join(repoRoot, dir))
      .sort()
      .map((f) => `${dir}/${f}`);
  const expected = [
    'vbat.js',
    'VERSION',
    'README.md',
    'THIRD-PARTY-NOTICES.txt',
    'config.sample.yaml',
    'install.sh',
    'uninstall.sh',
    'restart.sh',
    'service/run',
    'service/log/run',
    ...files('mappings'),
    ...files('schemas'),
  ];
  const listed: string[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir)) {
      const st = statSync(join(dir, name));
      if (st.isDirectory()) walk(join(dir, name), `${prefix}${name}/`);
      else listed.push(`${prefix}${name}`);
    }
  };
  assert.deepEqual(readdirSync(rel.unpacked), ['vbat'], 'one top-level folder');
  walk(vbatDir, '');
  assert.deepEqual(listed.sort(), expected.sort());
  for (const f of ['vbat.js', 'install.sh', 'uninstall.sh', 'restart.sh', 'service/run', 'service/log/run']) {
    assert.equal(statSync(join(vbatDir, f)).mode & 0o777, 0o755, `${f} is executable`);
  }
  for (const f of ['config.sample.yaml', 'mappings/default.yaml', 'schemas/mapping.schema.json']) {
    assert.equal(statSync(join(vbatDir, f)).mode & 0o777, 0o644, f);
    assert.deepEqual(readFileSync(join(vbatDir, f)), readFileSync(join(repoRoot, f)), `${f} as in the repository`);
  }
  assert.equal(readFileSync(join(vbatDir, 'VERSION'), 'utf8'), `${VERSION}\n`);
  assert.match(readFileSync(join(vbatDir, 'THIRD-PARTY-NOTICES.txt'), 'utf8'), /^dbus-next \d/m);
});

test('vbat.js is one self-contained CommonJS file: only Node built-ins are required, nothing from the build machine', () => {
  const code = readFileSync(join(vbatDir, 'vbat.js'), 'utf8');
  assert.ok(code.startsWith('#!/usr/bin/env node\n"use strict";\n'), 'a hashbang, then strict mode for the whole file');
  assert.ok(!code.includes(repoRoot), 'no path of the build machine');
  const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
  const required = new Set([...code.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]!));
  // ajv writes require("ajv/dist/runtime/...") into generated standalone code: text, never run.
  const foreign = [...required].filter((m) => !builtins.has(m) && !m.startsWith('ajv/dist/runtime/'));
  assert.deepEqual(foreign, [], 'require() of anything but Node built-ins');
  assert.match(code, /usocket \(native\) is not part of the vbat bundle/, 'usocket is stubbed, so dbus-next uses a plain socket');
  // One non-ASCII character would make V8 hold the 2 MB source as a two-byte string (+2 MB).
  assert.deepEqual(code.match(/[\u0080-\uffff]/g) ?? [], [], 'ASCII only');
});

describe('the bundle runs with no node_modules anywhere above it', () => {
  before(() => assert.deepEqual(nodeModulesAbove(vbatDir), [], `no node_modules may exist above ${vbatDir}`));

  test('vbat check mappings/default.yaml PAYLOAD: exit 0, 169 paths', async () => {
    copyFileSync(fixture('seed', 'seed-full.json'), join(vbatDir, 'seed-full.json'));
    const r = await node(['vbat.js', 'check', 'mappings/default.yaml', 'seed-full.json'], vbatDir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /169 paths, OK/);
    assert.match(r.stdout, /^\/Dc\/0\/Power\s+321\.6\s+d\s+321W\s*$/m);
    assert.match(r.stdout, /169 paths: \d+ valid, \d+ invalid, 3 derived, 0 warnings/);
  });

  test('from another folder too: it finds its schemas beside itself, not in the working folder', async () => {
    const r = await node(
      [join(vbatDir, 'vbat.js'), 'check', '--json', join(vbatDir, 'mappings', 'default.yaml'), fixture('seed', 'seed-min.json')],
      rel.tmp,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { payloads: { paths: unknown[] }[] }).payloads[0]!.paths.length, 169);
  });

  test('vbat run --help', async () => {
    const r = await node(['vbat.js', 'run', '--help'], vbatDir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: vbat run --topic TOPIC .*\n\s+vbat run --config FILE/);
  });

  test('a bad config is refused with its file and key, exit 1', async () => {
    writeFileSync(join(vbatDir, 'bad.yaml'), 'mqtt: {url: "mqtt://127.0.0.1:1"}\nbatteries: []\n');
    const r = await node(['vbat.js', 'run', '--config', 'bad.yaml'], vbatDir);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /bad\.yaml/);
  });
});

describe('the installed service runs the bundle: MQTT in, D-Bus out', { concurrency: false }, () => {
  const w = new World();
  let root: string;
  let daemon: Proc | undefined;
  before(async () => {
    await w.start();
    root = join(rel.tmp, 'device');
    // What install.sh checks of a GX device: the image type and /usr/bin/node.
    mkdirSync(join(root, 'etc/venus'), { recursive: true });
    writeFileSync(join(root, 'etc/venus/image-type'), 'large\n');
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    symlinkSync(process.execPath, join(root, 'usr/bin/node'));
    const inst = await runCommand(join(vbatDir, 'install.sh'), ['--root', root], { cwd: rel.tmp });
    assert.equal(inst.code, 0, inst.stdout + inst.stderr);
  });
  after(async () => {
    await daemon?.stop();
    await w.stop();
    rmSync(`/tmp/vbat-started${join(root, 'data/apps/available/vbat').replace(/\//g, '_')}`, { force: true });
  });

  test('service/run starts /data/apps/available/vbat/vbat.js with config.yaml; SIGTERM stops it with exit 0', async () => {
    const dir = join(root, 'data', 'apps', 'available', 'vbat');
    writeFileSync(
      join(dir, 'config.yaml'),
      [
        `bus: "${w.bus.address}"`,
        `mqtt: {url: "${w.broker.url}"}`,
        'batteries:',
        '  - {name: pkg, topic: pkg/house, instance: 77}',
        '',
      ].join('\n'),
    );
    // Started as supervise does: in the service folder (reached through the /service link).
    daemon = Proc.spawn('service/run', './run', [], { cwd: join(dir, 'service'), env: cleanEnv(), waitMs: LOG_WAIT_MS });
    await daemon.waitLog(new RegExp(`vbat: starting ${dir}/vbat\\.js ${VERSION.replace(/\./g, '\\.')} with \\S+node v\\d+`));
    await daemon.waitLog(/subscribed to/, 15_000);
    await w.publish('pkg/house', readFileSync(fixture('seed', 'seed-full.json'), 'utf8'));
    const items = await w.until('com.victronenergy.battery.vbat_pkg', (i) => i['/Connected']?.value === 1, 'connected');
    assert.deepEqual(items['/Dc/0/Voltage'], { value: 52.7, type: 'd', text: '52.70V' });
    assert.equal(items['/DeviceInstance']!.value, 77);
    assert.equal(items['/FirmwareVersion']!.value, VERSION);
    const stopped = await daemon.stop();
    assert.equal(stopped.code, 0, daemon.log);
    assert.ok(stopped.ms < 2000, `stopped in ${stopped.ms} ms`);
  });
});
