/**
 * `npm run fuzz [-- N SEED] [-- --seed S] [-- --count N] [-- --iteration I ...]`: the pipeline fuzz
 * (test/fuzz/lib.ts) at full count, 200k mutated payloads unless told otherwise. Findings go to
 * stderr as they are found; stdout gets one JSON summary: count, seconds, findings. `--iteration I`
 * replays only the episode holding iteration I (findings print the command). Exit status 1 when
 * there are findings.
 */
import { parseArgs } from 'node:util';
import { runFuzz } from '../fuzz/lib.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seed: { type: 'string' },
    count: { type: 'string' },
    iteration: { type: 'string', multiple: true },
    quiet: { type: 'boolean' },
  },
});
const count = Number(values.count ?? positionals[0] ?? 200_000);
const seed = Number(values.seed ?? positionals[1] ?? 20261202);
const only = values.iteration?.map(Number);
if (!Number.isInteger(count) || count <= 0 || !Number.isInteger(seed) || only?.some((i) => !Number.isInteger(i) || i < 0)) {
  process.stderr.write('usage: npm run fuzz [-- N SEED] [-- --count N] [-- --seed S] [-- --iteration I]\n');
  process.exit(2);
}
const log = values.quiet ? undefined : (line: string) => process.stderr.write(line + '\n');
const s = await runFuzz({ seed, count: only ? Math.max(count, ...only.map((i) => i + 1)) : count, only, log, keep: 2000 });
const out = {
  seed: s.seed,
  count: s.count,
  seconds: s.seconds,
  perSecond: Math.round(s.count / s.seconds),
  evaluations: s.evaluations,
  committed: s.committed,
  rolledBack: s.rolledBack,
  refused: s.refused,
  staleEvents: s.staleEvents,
  expiries: s.expiries,
  verified: s.verified,
  limitsVerified: s.limits,
  byScenario: s.byScenario,
  findingCount: s.findingCount,
  findingGroups: s.groups,
  // one example per group (stderr has up to three, with the messages before them)
  findings: s.findings.filter(
    (f, i, all) =>
      all.findIndex((g) => g.kind === f.kind && g.scenario === f.scenario && g.path === f.path && g.published === f.published) === i,
  ),
};
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
process.exitCode = s.findingCount ? 1 : 0;
