/**
 * Figures for the benchmark report: percentiles, and a measured value beside its floor and its
 * target. A target is only ever reported (pass/fail), never enforced.
 */

export const round = (x: number, digits = 3): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** Nearest-rank quantile of an ascending array. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function median(samples: readonly number[]): number {
  return quantile(
    [...samples].sort((a, b) => a - b),
    0.5,
  );
}

export interface Distribution {
  n: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export function distribution(samples: readonly number[], digits = 3): Distribution {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return {
    n: s.length,
    min: round(s[0] ?? NaN, digits),
    p50: round(quantile(s, 0.5), digits),
    p95: round(quantile(s, 0.95), digits),
    p99: round(quantile(s, 0.99), digits),
    max: round(s[s.length - 1] ?? NaN, digits),
    mean: round(mean, digits),
  };
}

/** A target: the figure must be at most `max` or at least `min` (in the figure's unit). */
export interface Target {
  max?: number;
  min?: number;
}

export interface Figure {
  value: number | null;
  unit: string;
  /** The same measurement on the floor (the least any implementation could do), same run. */
  floor?: number | null;
  /** value / floor. */
  ratio?: number | null;
  target?: string;
  pass?: boolean;
  note?: string;
}

export function figure(
  value: number | null,
  unit: string,
  opts: { floor?: number | null; target?: Target; digits?: number; note?: string } = {},
): Figure {
  const digits = opts.digits ?? 3;
  const f: Figure = { value: value === null || !Number.isFinite(value) ? null : round(value, digits), unit };
  if (opts.floor !== undefined) {
    f.floor = opts.floor === null || !Number.isFinite(opts.floor) ? null : round(opts.floor, digits);
    f.ratio = f.value !== null && f.floor ? round(f.value / f.floor, 2) : null;
  }
  if (opts.target) {
    const t = opts.target;
    f.target = t.max !== undefined ? `<= ${t.max} ${unit}` : `>= ${t.min} ${unit}`;
    f.pass = f.value !== null && (t.max === undefined || f.value <= t.max) && (t.min === undefined || f.value >= t.min);
  }
  if (opts.note) f.note = opts.note;
  return f;
}

/** The targets of the issue, in one place. */
export const TARGETS = {
  e2eP50Ms: { max: 1 },
  e2eP99Ms: { max: 3 },
  valuesNeverShown: { max: 0 },
  mappingUs: { max: 50 },
  itemsChanged70CpuUs: { max: 100 },
  payloadsPerS: { min: 3000 },
  cpuMsPerPayload: { max: 0.15 },
  rssSteadyMb: { max: 48 },
  scaleCpuPct: { max: 10 },
  scaleRssMb: { max: 60 },
  /** Issue 13: 16 batteries in one process, private memory. */
  scaleRssAnonMb: { max: 35 },
  startupS: { max: 0.5 },
} satisfies Record<string, Target>;
