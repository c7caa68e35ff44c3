/**
 * A fuzzer for the battery pipeline (input document → mapping), seeded so any finding can be
 * replayed. Payloads are the seed's documented ones, mutated structurally and by value, hostile
 * keys included. Every evaluation is checked against three promises: nothing throws, every value
 * has its path's D-Bus type (or is invalid), and a limit on D-Bus is one a committed, unexpired
 * message actually carried, within the mapping's range.
 */
import { readFileSync } from 'node:fs';
import { DocumentBuilder } from '../../src/input/index.js';
import { defaultMappingFile, Evaluator, loadMapping, type CompiledMapping } from '../../src/mapping/index.js';
import { INTEGER_RANGES } from '../../src/venus/coerce.js';
import { fixture } from '../support/paths.js';

/** mulberry32: small, fast, good enough to drive mutations reproducibly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ODD_VALUES: unknown[] = [
  '1e3',
  'nan',
  'NaN',
  '',
  ' ',
  true,
  false,
  null,
  [],
  {},
  [1, 2],
  { x: 1 },
  1e308,
  -1e308,
  -0,
  -50,
  150,
  2 ** 53,
  0.1,
  'ON',
  '\u0000',
  'é😀',
];
const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype'];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function mutateValue(v: Json, rnd: () => number, depth: number): Json {
  const r = rnd();
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && r < 0.6 && depth < 6) {
    const out: { [k: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) {
      const q = rnd();
      if (q < 0.08) continue; // drop
      const key = q < 0.1 ? HOSTILE_KEYS[Math.floor(rnd() * 3)]! : q < 0.13 ? `${k}_` : k;
      out[key] = mutateValue(x, rnd, depth + 1);
      if (q > 0.97) out[`${k}2`] = x; // duplicate under another name
    }
    return out;
  }
  if (r < 0.75) return v;
  if (r < 0.95) return ODD_VALUES[Math.floor(rnd() * ODD_VALUES.length)] as Json;
  let deep: Json = 1;
  for (let i = 0; i < 40; i++) deep = { a: deep };
  return deep;
}

/** One mutated payload text (sometimes broken JSON, sometimes wrapped). */
export function mutate(base: Json, rnd: () => number): string {
  const text = JSON.stringify(mutateValue(base, rnd, 0));
  const r = rnd();
  if (r < 0.03) return text.slice(0, Math.floor(rnd() * text.length));
  if (r < 0.06) return JSON.stringify({ value: text });
  if (r < 0.08) return '{}';
  return text;
}

const LIMITS = ['/Info/MaxChargeVoltage', '/Info/MaxChargeCurrent', '/Info/MaxDischargeCurrent', '/Soc'];
const FIELD: Record<string, string[]> = {
  '/Info/MaxChargeVoltage': ['Info', 'MaxChargeVoltage'],
  '/Info/MaxChargeCurrent': ['Info', 'MaxChargeCurrent'],
  '/Info/MaxDischargeCurrent': ['Info', 'MaxDischargeCurrent'],
  '/Soc': ['Soc'],
};

export interface FuzzResult {
  runs: number;
  committed: number;
  findings: string[];
}

function typeProblem(mapping: CompiledMapping, i: number, v: unknown): string | undefined {
  if (v === null) return undefined;
  const type = mapping.paths[i]!.type;
  if (type === 's') return typeof v === 'string' ? undefined : 'not a string';
  if (typeof v !== 'number' || !Number.isFinite(v)) return 'not a finite number';
  if (type === 'd') return undefined;
  const [min, max] = INTEGER_RANGES[type];
  return Number.isInteger(v) && v >= min && v <= max ? undefined : `not an integer of type ${type}`;
}

/** Run `runs` mutated messages through the pipeline of the default mapping. */
export async function fuzz(seed: number, runs: number): Promise<FuzzResult> {
  const rnd = prng(seed);
  const mapping = loadMapping(defaultMappingFile());
  const bases = ['seed-full.json', 'seed-min.json', 'seed-bms.json'].map(
    (f) => JSON.parse(readFileSync(fixture('seed', f), 'utf8')) as Json,
  );
  const builder = new DocumentBuilder({ input: mapping.input, topics: ['bms'] });
  const evaluator = new Evaluator(mapping);
  const timeoutMs = 5000;
  // What committed messages carried, per limit path: value and until when it counts.
  const carried = new Map<string, { value: unknown; until: number }[]>();
  const findings: string[] = [];
  let committed = 0;
  let now = 0;
  for (let run = 0; run < runs && findings.length < 20; run++) {
    now += Math.floor(rnd() * 1500);
    const payload = mutate(bases[Math.floor(rnd() * bases.length)]!, rnd);
    const where = `seed ${seed}, run ${run}: ${payload.slice(0, 300)}`;
    try {
      builder.expire(now);
      builder.begin();
      const r = builder.accept('bms', payload, now + timeoutMs);
      if (!r.ok) {
        builder.rollback();
        continue;
      }
      const ev = await evaluator.evaluate(builder.document, now, builder.latest);
      if (ev.missingRequired.length) {
        builder.rollback();
        continue;
      }
      builder.commit();
      committed++;
      let sent: unknown;
      try {
        sent = JSON.parse(payload);
        if (sent && typeof sent === 'object' && typeof (sent as { value?: unknown }).value === 'string')
          sent = JSON.parse((sent as { value: string }).value);
      } catch {
        sent = undefined;
      }
      for (const p of LIMITS) {
        let v: unknown = sent;
        for (const k of FIELD[p]!) v = v && typeof v === 'object' && Object.hasOwn(v, k) ? (v as Record<string, unknown>)[k] : undefined;
        if (typeof v === 'number')
          carried.set(p, [...(carried.get(p) ?? []).filter((c) => c.until > now), { value: v, until: now + timeoutMs }]);
      }
      ev.values.forEach((v, i) => {
        const problem = typeProblem(mapping, i, v);
        if (problem) findings.push(`${mapping.paths[i]!.path} = ${JSON.stringify(v)}: ${problem} (${where})`);
      });
      for (const p of LIMITS) {
        const path = mapping.byPath.get(p)!;
        const v = ev.values[path.index];
        if (v === null) continue;
        const ok = (carried.get(p) ?? []).some((c) => c.until > now && c.value === v);
        if (!ok) findings.push(`${p} = ${String(v)} was not carried by an unexpired message (${where})`);
        if (typeof v === 'number' && ((path.min !== undefined && v < path.min) || (path.max !== undefined && v > path.max))) {
          findings.push(`${p} = ${v} is outside ${path.min}..${path.max} (${where})`);
        }
      }
    } catch (err) {
      findings.push(`threw ${(err as Error).stack ?? String(err)} (${where})`);
      builder.rollback();
    }
    const probe = {} as Record<string, unknown>;
    if (probe.Info !== undefined || probe.a !== undefined || probe.Soc !== undefined) findings.push(`Object.prototype polluted (${where})`);
  }
  return { runs, committed, findings };
}
