import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Freshness } from '../../src/battery/index.js';

test('a battery is live only while every required source is fresh', () => {
  const f = new Freshness([
    { topic: 'bms/basic', timeout: 10, required: true },
    { topic: 'bms/cells/#', timeout: 30, required: false },
  ]);
  assert.equal(f.live(), false, 'stale until the first message');
  const basic = f.sourceOf('bms/basic')!;
  const cells = f.sourceOf('bms/cells/1')!;
  assert.equal(f.sourceOf('other'), undefined);
  f.markFresh(basic, 0);
  assert.equal(f.live(), true, 'the optional source does not hold the battery back');
  f.markFresh(cells, 0);
  assert.deepEqual(f.expire(9_999), []);
  assert.deepEqual(
    f.expire(10_000).map((s) => s.topic),
    ['bms/basic'],
  );
  assert.equal(f.live(), false);
  assert.deepEqual(f.expire(20_000), [], 'reported once per staleness');
  assert.deepEqual(
    f.expire(30_000).map((s) => s.topic),
    ['bms/cells/#'],
  );
  f.markFresh(basic, 31_000);
  assert.equal(f.live(), true);
  f.reset();
  assert.equal(f.live(), false, 'reset: every source stale');
  assert.equal(f.live(new Set([basic])), true, 'a source delivering now counts as fresh');
  assert.deepEqual(
    f.silentRequired().map((s) => s.topic),
    ['bms/basic'],
  );
});
