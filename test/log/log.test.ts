import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Logger } from '../../src/log.js';

test('warnLimited prints once per key and interval, then reports the count', () => {
  const lines: string[] = [];
  let now = 0;
  const log = new Logger('info', { write: (l) => lines.push(l) }, 60_000, '', () => now).child('house');
  for (let i = 0; i < 50; i++) log.warnLimited('bad', 'bad message');
  log.warnLimited('other', 'another problem');
  assert.deepEqual(lines, ['WARN house: bad message\n', 'WARN house: another problem\n']);
  now = 61_000;
  log.warnLimited('bad', 'bad message');
  assert.equal(lines[2], 'WARN house: bad message (49 more like this in the last 61 s)\n');
});

test('levels filter, and debug closures are not run when off', () => {
  const lines: string[] = [];
  const log = new Logger('warn', { write: (l) => lines.push(l) });
  let built = false;
  log.debug(() => {
    built = true;
    return 'x';
  });
  log.info('hidden');
  log.error('shown');
  assert.equal(built, false);
  assert.deepEqual(lines, ['ERROR shown\n']);
});
