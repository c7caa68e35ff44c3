/** `npm run fuzz [-- RUNS [SEED]]`: the pipeline fuzz at full count; prints a JSON summary. */
import { fuzz } from '../fuzz/lib.js';

const runs = Number(process.argv[2] ?? 200_000);
const seed = Number(process.argv[3] ?? 1);
const t = Date.now();
const r = await fuzz(seed, runs);
process.stdout.write(
  `${JSON.stringify({ seed, runs: r.runs, committed: r.committed, seconds: (Date.now() - t) / 1000, findings: r.findings }, null, 2)}\n`,
);
process.exitCode = r.findings.length ? 1 : 0;
