/** A key collision is a configuration mistake: reported once at run time, per key. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rig } from './fakes.js';

test('two sources writing the same key: one warning per key, however many messages', async () => {
  const r = await rig({
    sources: [
      { topic: 'pack1', timeout: 60, required: true },
      { topic: 'pack2', timeout: 60, required: true },
    ],
  });
  for (let i = 0; i < 5; i++) {
    await r.send({ topic: 'pack1', payload: { Dc: { Power: 100, Voltage: 50 }, Soc: 60 } });
    await r.send({ topic: 'pack2', payload: { Dc: { Power: 200, Voltage: 51 }, Soc: 70 } });
  }
  const warnings = r.lines.filter((l) => /key collision/.test(l));
  assert.equal(warnings.filter((l) => /key Soc;/.test(l)).length, 1, warnings.join('\n'));
  assert.equal(warnings.filter((l) => /key Dc\.Power;/.test(l)).length, 1);
  assert.ok(warnings.every((l) => /pack1 and pack2|pack2 and pack1/.test(l)));
});
