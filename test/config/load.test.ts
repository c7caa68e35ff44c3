import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { FileProblemsError, formatProblem } from '../../src/errors.js';
import { mappingFile, repoRoot } from '../support/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'vbat-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const problems = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof FileProblemsError, String(err));
    return err.problems.map(formatProblem);
  }
  assert.fail('accepted');
};

test('config.sample.yaml is valid and gets the schema defaults', () => {
  const c = loadConfig(join(repoRoot, 'config.sample.yaml'));
  assert.equal(c.batteries.length, 1);
  const b = c.batteries[0]!;
  assert.equal(b.serviceName, 'com.victronenergy.battery.vbat_house');
  assert.equal(b.timeout, 60);
  assert.equal(b.mappingFile, mappingFile('default.yaml'));
  assert.deepEqual(b.sources, [{ topic: 'bms/house', timeout: 60, required: true }]);
  assert.equal(c.mqtt.keepalive, 30);
  assert.equal(c.logLevel, 'info');
});

test('the simple case needs no file: flags make one battery', () => {
  const c = loadConfig(undefined, {
    broker: 'mqtt://10.0.0.1:1884',
    topic: 'bms/#',
    instance: 7,
    timeout: 5,
    name: 'garage',
    variables: { ttgSoc: 20 },
  });
  assert.equal(c.mqtt.url, 'mqtt://10.0.0.1:1884');
  assert.deepEqual(
    c.batteries.map((b) => [b.name, b.instance, b.timeout, b.sources[0]!.topic, b.variables.ttgSoc]),
    [['garage', 7, 5, 'bms/#', 20]],
  );
});

test('flags override the file', () => {
  const p = file('one.yaml', 'mqtt: {url: "mqtt://a:1"}\nbatteries:\n  - {name: x, topic: t/1, instance: 3}\n');
  const c = loadConfig(p, { broker: 'mqtt://b:2', topic: 't/2', bus: 'unix:path=/tmp/bus', logLevel: 'debug' });
  assert.equal(c.mqtt.url, 'mqtt://b:2');
  assert.equal(c.batteries[0]!.sources[0]!.topic, 't/2');
  assert.equal(c.batteries[0]!.instance, 3);
  assert.equal(c.bus, 'unix:path=/tmp/bus');
  assert.equal(c.logLevel, 'debug');
});

test('mapping paths are relative to the config file; host/port make a URL', () => {
  const p = file('rel.yaml', 'mqtt: {host: broker.lan, port: 1885}\nbatteries:\n  - {name: x, topic: t, mapping: maps/my.yaml}\n');
  const c = loadConfig(p);
  assert.equal(c.batteries[0]!.mappingFile, join(dir, 'maps', 'my.yaml'));
  assert.equal(c.mqtt.url, 'mqtt://broker.lan:1885');
});

test('passwords come from a file or the environment', () => {
  const pw = file('pw', 's3cret\n');
  assert.equal(loadConfig(file('pwf.yaml', `mqtt: {passwordFile: ${pw}}\nbatteries: [{name: x, topic: t}]\n`)).mqtt.password, 's3cret');
  process.env.VBAT_TEST_PW = 'from-env';
  assert.equal(
    loadConfig(file('pwe.yaml', 'mqtt: {passwordEnv: VBAT_TEST_PW}\nbatteries: [{name: x, topic: t}]\n')).mqtt.password,
    'from-env',
  );
  const p = problems(() => loadConfig(file('pwm.yaml', 'mqtt: {passwordEnv: VBAT_NOT_SET_ANYWHERE}\nbatteries: [{name: x, topic: t}]\n')));
  assert.match(p[0]!, /pwm\.yaml:1: mqtt: passwordEnv: the environment variable VBAT_NOT_SET_ANYWHERE is not set/);
});

test('bad configs are refused with file, line and reason', () => {
  const p = problems(() =>
    loadConfig(
      file(
        'bad.yaml',
        [
          'logLevel: loud',
          'mqtt:',
          '  url: http://x',
          'batteries:',
          '  - name: a',
          '    topic: x/#/y',
          '  - name: a',
          '    topic: t',
          '    instance: -1',
          '',
        ].join('\n'),
      ),
    ),
  );
  const text = p.join('\n');
  assert.match(text, /bad\.yaml:1: logLevel: must be one of "error", "warn", "info", "debug"/);
  assert.match(text, /bad\.yaml:3: mqtt › url: not a broker URL \(it needs a scheme\): write mqtt:\/\/x:1883/);
  assert.doesNotMatch(text, /pattern|\^\(/, 'no regular expression for a person to decode');
  assert.match(text, /bad\.yaml:9: batteries › 1 › instance: must be >= 0/);
});

test('a broker given without its scheme gets the URL to write, and never shows a password', () => {
  for (const [given, want] of [
    ['192.168.1.10', 'mqtt://192.168.1.10:1883'],
    ['broker.local:1884', 'mqtt://broker.local:1884'],
    ['user:s3cret@192.168.1.10', 'mqtt://192.168.1.10:1883'],
  ]) {
    const text = problems(() => loadConfig(undefined, { broker: given, topic: 'bms/x' })).join('\n');
    assert.ok(text.includes(`write ${want} (mqtts:// for TLS`), text);
    assert.doesNotMatch(text, /s3cret|user/);
  }
});

test('rules beyond the schema: duplicates, topic filters, topic and topics', () => {
  const p = problems(() =>
    loadConfig(
      file('dup.yaml', ['batteries:', '  - name: a', '    topic: x/#/y', '  - name: a', '    topic: t', '    topics: [u]', ''].join('\n')),
    ),
  ).join('\n');
  assert.match(p, /dup\.yaml:3: batteries › 0 › topic: "#" must be a whole last level/);
  assert.match(p, /dup\.yaml:4: batteries › 1: name a is already used by battery 1/);
  assert.match(p, /dup\.yaml:4: batteries › 1: instance 100 is already used by battery 1/);
  assert.match(p, /dup\.yaml:5: batteries › 1 › topic: give topic or topics, not both/);
});

test('no battery at all is an error, and battery flags need at most one battery', () => {
  assert.match(problems(() => loadConfig(undefined, {}))[0]!, /no battery configured/);
  const two = file('two.yaml', 'batteries: [{name: a, topic: t, instance: 1}, {name: b, topic: u, instance: 2}]\n');
  assert.match(problems(() => loadConfig(two, { topic: 'x' }))[0]!, /need a config with at most one battery/);
});

test('a missing TLS file refuses the config at start-up with its line; present ones are resolved beside the config', () => {
  file('ca.pem', 'not really a certificate');
  const cfg = file(
    'tls.yaml',
    [
      'mqtt:',
      '  url: mqtts://127.0.0.1:8883',
      '  ca: ca.pem',
      '  cert: missing-cert.pem',
      'batteries:',
      '  - {name: a, topic: t}',
      '',
    ].join('\n'),
  );
  const found = problems(() => loadConfig(cfg));
  assert.equal(found.length, 1, found.join('\n'));
  assert.match(found[0]!, /tls\.yaml:4: .*cert.*cannot read missing-cert\.pem: ENOENT/);
  const ok = file(
    'tls-ok.yaml',
    ['mqtt:', '  url: mqtts://127.0.0.1:8883', '  ca: ca.pem', 'batteries:', '  - {name: a, topic: t}', ''].join('\n'),
  );
  assert.equal(loadConfig(ok).mqtt.ca, join(dir, 'ca.pem'));
});

test('availability: payload defaults filled in; a wildcard, or availability beside topics, refused with its line', () => {
  const ok = loadConfig(
    file(
      'avail.yaml',
      `batteries:
  - name: a
    topic: esp/#
    availability: {topic: esp/status}
  - name: b
    instance: 101
    topics:
      - {topic: t/1/#, availability: {topic: tele/t1/LWT, online: Online, offline: Offline}}
      - {topic: t/2/#, availability: false, venus: false}
`,
    ),
  );
  assert.deepEqual(ok.batteries[0]!.sources[0]!.availability, { topic: 'esp/status', online: 'online', offline: 'offline' });
  assert.deepEqual(ok.batteries[1]!.sources[0]!.availability, { topic: 'tele/t1/LWT', online: 'Online', offline: 'Offline' });
  assert.equal(ok.batteries[1]!.sources[1]!.availability, false);
  assert.equal(ok.batteries[1]!.sources[1]!.venus, false);
  const bad = problems(() =>
    loadConfig(
      file(
        'avail-bad.yaml',
        `batteries:
  - name: a
    topic: esp/#
    availability: {topic: esp/+/status}
  - name: b
    instance: 101
    availability: {topic: x/status}
    topics: [t/1]
`,
      ),
    ),
  );
  assert.ok(
    bad.some((p) => /avail-bad\.yaml:4: .*availability topic is one topic, without \+ or #/.test(p)),
    bad.join('\n'),
  );
  assert.ok(
    bad.some((p) => /avail-bad\.yaml:7: .*give availability per entry of topics/.test(p)),
    bad.join('\n'),
  );
});

test('packs: default names, capacity, minPacksOnline; duplicates, too high a minimum and packs beside topic refused', () => {
  const ok = loadConfig(
    file(
      'packs.yaml',
      `batteries:
  - name: house
    minPacksOnline: 2
    packs:
      - {topic: house/pack1, capacity: 280}
      - {name: rack2, topic: house/pack2/#, timeout: 20, availability: {topic: house/pack2/status}}
`,
    ),
  );
  const b = ok.batteries[0]!;
  assert.equal(b.minPacksOnline, 2);
  assert.deepEqual(b.sources, [
    { topic: 'house/pack1', timeout: 60, required: false, pack: 'P1', capacity: 280 },
    {
      topic: 'house/pack2/#',
      timeout: 20,
      required: false,
      pack: 'rack2',
      availability: { topic: 'house/pack2/status', online: 'online', offline: 'offline' },
    },
  ]);
  const bad = problems(() =>
    loadConfig(
      file(
        'packs-bad.yaml',
        `batteries:
  - name: house
    topic: x
    minPacksOnline: 3
    packs:
      - {name: A, topic: a}
      - {name: A, topic: b/#/c}
`,
      ),
    ),
  );
  assert.ok(
    bad.some((p) => /packs-bad\.yaml:\d+: .*give packs, or topic\/topics, not both/.test(p)),
    bad.join('\n'),
  );
  assert.ok(
    bad.some((p) => /packs-bad\.yaml:4: .*minPacksOnline 3 is more than the 2 packs/.test(p)),
    bad.join('\n'),
  );
  assert.ok(
    bad.some((p) => /packs-bad\.yaml:7: .*pack name A is already used/.test(p)),
    bad.join('\n'),
  );
  assert.ok(
    bad.some((p) => /packs-bad\.yaml:7: .*"#" must be a whole last level/.test(p)),
    bad.join('\n'),
  );
});
