/**
 * `npm run bench`: vbat's performance, every figure beside its floor measured in the same run,
 * and beside its target with pass/fail. Prints one JSON document on stdout (progress on stderr)
 * and writes it to test/bench/results/latest.json. Targets are reported, never enforced: the
 * exit code is 0 whatever the figures; 1 only when a measurement could not be made.
 *
 *   npm run bench [-- --long] [-- --quick] [-- --only mapping,dbus,...] [-- --out FILE]
 *                 [-- --node-flags "..."]   (default: the flags service/run gives vbat on a device)
 *
 * Groups (one file each): mapping, dbus (D-Bus emission), memory (start-up and RSS; --long adds
 * 1M payloads), latency (end to end at 20 Hz), throughput, scale (16 batteries), device (the
 * release bundle as a GX runs it: CPU per message at 1 and 20 Hz, idle, RssAnon, ESPHome). --quick is a
 * smoke run (a tenth of the messages; figures not comparable). See test/bench/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runDbus } from './dbus-emit.js';
import { runDevice } from './device.js';
import { runLatency } from './e2e-latency.js';
import { build, RESULTS_DIR, type Build } from './lib/build.js';
import { machine, versions } from './lib/env.js';
import type { Figure } from './lib/stats.js';
import { runMapping } from './mapping.js';
import { runMemory } from './memory.js';
import { runScale } from './scale.js';
import { runThroughput } from './throughput.js';

export interface Context {
  long: boolean;
  /** A smoke run: every group, a tenth of the messages and time (figures not comparable). */
  quick: boolean;
  /** The compiled vbat and floor process (only for the groups that start processes). */
  build?: Build;
  log(msg: string): void;
}

type Group = (ctx: Context) => Promise<Record<string, unknown>>;

/** In running order; the in-process ones first, the long end-to-end one in the middle. */
const GROUPS: Record<string, { run: Group; processes: boolean }> = {
  mapping: { run: runMapping, processes: false },
  dbus: { run: runDbus, processes: false },
  memory: { run: runMemory, processes: true },
  latency: { run: runLatency, processes: true },
  throughput: { run: runThroughput, processes: true },
  scale: { run: runScale, processes: true },
  device: { run: runDevice, processes: true },
};

interface SummaryRow {
  figure: string;
  value: number | null;
  unit: string;
  target: string;
  pass: boolean;
  floor?: number | null;
  ratio?: number | null;
}

/** Every figure with a target, wherever it sits in the results. */
function summarize(results: unknown, prefix = '', rows: SummaryRow[] = []): SummaryRow[] {
  if (typeof results !== 'object' || results === null) return rows;
  const f = results as Partial<Figure>;
  if (typeof f.unit === 'string' && typeof f.target === 'string') {
    rows.push({
      figure: prefix,
      value: f.value ?? null,
      unit: f.unit,
      target: f.target,
      pass: f.pass ?? false,
      ...(f.floor !== undefined ? { floor: f.floor, ratio: f.ratio } : {}),
    });
    return rows;
  }
  for (const [k, v] of Object.entries(results)) summarize(v, prefix ? `${prefix}.${k}` : k, rows);
  return rows;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      long: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      out: { type: 'string' },
      'node-flags': { type: 'string' },
    },
  });
  const only = values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(GROUPS);
  for (const g of only) if (!(g in GROUPS)) throw new Error(`unknown group "${g}"; groups: ${Object.keys(GROUPS).join(', ')}`);
  const log = (msg: string): void => {
    process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`);
  };
  const started = Date.now();
  const ctx: Context = { long: values.long ?? false, quick: values.quick ?? false, log };

  const report: Record<string, unknown> = {
    benchmark: 'vbat',
    date: new Date().toISOString(),
    mode: ctx.quick ? 'quick (smoke run, figures not comparable)' : ctx.long ? 'long' : 'standard',
    machine: machine(),
    versions: versions(),
  };
  const results: Record<string, unknown> = {};
  const errors: Record<string, string> = {};

  if (only.some((g) => GROUPS[g]!.processes)) {
    log('compiling vbat and the floor process (tsc → test/bench/results/build)');
    const flags = values['node-flags'];
    ctx.build = await build(flags === undefined ? undefined : flags.split(/\s+/).filter(Boolean));
    if (ctx.build.diagnostics) log(`tsc reported problems (code emitted anyway):\n${ctx.build.diagnostics}`);
    report['buildMs'] = ctx.build.ms;
    report['nodeFlags'] = ctx.build.nodeFlags;
    log(
      `measured processes run as: node ${[...ctx.build.nodeFlags, '<script>'].join(' ')} (flags from service/run; --node-flags overrides)`,
    );
  }
  for (const name of Object.keys(GROUPS)) {
    if (!only.includes(name)) continue;
    const t = Date.now();
    log(`${name}…`);
    try {
      results[name] = { ...(await GROUPS[name]!.run(ctx)), seconds: Math.round((Date.now() - t) / 100) / 10 };
    } catch (err) {
      errors[name] = (err as Error).stack ?? String(err);
      log(`${name} FAILED: ${(err as Error).message}`);
    }
  }

  const summary = summarize(results);
  report['durationS'] = Math.round((Date.now() - started) / 100) / 10;
  report['summary'] = summary;
  report['results'] = results;
  if (Object.keys(errors).length) report['errors'] = errors;

  const text = JSON.stringify(report, null, 2);
  const out = values.out ?? join(RESULTS_DIR, 'latest.json');
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(out, text + '\n');
  process.stdout.write(text + '\n');

  log(`done in ${report['durationS']} s; written to ${out}`);
  for (const r of summary) {
    const floor = r.floor !== undefined ? `  floor ${r.floor} (×${r.ratio})` : '';
    log(`  ${r.pass ? 'pass' : 'FAIL'}  ${r.figure} = ${r.value} ${r.unit}  (target ${r.target})${floor}`);
  }
  return Object.keys(errors).length ? 1 : 0;
}

// Ctrl-C or a kill: exit through process.exit, so the 'exit' handlers SIGKILL every process the
// benchmark started (vbat, the floor processes, mosquitto, dbus-daemon).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}, stopping\n`);
    process.exit(130);
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
