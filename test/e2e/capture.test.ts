/** `vbat capture` against a real mosquitto, then `vbat check` on what it recorded. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { bounded } from '../support/wait.js';
import { runCli, spawnCli } from '../support/cli.js';
import { startMosquitto, type Broker } from '../support/mosquitto.js';
import { fixture, mappingFile } from '../support/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'vbat-capture-'));
let broker: Broker;
let pub: MqttClient;

before(async () => {
  broker = await startMosquitto();
  pub = mqtt.connect(broker.url, { reconnectPeriod: 200 });
  pub.on('error', () => undefined);
  await bounded(new Promise<void>((r) => pub.once('connect', () => r())), 'publisher connect');
});
after(async () => {
  pub?.end(true);
  await broker?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('vbat capture records topic, payload, time and retained flag; vbat check replays the file; vbat init drafts a mapping that passes check', async () => {
  const esphome = Object.entries(
    JSON.parse(readFileSync(fixture('foreign', 'esphome-jk-bms', 'mqtt-capture.json'), 'utf8')) as Record<string, string>,
  );
  // A retained value from before the capture: the broker replays it, marked retained.
  await pub.publishAsync('jk-bms/status', 'online', { qos: 1, retain: true });
  const file = join(tmp, 'capture.jsonl');
  const capture = spawnCli(['capture', '--broker', broker.url, '--topic', 'jk-bms/#', '--seconds', '3', '-o', file]);
  await capture.waitLog(/subscribed to/);
  for (const [topic, payload] of esphome) if (topic !== 'jk-bms/status') await pub.publishAsync(topic, payload, { qos: 1 });
  await pub.publishAsync('elsewhere/x', '1', { qos: 1 });
  assert.equal(await bounded(capture.exit(), 'capture to finish', 8000), 0, capture.log);
  assert.match(capture.log, new RegExp(`captured ${esphome.length} messages on ${esphome.length} topics`));

  const lines = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { topic: string; payload: string; time: number; retained: boolean });
  assert.equal(lines.length, esphome.length);
  assert.deepEqual(lines[0], { ...lines[0], topic: 'jk-bms/status', payload: 'online', retained: true });
  assert.ok(
    lines.slice(1).every((l) => !l.retained && Math.abs(l.time - Date.now() / 1000) < 30),
    'live messages with their time',
  );

  const r = await runCli(['check', '--json', mappingFile('esphome-jk-bms.yaml'), file]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout);
  const get = (p: string) => out.payloads[0].paths.find((x: { path: string }) => x.path === p);
  assert.equal(get('/Dc/0/Voltage').value, 54.66);
  assert.equal(get('/Soc').value, 91);
  // The retained jk-bms/status is the node's availability, which vbat run honours: not refused.
  assert.deepEqual(out.payloads[0].refused, [
    // ESPHome publishes an empty error text when there is none; vbat run refuses it the same way.
    { topic: 'jk-bms/text_sensor/errors/state', reason: 'empty payload' },
  ]);

  // capture → init → check: the draft maps the essentials from what was recorded.
  const draft = join(tmp, 'draft.yaml');
  const made = await runCli(['init', file, '-o', draft]);
  assert.equal(made.code, 0, made.stderr);
  const checked = await runCli(['check', '--json', draft, file]);
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  const drafted = JSON.parse(checked.stdout).payloads[0].paths as { path: string; value: unknown }[];
  assert.equal(drafted.find((p) => p.path === '/Dc/0/Voltage')?.value, 54.66);
  assert.equal(drafted.find((p) => p.path === '/Soc')?.value, 91);
});
