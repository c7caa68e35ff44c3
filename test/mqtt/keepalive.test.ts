/** The Venus OS keepalive, with fake time: when it goes out, where, and with which payload. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Logger } from '../../src/log.js';
import { SUPPRESS_REPUBLISH, VenusKeepalive } from '../../src/mqtt/index.js';

function rig(filters: string[], timeoutMs = 60_000) {
  const sent: { t: number; topic: string; payload: string }[] = [];
  const lines: string[] = [];
  let t = 0;
  let tick: (() => void) | undefined;
  let period = 0;
  const k = new VenusKeepalive({
    filters,
    timeoutMs,
    publish: (topic, payload) => sent.push({ t, topic, payload }),
    log: new Logger('debug', { write: (l) => lines.push(l) }, 60_000, '', () => t),
    now: () => t,
    every: (ms, fn) => {
      period = ms;
      tick = fn;
      return () => (tick = undefined);
    },
  });
  const advance = (ms: number) => {
    for (const end = t + ms; t + period <= end;) {
      t += period;
      tick?.();
    }
  };
  return { k, sent, lines, advance, period: () => period, running: () => tick !== undefined };
}

test('portal id given: a full keepalive on connect, then one every 30 s, well inside flashmq 60 s', () => {
  const r = rig(['N/c0619ab1234/battery/512/#']);
  r.k.start();
  assert.deepEqual(r.k.subscriptions, [], 'nothing to learn: no extra subscription');
  r.k.onConnected(true);
  assert.deepEqual(r.sent, [{ t: 0, topic: 'R/c0619ab1234/keepalive', payload: '' }], 'at once, asking for every topic');
  r.advance(120_000);
  assert.equal(r.period(), 30_000);
  assert.deepEqual(
    r.sent.map((s) => s.t),
    [0, 30_000, 60_000, 90_000, 120_000],
  );
  assert.ok(
    r.sent.every((s) => s.payload === ''),
    'timeout 60 s: every keepalive republishes in full, so no unchanged value outlives its timeout',
  );
});

test('a long timeout: suppress-republish between full republishes at most timeout / 2 apart', () => {
  const r = rig(['N/abc/battery/512/#'], 300_000);
  r.k.start();
  r.k.onConnected(true);
  r.advance(600_000);
  const full = r.sent.filter((s) => s.payload === '').map((s) => s.t);
  assert.ok(
    r.sent.some((s) => s.payload === SUPPRESS_REPUBLISH),
    'suppress-republish is used',
  );
  for (let i = 1; i < full.length; i++) assert.ok(full[i]! - full[i - 1]! <= 150_000, `full republishes ${full[i - 1]} → ${full[i]}`);
  assert.ok(full.at(-1)! >= 600_000 - 150_000);
  assert.equal(JSON.parse(SUPPRESS_REPUBLISH)['keepalive-options'][0], 'suppress-republish');
});

test('portal id +: learned from the retained N/<id>/system/0/Serial (or a data topic), bounded, never from a wrong id', () => {
  const r = rig(['N/+/battery/+/JsonData']);
  r.k.start();
  assert.deepEqual(r.k.subscriptions, ['N/+/system/0/Serial']);
  r.k.onConnected(true);
  assert.deepEqual(r.sent, [], 'no portal known yet: nothing to send');
  r.k.observe('N/c0619ab1234/system/0/Serial');
  assert.deepEqual(r.sent, [{ t: 0, topic: 'R/c0619ab1234/keepalive', payload: '' }]);
  assert.ok(r.lines.some((l) => /portal id c0619ab1234/.test(l)));
  r.k.observe('N/c0619ab1234/battery/512/JsonData');
  r.k.observe('N/other/solarcharger/1/Dc/0/Voltage'); // matches neither the filter nor Serial
  r.k.observe('N/bad id!/system/0/Serial');
  assert.deepEqual(r.k.known, ['c0619ab1234']);
  r.k.observe('N/second/battery/7/JsonData');
  assert.deepEqual(r.k.known, ['c0619ab1234', 'second']);
  for (let i = 0; i < 10; i++) r.k.observe(`N/flood${i}/system/0/Serial`);
  assert.equal(r.k.known.length, 4, 'at most 4 portal ids');
  assert.equal(r.lines.filter((l) => /more than 4 portal ids/.test(l)).length, 1);
});

test('reconnect: a full keepalive again; nothing while disconnected; stop ends the timer', () => {
  const r = rig(['N/abc/battery/512/Soc']);
  r.k.start();
  r.k.onConnected(true);
  r.k.onConnected(false);
  r.advance(60_000);
  assert.equal(r.sent.length, 1, 'none while the broker is away');
  r.k.onConnected(true);
  assert.equal(r.sent.length, 2);
  assert.equal(r.sent[1]!.payload, '');
  r.k.stop();
  assert.equal(r.running(), false);
});

test('a short timeout shortens the interval (half the timeout)', () => {
  const r = rig(['N/abc/battery/512/#'], 10_000);
  r.k.start();
  assert.equal(r.period(), 5000);
});
