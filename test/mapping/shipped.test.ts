/** Every shipped mapping compiles and points editors at the schema. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadMapping } from '../../src/mapping/index.js';
import { repoRoot } from '../support/paths.js';

const dir = join(repoRoot, 'mappings');
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

test('there are the default and two foreign example mappings', () => {
  for (const f of ['default.yaml', 'esphome-jk-bms.yaml', 'serialbattery-jsondata.yaml']) assert.ok(files.includes(f), f);
});

for (const f of files) {
  test(`mappings/${f} references the schema and compiles`, () => {
    const text = readFileSync(join(dir, f), 'utf8');
    assert.match(text.split('\n')[0]!, /^# yaml-language-server: \$schema=\.\.\/schemas\/mapping\.schema\.json$/);
    const m = loadMapping(join(dir, f));
    assert.ok(m.paths.length > 10);
    assert.ok(m.required.length > 0, 'a mapping names its required inputs');
  });
}
