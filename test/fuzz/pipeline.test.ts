/**
 * The pipeline fuzz (lib.ts) at a count that fits the suite; `npm run fuzz` runs 200k. Safety
 * issue "No wrong or stale value reaches DVCC, whatever arrives over MQTT": mutated seed payloads
 * and foreign captures through the battery's accept → evaluate → commit/rollback with fake time,
 * every evaluation checked against a model of what the committed, unexpired messages carried.
 *
 * FUZZ_COUNT and FUZZ_SEED override the count and the seed; a finding prints the command that
 * replays its episode.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { formatFinding, mulberry32, runFuzz, scenarios, type Finding, type Summary } from './lib.js';

const COUNT = Number(process.env.FUZZ_COUNT ?? 20_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261202);

/** Findings of these kinds are values on D-Bus that no committed, unexpired message carried. */
const NOT_CARRIED = new Set<Finding['kind']>(['not-carried', 'through-array', 'latest']);

let run: Summary;
before(async () => {
  run = await runFuzz({ seed: SEED, count: COUNT });
});

function report(s: Summary, kinds: (k: Finding['kind']) => boolean): string {
  const groups = Object.entries(s.groups).filter(([g]) => kinds(g.split(' ')[0] as Finding['kind']));
  const findings = s.findings.filter((f) => kinds(f.kind));
  const seen = new Set<string>();
  const shown = [...findings.filter((f) => f.published), ...findings.filter((f) => !f.published)].filter((f) => {
    const key = `${f.kind} ${f.scenario} ${f.published === true}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return [
    `${groups.reduce((n, [, c]) => n + c, 0)} findings in ${s.count} payloads (seed ${s.seed}):`,
    ...groups.slice(0, 40).map(([g, n]) => `  ${n} × ${g}`),
    groups.length > 40 ? `  … ${groups.length - 40} more groups` : '',
    '',
    ...shown.map(formatFinding),
  ].join('\n');
}

test('mulberry32 is deterministic and uniform enough', () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const xs = Array.from({ length: 10_000 }, () => a());
  assert.deepEqual(
    Array.from({ length: 10_000 }, () => b()),
    xs,
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
  assert.notEqual(mulberry32(43)(), mulberry32(42)());
});

test('a run is reproducible: the same seed gives the same payloads and outcomes', async () => {
  const one = await runFuzz({ seed: 7, count: 1200 });
  const two = await runFuzz({ seed: 7, count: 1200 });
  assert.deepEqual({ ...two, seconds: 0 }, { ...one, seconds: 0 });
});

test('the oracles catch planted faults (a limit from nowhere, a type change, a SoC out of range); a finding replays', async () => {
  const plant: Parameters<typeof runFuzz>[0]['plant'] = (ev, mapping) => {
    if (mapping.name !== 'dbus-mqtt-battery JSON') return;
    const at = (p: string) => mapping.byPath.get(p)!.index;
    if (ev.values[at('/Info/MaxChargeCurrent')] !== null) ev.values[at('/Info/MaxChargeCurrent')] = 1234;
    ev.values[at('/Dc/0/Temperature')] = 'warm';
    if (ev.values[at('/Soc')] !== null) ev.values[at('/Soc')] = 101;
  };
  const s = await runFuzz({ seed: 3, count: 1500, plant });
  const first = s.findings.find((f) => f.kind === 'not-carried' && f.iteration > 0)!;
  const replay = await runFuzz({ seed: 3, count: 1500, plant, only: [first.iteration] });
  assert.ok(
    replay.findings.some(
      (f) => f.iteration === first.iteration && f.kind === first.kind && f.path === first.path && f.payload === first.payload,
    ),
    `replaying iteration ${first.iteration} finds it again`,
  );
  const kinds = new Set(
    Object.keys(s.groups).map((g) =>
      g
        .split(' ')
        .filter((w) => !w.includes('default') && w !== '[published]')
        .join(' '),
    ),
  );
  for (const k of ['not-carried /Info/MaxChargeCurrent', 'type /Dc/0/Temperature', 'range /Soc', 'not-carried /Soc']) {
    assert.ok(kinds.has(k), `planted fault not found: ${k} (found: ${[...kinds].join(', ')})`);
  }
});

test(`fuzz: the scenarios all ran and enough payloads reached the mapping`, () => {
  assert.equal(run.count, COUNT);
  for (const name of scenarios().map((s) => s.name)) {
    assert.ok((run.byScenario[name] ?? 0) > 0, `scenario ${name} ran (${JSON.stringify(run.byScenario)})`);
  }
  assert.ok(run.committed > COUNT / 2, `committed ${run.committed} of ${COUNT}`);
  assert.ok(run.rolledBack > COUNT / 20, `rolled back ${run.rolledBack}`);
  for (const kind of ['key', 'depth', 'json', 'shape', 'topic', 'empty'])
    assert.ok((run.refused[kind] ?? 0) > 0, `refusals of kind ${kind}`);
  assert.ok(run.staleEvents > 0, 'some batteries went stale');
  assert.ok(run.expiries > COUNT / 50, `leaves expired ${run.expiries} times`);
  assert.ok(run.limits > COUNT / 4, `charge limits and SoC checked against the model ${run.limits} times`);
});

test(`fuzz: no crash, no type change, nothing out of range, the document exactly what was accepted, no pollution`, () => {
  const bad = (k: Finding['kind']) => !NOT_CARRIED.has(k);
  assert.equal(run.findings.filter((f) => bad(f.kind)).length, 0, report(run, bad));
});

test(`fuzz: no value on D-Bus that the payloads did not carry (committed, unexpired, not replaced)`, () => {
  const bad = (k: Finding['kind']) => NOT_CARRIED.has(k);
  assert.equal(run.findings.filter((f) => bad(f.kind)).length, 0, report(run, bad));
});
