/**
 * TLS end to end: a real mosquitto with a CA and certificates made here with openssl. vbat
 * connects with the right CA, refuses a wrong CA and an expired server certificate, and
 * authenticates with a client certificate when the broker requires one.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { BusClient } from '../support/bus-client.js';
import { startDbusDaemon, type DbusDaemon } from '../support/dbus-daemon.js';
import { startMosquitto, type Broker } from '../support/mosquitto.js';
import { runCli } from '../support/cli.js';
import { fixture } from '../support/paths.js';
import type { Proc } from '../support/process.js';
import { eventually } from '../support/wait.js';
import { startVbat } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'vbat-tls-'));
// mosquitto started as root reads its certificates after dropping to its own user.
chmodSync(dir, 0o755);
const at = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });

function makeCa(name: string): void {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  );
}

/** A certificate for `cn` signed by `ca`, valid from `start` to `end` (openssl ca's YYMMDDHHMMSSZ). */
function makeCert(name: string, ca: string, cn: string, start: string, end: string): void {
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
  writeFileSync(at(`${name}.ext`), `subjectAltName=IP:127.0.0.1\n`);
  writeFileSync(at('index.txt'), '');
  writeFileSync(
    at('ca.cnf'),
    [
      '[ca]',
      'default_ca = local',
      '[local]',
      `dir = ${dir}`,
      'database = $dir/index.txt',
      'new_certs_dir = $dir',
      `certificate = $dir/${ca}.pem`,
      `private_key = $dir/${ca}.key`,
      'default_md = sha256',
      'policy = any',
      'rand_serial = yes',
      'unique_subject = no',
      'copy_extensions = copy',
      '[any]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  openssl(
    'ca',
    '-batch',
    '-config',
    'ca.cnf',
    '-in',
    `${name}.csr`,
    '-out',
    `${name}.pem`,
    '-startdate',
    start,
    '-enddate',
    end,
    '-extfile',
    `${name}.ext`,
    '-notext',
  );
}

describe('TLS to the broker', { concurrency: false }, () => {
  let bus: DbusDaemon;
  const brokers: Broker[] = [];
  const daemons: Proc[] = [];

  before(async () => {
    bus = await startDbusDaemon();
    makeCa('ca');
    makeCa('other-ca');
    const now = new Date();
    const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
    makeCert('server', 'ca', '127.0.0.1', stamp(new Date(now.getTime() - 3600_000)), stamp(new Date(now.getTime() + 86400_000)));
    makeCert('expired', 'ca', '127.0.0.1', '200101000000Z', '200102000000Z');
    makeCert('client', 'ca', 'vbat', stamp(new Date(now.getTime() - 3600_000)), stamp(new Date(now.getTime() + 86400_000)));
    for (const f of readdirSync(dir)) chmodSync(at(f), 0o644); // test keys only
  });
  after(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    await Promise.all(brokers.map((b) => b.stop()));
    await bus?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const broker = async (cert: string, requireClient = false) => {
    const b = await startMosquitto({
      scheme: 'mqtts',
      listener: [
        `cafile ${at('ca.pem')}`,
        `certfile ${at(`${cert}.pem`)}`,
        `keyfile ${at(`${cert}.key`)}`,
        ...(requireClient ? ['require_certificate true'] : []),
      ],
    });
    brokers.push(b);
    return b;
  };

  const vbat = (name: string, b: Broker, mqtt: Record<string, unknown>) => {
    const cfg = at(`${name}.yaml`);
    writeFileSync(cfg, JSON.stringify({ mqtt: { url: b.url, reconnectMax: 2, ...mqtt }, batteries: [{ name, topic: `tls/${name}` }] }));
    const d = startVbat(bus.address, ['--config', cfg]);
    daemons.push(d);
    return d;
  };

  test('connects when the CA signed the broker certificate', async () => {
    const d = vbat('good', await broker('server'), { ca: at('ca.pem') });
    await d.waitLog(/MQTT connected to mqtts:\/\/127\.0\.0\.1/);
    await d.waitLog(/subscribed to tls\/good/);
  });

  test('refuses a broker whose certificate another CA signed', async () => {
    const d = vbat('wrongca', await broker('server'), { ca: at('other-ca.pem') });
    await d.waitLog(/MQTT cannot connect to mqtts:\/\/127\.0\.0\.1:\d+: .*(certificate|self.signed|verify)/i);
    assert.doesNotMatch(d.log, /MQTT connected/);
  });

  test('refuses an expired broker certificate', async () => {
    const d = vbat('expired', await broker('expired'), { ca: at('ca.pem') });
    await d.waitLog(/MQTT cannot connect to .*certificate has expired/i);
    assert.doesNotMatch(d.log, /MQTT connected/);
  });

  test('a client certificate authenticates vbat when the broker requires one', async () => {
    const b = await broker('server', true);
    const without = vbat('nocert', b, { ca: at('ca.pem') });
    const withCert = vbat('cert', b, { ca: at('ca.pem'), cert: at('client.pem'), key: at('client.key') });
    await withCert.waitLog(/subscribed to tls\/cert/);
    await without.waitLog(/MQTT cannot connect/);
    assert.doesNotMatch(without.log, /MQTT connected/);
  });

  test('a password with @, : and / in the broker URL connects, and never reaches the log', async () => {
    writeFileSync(at('passwd'), '');
    execFileSync('mosquitto_passwd', ['-b', at('passwd'), 'vbat', 'P@ss:w0rd/x']);
    chmodSync(at('passwd'), 0o644);
    const b = await startMosquitto({ listener: ['allow_anonymous false', `password_file ${at('passwd')}`] });
    brokers.push(b);
    const url = b.url.replace('mqtt://', 'mqtt://vbat:P@ss:w0rd/x@');
    const d = vbat('password', { url } as Broker, {});
    await d.waitLog(/subscribed to tls\/password/);
    for (const part of ['P@ss', 'w0rd', 'ss:w0rd']) assert.ok(!d.log.includes(part), `the log shows "${part}"`);
    const wrong = vbat('wrongpw', { url: b.url.replace('mqtt://', 'mqtt://vbat:nope@') } as Broker, { reconnectMax: 1 });
    await wrong.waitLog(/MQTT cannot connect/);
    assert.doesNotMatch(wrong.log, /MQTT connected/, 'a wrong password is refused, so the right one is what connected');
  });

  test("a config imported from the seed's config.ini (TLS, its CA, user and password) connects and exports the battery", async () => {
    writeFileSync(at('seed-passwd'), '');
    execFileSync('mosquitto_passwd', ['-b', at('seed-passwd'), 'gx-device', 's3cret%with:colon']);
    chmodSync(at('seed-passwd'), 0o644);
    const b = await startMosquitto({
      scheme: 'mqtts',
      listener: [
        `cafile ${at('ca.pem')}`,
        `certfile ${at('server.pem')}`,
        `keyfile ${at('server.key')}`,
        'allow_anonymous false',
        `password_file ${at('seed-passwd')}`,
      ],
    });
    brokers.push(b);
    const ini = readFileSync(fixture('seed', 'config-tls.ini'), 'utf8')
      .replace('broker.home.lan', '127.0.0.1')
      .replace('8883', String(b.port))
      .replace('/data/keys/mosquitto.crt', at('ca.pem'));
    writeFileSync(at('seed.ini'), ini);
    const imported = await runCli(['import-seed-config', at('seed.ini'), '-o', at('seed.yaml')]);
    assert.equal(imported.code, 0, imported.stderr);
    const d = startVbat(bus.address, ['--config', at('seed.yaml')]);
    daemons.push(d);
    await d.waitLog(/subscribed to home\/shed\/bms/);
    const pub = await mqtt.connectAsync(b.url, { ca: readFileSync(at('ca.pem')), username: 'gx-device', password: 's3cret%with:colon' });
    try {
      await pub.publishAsync('home/shed/bms', readFileSync(fixture('seed', 'seed-full.json'), 'utf8'));
      const reader = await BusClient.connect(bus.address);
      const value = (path: string) => reader.value('com.victronenergy.battery.vbat_shed_battery_2', path);
      try {
        await eventually(async () => (await value('/Connected').catch(() => 0)) === 1, 'the imported battery connected');
        assert.equal(await value('/CustomName'), 'Shed Battery 2');
        assert.equal(await value('/DeviceInstance'), 101);
        assert.equal(await value('/Dc/0/Voltage'), 52.7);
      } finally {
        reader.close();
      }
    } finally {
      await pub.endAsync();
    }
  });

  test('insecure: connects without checking, and says so', async () => {
    const d = vbat('insecure', await broker('server'), { insecure: true });
    await d.waitLog(/WARN .*mqtt\.insecure: the broker's TLS certificate is not checked/);
    await d.waitLog(/MQTT connected/);
  });
});
