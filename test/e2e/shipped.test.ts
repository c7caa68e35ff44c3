/**
 * Every shipped mapping end to end: its capture is published to a real mosquitto, `vbat run` maps
 * it onto a real dbus-daemon, and what a D-Bus client reads (value, D-Bus type, text) is, path for
 * path, what `vbat check --config` says for the same config and the same messages. So the offline
 * check a user relies on and the daemon never disagree, for every format vbat ships.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { captureMessages, type CapturedMessage } from '../../src/cli/capture-file.js';
import type { Item } from '../support/bus-client.js';
import { runCli } from '../support/cli.js';
import { fixture, mappingFile, repoRoot } from '../support/paths.js';
import { World } from './harness.js';

interface Case {
  mapping: string;
  capture: string;
  /** The battery's config lines (topic or packs), indented as list-item keys. */
  battery: string[];
  /** The topic a single-payload capture is published on. */
  topic?: string;
}

const CASES: Case[] = [
  { mapping: 'default.yaml', capture: fixture('seed', 'seed-full.json'), battery: ['topic: bms/seed'], topic: 'bms/seed' },
  { mapping: 'esphome-jk-bms.yaml', capture: fixture('foreign', 'esphome-jk-bms', 'mqtt-capture.json'), battery: ['topic: jk-bms/#'] },
  {
    mapping: 'serialbattery-jsondata.yaml',
    capture: fixture('foreign', 'serialbattery', 'mqtt-capture.json'),
    battery: ['topic: N/+/battery/+/JsonData'],
  },
  {
    mapping: 'venus-battery.yaml',
    capture: fixture('foreign', 'venus-battery', 'mqtt-capture.json'),
    battery: ['topic: N/+/battery/512/#'],
  },
  {
    mapping: 'opendtu-onbattery.yaml',
    capture: fixture('foreign', 'opendtu-onbattery', 'pylontech-capture.json'),
    battery: ['topic: openDTU/battery/#'],
  },
  { mapping: 'batmon-ha.yaml', capture: fixture('foreign', 'batmon-ha', 'mqtt-capture.json'), battery: ['topic: battery1/#'] },
  {
    mapping: 'daly-bms-mqtt.yaml',
    capture: fixture('foreign', 'daly-bms-mqtt', 'mqtt-capture.jsonl'),
    battery: ['topic: BMS01/Pack_Data'],
  },
  {
    mapping: 'packs-json.yaml',
    capture: fixture('foreign', 'packs', 'two-packs.json'),
    battery: ['packs:', '  - {name: P1, topic: house/pack1}', '  - {name: P2, topic: house/pack2}'],
  },
];

interface Row {
  path: string;
  value: unknown;
  type: string;
  text: string;
}

const tmp = mkdtempSync(join(tmpdir(), 'vbat-shipped-'));

test('every shipped mapping has an end-to-end case here', () => {
  const shipped = readdirSync(join(repoRoot, 'mappings')).filter((f) => f.endsWith('.yaml') && f !== 'service-paths.yaml');
  assert.deepEqual(CASES.map((c) => c.mapping).sort(), shipped.sort());
});

describe('shipped mappings: D-Bus through the real broker and bus equals vbat check', { concurrency: false }, () => {
  const w = new World();
  before(() => w.start());
  after(async () => {
    await w.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  for (const [i, c] of CASES.entries()) {
    test(c.mapping, async () => {
      const name = `shipped${i}`;
      const config = join(tmp, `${name}.yaml`);
      const battery = [`name: ${name}`, `instance: ${200 + i}`, `mapping: ${mappingFile(c.mapping)}`, ...c.battery];
      writeFileSync(
        config,
        [`mqtt: {url: "${w.broker.url}"}`, 'batteries:', ...battery.map((l, j) => (j === 0 ? `  - ${l}` : `    ${l}`)), ''].join('\n'),
      );
      // Live messages, in capture order: what check replays and what the broker delivers.
      const messages = messagesOf(c);
      const capture = join(tmp, `${name}.jsonl`);
      writeFileSync(capture, messages.map((m) => JSON.stringify({ topic: m.topic, payload: m.payload, retained: false })).join('\n'));

      const checked = await runCli(['check', '--json', '--config', config, capture]);
      assert.equal(checked.code, 0, checked.stdout + checked.stderr);
      const rows = (JSON.parse(checked.stdout) as { batteries: { payloads: { paths: Row[] }[] }[] }).batteries[0]!.payloads[0]!.paths;
      const valid = rows.filter((r) => r.value !== null);
      assert.ok(valid.length >= 10, `${c.mapping}: check maps the capture (${valid.length} valid paths)`);

      const d = w.vbat(['--config', config]);
      await d.waitLog(/subscribed to/);
      for (const m of messages) await w.publish(m.topic, m.payload);
      const service = `com.victronenergy.battery.vbat_${name}`;
      let items: Record<string, Item> = {};
      try {
        items = await w.until(service, (it) => rows.every((r) => same(it[r.path], r)), `the state vbat check shows for ${c.mapping}`);
      } catch {
        items = await w.items(service);
      }
      assert.deepEqual(
        rows.map((r) => seen(r.path, items[r.path])),
        rows.map((r) => seen(r.path, { value: r.value, type: r.value === null ? 'ai' : r.type, text: r.value === null ? '' : r.text })),
        `${c.mapping}: D-Bus differs from vbat check`,
      );
      assert.equal(items['/Connected']?.value, 1);
      assert.doesNotMatch(d.log, /internal error|RangeError|TypeError/);
      await d.stop();
    });
  }
});

function messagesOf(c: Case): CapturedMessage[] {
  const text = readFileSync(c.capture, 'utf8');
  const messages = captureMessages(text);
  if (messages) return messages;
  assert.ok(c.topic, `${c.capture} is a single payload: the case needs a topic`);
  return [{ topic: c.topic, payload: text, retained: false }];
}

const same = (item: Item | undefined, r: Row) =>
  item !== undefined &&
  (r.value === null
    ? item.type === 'ai'
    : item.type === r.type && item.text === r.text && JSON.stringify(item.value) === JSON.stringify(r.value));

/** What a path looks like to a D-Bus client, comparable as a whole (invalid has no text to compare). */
const seen = (path: string, item: Pick<Item, 'value' | 'type' | 'text'> | undefined) =>
  item === undefined
    ? `${path}: absent`
    : item.type === 'ai'
      ? `${path}: invalid`
      : `${path}: ${item.type} ${JSON.stringify(item.value)} "${item.text}"`;
