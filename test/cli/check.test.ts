/** `vbat check` end to end, as a user runs it. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { fixture, mappingFile } from '../support/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'vbat-check-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('the full seed payload: 169 paths with the seed texts, exit 0', async () => {
  const r = await runCli(['check', mappingFile('default.yaml'), fixture('seed', 'seed-full.json')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /169 paths, OK/);
  assert.match(r.stdout, /^\/Dc\/0\/Power\s+321\.6\s+d\s+321W\s*$/m);
  assert.match(r.stdout, /^\/Voltages\/Diff\s+0\.025\s+d\s+0\.025V\s+derived$/m);
  assert.match(r.stdout, /^\/Alarms\/BmsCable\s+\(invalid\)\s+ai\s+---\s+invalid$/m);
  assert.match(r.stdout, /169 paths: \d+ valid, \d+ invalid, 2 derived, 0 warnings/);
});

test('--json prints the same as data', async () => {
  const r = await runCli(['check', '--json', mappingFile('default.yaml'), fixture('seed', 'seed-min.json')]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.ok, true);
  const paths = out.payloads[0].paths as { path: string; value: unknown; text: string; type: string; source: string }[];
  assert.equal(paths.length, 169);
  assert.deepEqual(
    paths.find((p) => p.path === '/Dc/0/Current'),
    { path: '/Dc/0/Current', type: 'd', value: 6.102, text: '6.1A', source: 'derived', invalid: false, outOfRange: false },
  );
});

test('a payload missing required inputs: exit 1 and says which', async () => {
  const file = join(tmp, 'no-soc.json');
  writeFileSync(file, JSON.stringify({ Dc: { Power: 1, Voltage: 50 } }));
  const r = await runCli(['check', mappingFile('default.yaml'), file]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /REJECTED: required input missing or invalid for \/Soc/);
});

test('warnings are marked but do not fail the check', async () => {
  const file = join(tmp, 'hot.json');
  writeFileSync(file, JSON.stringify({ Dc: { Power: 1, Voltage: 50, Temperature: 'hot' }, Soc: 10 }));
  const r = await runCli(['check', mappingFile('default.yaml'), file]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^\/Dc\/0\/Temperature\s+\(invalid\)\s+ai\s+---\s+WARNING, invalid$/m);
  assert.match(r.stdout, /warning: \/Dc\/0\/Temperature: expected a number, got the string "hot"/);
});

test('a broken mapping: exit 1 with file:line reasons', async () => {
  const file = join(tmp, 'broken.yaml');
  writeFileSync(file, 'paths:\n  /Soc:\n    type: d\n    value: Soc +\n');
  const r = await runCli(['check', file, fixture('seed', 'seed-min.json')]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4: /Soc value: JSONata error`));
});

test('usage errors exit 2', async () => {
  assert.equal((await runCli(['check', mappingFile('default.yaml')])).code, 2);
  assert.equal((await runCli(['check', '--nope', 'a', 'b'])).code, 2);
  assert.equal((await runCli(['frobnicate'])).code, 2);
});

test('an unreadable or malformed payload file fails the check', async () => {
  const file = join(tmp, 'bad.json');
  writeFileSync(file, '{"Soc": ');
  const r = await runCli(['check', mappingFile('default.yaml'), file, join(tmp, 'missing.json')]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /ERROR: not valid JSON/);
  assert.match(r.stdout, /ERROR: cannot read/);
});
