/**
 * `vbat import-seed-config` as a user runs it: the seed's sample config.ini and an owner's with
 * TLS, user and password become a config file that vbat's own loader (what `vbat run` uses)
 * accepts with the same settings; what is not carried over is said; nothing is overwritten
 * without --force.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { runCli } from '../support/cli.js';
import { fixture, mappingFile } from '../support/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'vbat-import-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the seed's sample config.ini → a config vbat's loader accepts, with its settings; the notes on stderr and in the file", async () => {
  const out = join(dir, 'sample.yaml');
  const r = await runCli(['import-seed-config', fixture('seed', 'config.sample.ini'), '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(
    r.stderr,
    /^imported .*config\.sample\.ini: broker mqtt:\/\/IP_ADDR_OR_FQDN:1883, topic enphase\/battery, instance 100, name "MQTT Battery", timeout 60 s, TimeToGo to 10 % every 300 s\n/,
  );
  assert.match(
    r.stderr,
    /not carried over, or different in vbat:\n {2}- timeout: after 60 s without a message the seed exits[^]*\n {2}- broker_address = IP_ADDR_OR_FQDN/,
  );
  assert.match(r.stderr, /wrote .*sample\.yaml\n$/);
  assert.equal(statSync(out).mode & 0o777, 0o600);
  const text = readFileSync(out, 'utf8');
  assert.match(text, /^# - broker_address = IP_ADDR_OR_FQDN \(line \d+\) is still the sample's placeholder/m);

  const c = loadConfig(out);
  assert.equal(c.logLevel, 'warn');
  assert.equal(c.mqtt.url, 'mqtt://IP_ADDR_OR_FQDN:1883');
  const b = c.batteries[0]!;
  assert.deepEqual(
    { name: b.name, topics: b.sources.map((s) => s.topic), instance: b.instance, customName: b.customName, timeout: b.timeout },
    { name: 'mqtt-battery', topics: ['enphase/battery'], instance: 100, customName: 'MQTT Battery', timeout: 60 },
  );
  assert.equal(b.mappingFile, mappingFile('default.yaml'), "the seed's JSON: the default mapping");
  assert.deepEqual(b.variables, { ttgEnabled: true, ttgSoc: 10, ttgInterval: 300 });
});

test('TLS, CA, user and password: carried over and loaded; a CA missing here is named as what vbat run would refuse', async () => {
  const ini = readFileSync(fixture('seed', 'config-tls.ini'), 'utf8');
  // As on the device: the CA is not on this machine, so vbat run would refuse the config.
  const missing = await runCli(['import-seed-config', fixture('seed', 'config-tls.ini')]);
  assert.equal(missing.code, 0, missing.stderr);
  assert.match(
    missing.stderr,
    /vbat run will refuse it until this is fixed: the config:\d+: mqtt › ca: cannot read \/data\/keys\/mosquitto\.crt: ENOENT/,
  );
  assert.match(missing.stdout, /^# This file holds the MQTT password/m);

  const ca = join(dir, 'ca.pem');
  writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n');
  writeFileSync(join(dir, 'tls.ini'), ini.replace('/data/keys/mosquitto.crt', ca));
  const out = join(dir, 'tls.yaml');
  const r = await runCli(['import-seed-config', join(dir, 'tls.ini'), '--output', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /broker mqtts:\/\/broker\.home\.lan:8883 \(CA .*ca\.pem\), user gx-device with password, topic home\/shed\/bms, instance 101, name "Shed Battery 2", timeout 120 s, TimeToGo to 20 % every 60 s/,
  );
  assert.doesNotMatch(r.stderr, /s3cret/, 'the password is not printed');
  assert.doesNotMatch(r.stderr, /refuse/);
  const c = loadConfig(out);
  assert.equal(c.logLevel, 'info');
  assert.equal(c.mqtt.url, 'mqtts://broker.home.lan:8883');
  assert.equal(c.mqtt.ca, ca);
  assert.equal(c.mqtt.username, 'gx-device');
  assert.equal(c.mqtt.password, 's3cret%with:colon');
  assert.equal(c.mqtt.insecure, false);
  const b = c.batteries[0]!;
  assert.deepEqual(
    [b.name, b.sources[0]!.topic, b.instance, b.customName, b.timeout],
    ['shed-battery-2', 'home/shed/bms', 101, 'Shed Battery 2', 120],
  );
  assert.deepEqual(b.variables, { ttgEnabled: true, ttgSoc: 20, ttgInterval: 60 });
});

test('an existing FILE is kept unless --force; a config.ini the seed cannot run with: exit 1 with its line; no ini: usage', async () => {
  const out = join(dir, 'kept.yaml');
  writeFileSync(out, '# mine\n');
  const kept = await runCli(['import-seed-config', fixture('seed', 'config.sample.ini'), '-o', out]);
  assert.equal(kept.code, 1);
  assert.match(kept.stderr, /kept\.yaml: exists: give --force to replace it/);
  assert.equal(readFileSync(out, 'utf8'), '# mine\n');
  const forced = await runCli(['import-seed-config', fixture('seed', 'config.sample.ini'), '-o', out, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(readFileSync(out, 'utf8'), /url: mqtt:\/\/IP_ADDR_OR_FQDN:1883/);

  writeFileSync(join(dir, 'bad.ini'), '[MQTT]\nbroker_address = h\nbroker_port = 18 83\ntopic = t\n');
  const bad = await runCli(['import-seed-config', join(dir, 'bad.ini'), '-o', join(dir, 'bad.yaml')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /bad\.ini:3: \[MQTT\] broker_port: "18 83" is not a whole number/);
  assert.ok(!existsSync(join(dir, 'bad.yaml')), 'nothing written');

  const none = await runCli(['import-seed-config']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /give one config\.ini, got 0\nRun "vbat import-seed-config --help"/);
});
