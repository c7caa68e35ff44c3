/** `vbat init`: a draft mapping from a capture, which passes `vbat check` on that capture. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { fixture } from '../support/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'vbat-init-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function draftAndCheck(capture: string) {
  const draft = join(tmp, `draft-${Math.random().toString(36).slice(2)}.yaml`);
  const made = await runCli(['init', capture, '-o', draft]);
  assert.equal(made.code, 0, made.stderr);
  const text = readFileSync(draft, 'utf8');
  const r = await runCli(['check', '--json', draft, capture]);
  assert.equal(r.code, 0, `${text}\n${r.stdout}${r.stderr}`);
  const paths = JSON.parse(r.stdout).payloads[0].paths as { path: string; value: unknown }[];
  return { text, get: (p: string) => paths.find((x) => x.path === p)?.value };
}

test('one value per topic (ESPHome JK-BMS): tree input, numbered cells, switches, guesses commented', async () => {
  const { text, get } = await draftAndCheck(fixture('foreign', 'esphome-jk-bms', 'mqtt-capture.json'));
  assert.match(text, /^ {2}format: tree$/m);
  assert.match(text, /^ {2}topic: "jk-bms\/#"$/m);
  assert.match(text, /# guess: sensor\.total_voltage\.state \(54\.66\) looks like the pack voltage\n {2}\/Dc\/0\/Voltage:/);
  assert.deepEqual(
    [get('/Dc/0/Voltage'), get('/Dc/0/Current'), get('/Soc'), get('/Voltages/Cell16'), get('/Io/AllowToCharge')],
    [54.66, 22.47, 91, 3.415, 1],
  );
  assert.match(text, /# Not placed .*\n(#.*\n)*# {3}sensor\.errors_bitmask\.state = 0/);
  assert.doesNotMatch(text, /^ {2}\/Info\/Max/m, 'the DVCC limits are never guessed');
});

test('a JSON payload (the seed) with cells and camelCase names, and one with mV and a cell array', async () => {
  const seed = await draftAndCheck(fixture('seed', 'seed-full.json'));
  assert.deepEqual([seed.get('/Dc/0/Voltage'), seed.get('/InstalledCapacity'), seed.get('/System/NrOfCellsPerBattery')], [52.7, 200, 24]);
  const file = join(tmp, 'mv.json');
  writeFileSync(file, JSON.stringify({ pack_voltage_mv: 52710, current_ma: -12500, soc: 80, cells: [3301, 3299, 3310, 3305] }));
  const mv = await draftAndCheck(file);
  assert.deepEqual(
    [
      mv.get('/Dc/0/Voltage'),
      mv.get('/Dc/0/Current'),
      mv.get('/Voltages/Cell2'),
      mv.get('/System/MinCellVoltage'),
      mv.get('/Voltages/Diff'),
    ],
    [52.71, -12.5, 3.299, 3.299, 0.01100000000000012],
  );
  assert.match(mv.text, /in mV by its name/);
});
