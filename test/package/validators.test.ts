/** The validators vbat runs are what ajv makes of the schemas now: a schema edit needs `npm run validators`. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCommand } from '../support/cli.js';
import { repoRoot } from '../support/paths.js';

test('src/generated/ holds exactly what service/build-validators.mjs makes of schemas/', async () => {
  const r = await runCommand(process.execPath, [join(repoRoot, 'service', 'build-validators.mjs'), '--print']);
  assert.equal(r.code, 0, r.stderr);
  const files = JSON.parse(r.stdout) as Record<string, string>;
  assert.deepEqual(Object.keys(files).sort(), ['src/generated/config-validator.ts', 'src/generated/mapping-validator.ts']);
  for (const [file, text] of Object.entries(files))
    assert.ok(readFileSync(join(repoRoot, file), 'utf8') === text, `${file} is out of date: run npm run validators`);
});
