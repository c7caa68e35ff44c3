/**
 * service/run's node flags: the ones it picks for this Node.js start it, and the version switch
 * gives Node 18 (which refuses --memory-reducer-single-gc with "bad option") the reducer off
 * instead. The armv7l run (bundle.armv7l.ts) starts Node 18 and 20 with them too.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { serviceNodeFlags } from '../support/service-flags.js';

const major = Number(process.versions.node.split('.')[0]);

test('this Node.js starts with the flags service/run gives it', () => {
  const flags = serviceNodeFlags(major);
  const r = spawnSync(process.execPath, [...flags, '-e', 'process.stdout.write("ok")'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'ok', `node ${flags.join(' ')}`);
});

test('the GC flag follows the Node.js version: one reducer collection on 20+, none on 18', () => {
  assert.ok(serviceNodeFlags(20).includes('--memory-reducer-single-gc'));
  assert.ok(serviceNodeFlags(22).includes('--memory-reducer-single-gc'));
  const on18 = serviceNodeFlags(18);
  assert.ok(on18.includes('--no-memory-reducer'));
  assert.ok(!on18.includes('--memory-reducer-single-gc'));
  for (const f of ['--max-semi-space-size=1', '--max-old-space-size=96', '--v8-pool-size=1']) assert.ok(on18.includes(f), f);
});

test('a service/run whose exec line the parser cannot read is an error, not an empty flag list', () => {
  assert.throws(() => serviceNodeFlags(20, '#!/bin/sh\nexec node vbat.js\n'), /no `exec/);
  assert.throws(() => serviceNodeFlags(20, 'exec "$NODE" --a $GC_FLAGS "$DIR/vbat.js" run\n'), /does not set it/);
});
