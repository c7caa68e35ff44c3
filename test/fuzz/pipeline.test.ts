/** The pipeline fuzz at a count that fits the suite; `npm run fuzz` runs 100k+. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fuzz } from './lib.js';

test('20k mutated payloads: no crash, no type change, no limit the payloads did not carry', async () => {
  const r = await fuzz(20261202, 20_000);
  assert.deepEqual(r.findings, []);
  assert.ok(r.committed > 2000, `enough payloads reached the mapping (${r.committed})`);
});
