/**
 * The seed's config.ini → a vbat config, read as the seed's configparser reads it: the sample
 * config.ini (every key of the seed's), an owner's with TLS, user and password, and what the
 * seed itself would refuse or ignore.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { FileProblemsError, formatProblem } from '../../src/errors.js';
import { iniValue, parseIni } from '../../src/seed/ini.js';
import { batteryName, importSeedConfig } from '../../src/seed/index.js';
import { fixture } from '../support/paths.js';

const sample = readFileSync(fixture('seed', 'config.sample.ini'), 'utf8');
const tls = readFileSync(fixture('seed', 'config-tls.ini'), 'utf8');

function refused(text: string): string[] {
  try {
    importSeedConfig('config.ini', text);
  } catch (err) {
    assert.ok(err instanceof FileProblemsError, String(err));
    return err.problems.map(formatProblem);
  }
  assert.fail('imported');
}

test("the seed's sample config.ini: its values, and the placeholder broker named as not set", () => {
  const r = importSeedConfig('config.sample.ini', sample);
  assert.deepEqual(r.config, {
    logLevel: 'warn',
    mqtt: { url: 'mqtt://IP_ADDR_OR_FQDN:1883' },
    batteries: [
      {
        name: 'mqtt-battery',
        topic: 'enphase/battery',
        instance: 100,
        customName: 'MQTT Battery',
        timeout: 60,
        variables: { ttgEnabled: true, ttgSoc: 10, ttgInterval: 300 },
      },
    ],
  });
  assert.ok(r.notes.some((n) => /IP_ADDR_OR_FQDN \(line \d+\) is still the sample's placeholder: set mqtt\.url/.test(n)));
  assert.ok(r.notes.some((n) => /the seed exits .*vbat keeps the service, sets \/Connected = 0/.test(n)));
  assert.equal(r.notes.length, 2, r.notes.join('\n'));
});

test('TLS with a CA, user and password (a %% in it), instance, name, timeout and TimeToGo', () => {
  const r = importSeedConfig('config.ini', tls);
  assert.deepEqual(r.config, {
    logLevel: 'info',
    mqtt: { url: 'mqtts://broker.home.lan:8883', ca: '/data/keys/mosquitto.crt', username: 'gx-device', password: 's3cret%with:colon' },
    batteries: [
      {
        name: 'shed-battery-2',
        topic: 'home/shed/bms',
        instance: 101,
        customName: 'Shed Battery 2',
        timeout: 120,
        variables: { ttgEnabled: true, ttgSoc: 20, ttgInterval: 60 },
      },
    ],
  });
});

describe('what the seed does with each key, vbat does, or says why not', () => {
  const base = (mqtt: string, extra = '') =>
    `[DEFAULT]\n${extra}\n[MQTT]\nbroker_address = 192.168.1.5\nbroker_port = 1883\ntopic = bms\n${mqtt}\n`;

  test('tls_insecure is not carried over: the seed skips only the host name check, vbat has no half-check', () => {
    const r = importSeedConfig('c.ini', base('tls_enabled = 1\ntls_insecure = 1'));
    assert.equal(r.config.mqtt.url, 'mqtts://192.168.1.5:1883');
    assert.equal((r.config.mqtt as Record<string, unknown>).insecure, undefined, 'never weaker than the seed');
    assert.ok(r.notes.some((n) => /tls_insecure = 1 \(line \d+\): not carried over/.test(n)));
  });

  test('TLS settings without tls_enabled = 1, and a user without a password, are ignored as the seed ignores them', () => {
    const r = importSeedConfig('c.ini', base('tls_enabled = 0\ntls_path_to_ca = /x.crt\nusername = me'));
    assert.deepEqual(r.config.mqtt, { url: 'mqtt://192.168.1.5:1883' });
    assert.ok(r.notes.some((n) => /tls_path_to_ca \(line \d+\): ignored, as the seed does/.test(n)));
    assert.ok(r.notes.some((n) => /username without a password: ignored/.test(n)));
  });

  test("timeout = 0 (never) becomes vbat's 60 s, said so: a silent battery always goes stale", () => {
    const r = importSeedConfig('c.ini', base('', 'timeout = 0'));
    assert.equal(r.config.batteries[0].timeout, 60);
    assert.ok(r.notes.some((n) => /timeout = 0 \(line 2\): "never time out" is not carried over/.test(n)));
  });

  test('TimeToGo off unless enabled is exactly 1; unknown levels are WARNING; an IPv6 broker gets brackets', () => {
    const r = importSeedConfig('c.ini', base('', 'logging = verbose') + '[TIME_TO_GO]\nenabled = yes\n');
    assert.equal(r.config.batteries[0].variables.ttgEnabled, false);
    assert.equal(r.config.logLevel, 'warn');
    assert.ok(r.notes.some((n) => /logging = verbose .*WARNING/.test(n)));
    const v6 = importSeedConfig('c.ini', base('').replace('192.168.1.5', 'fd00::5'));
    assert.equal(v6.config.mqtt.url, 'mqtt://[fd00::5]:1883');
  });

  test('keys and sections the seed does not know are named, not carried over', () => {
    const r = importSeedConfig('c.ini', base('client_id = x') + '[EXTRA]\nfoo = 1\n');
    assert.ok(r.notes.some((n) => /\[MQTT\] client_id \(line \d+\): not a dbus-mqtt-battery setting, not carried over/.test(n)));
    assert.ok(r.notes.some((n) => /\[EXTRA\] foo .*unknown section/.test(n)));
  });

  test('a missing broker_port, device_name or device_instance: the defaults, said so', () => {
    const r = importSeedConfig('c.ini', '[MQTT]\nbroker_address = h\ntopic = t\ntls_enabled = 1\n');
    assert.equal(r.config.mqtt.url, 'mqtts://h:8883');
    assert.ok(r.notes.some((n) => /broker_port is missing/.test(n)));
    assert.deepEqual([r.config.batteries[0].customName, r.config.batteries[0].instance], ['MQTT Battery', 100]);
    assert.ok(r.notes.some((n) => /device_name is missing \(the seed stops without it\)/.test(n)));
    assert.ok(r.notes.some((n) => /device_instance is missing/.test(n)));
  });
});

test('a config.ini the seed could not run with is refused with its line', () => {
  assert.deepEqual(refused('[DEFAULT]\ndevice_name = x\n'), ['config.ini: no [MQTT] section: there is no broker to import']);
  assert.deepEqual(refused('[MQTT]\nbroker_address = h\n'), ['config.ini: [MQTT] topic: missing: there is no topic to import']);
  assert.deepEqual(refused('[DEFAULT]\ndevice_instance = one\n[MQTT]\nbroker_address = h\ntopic = t\n'), [
    'config.ini:2: [DEFAULT] device_instance: "one" is not a whole number (the seed stops on it)',
  ]);
  assert.deepEqual(refused('[MQTT]\nbroker_address = h\ntopic = t\npassword = 100%\nusername = u\n'), [
    'config.ini:4: [MQTT] password: "%" cannot be interpolated (configparser fails; write a % as %%)',
  ]);
  assert.deepEqual(refused('broker_address = h\n[MQTT]\ntopic = t\nbroker_address = h\ntopic = u\n'), [
    'config.ini:1: a setting before the first [SECTION] (configparser refuses the file)',
    'config.ini:5: [MQTT] topic: set twice (configparser refuses the file)',
  ]);
});

test('the INI reader: comments, = or :, case-insensitive keys, continuation lines, [DEFAULT] showing through, %(key)s', () => {
  const { ini, problems } = parseIni(
    'x.ini',
    '[DEFAULT]\nHost = h\n[A]\n# c\n  ; c\nurl: mqtt://%(host)s:1\nlong = one\n  two\nsemi = a ; b\n',
  );
  assert.deepEqual(problems, []);
  const v = (k: string) => iniValue(ini, 'A', k, (p) => assert.fail(p.reason))?.value;
  assert.equal(v('url'), 'mqtt://h:1');
  assert.equal(v('host'), 'h');
  assert.equal(v('long'), 'one\ntwo');
  assert.equal(v('semi'), 'a ; b', 'configparser keeps an inline ; as part of the value');
  assert.equal(v('absent'), undefined);
});

test('battery names from device names', () => {
  assert.equal(batteryName('MQTT Battery'), 'mqtt-battery');
  assert.equal(batteryName('  Büro / Akku #1 '), 'b-ro-akku-1');
  assert.equal(batteryName('!!!'), 'battery');
});
