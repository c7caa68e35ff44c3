/**
 * Fuzzing the battery's pipeline (safety issue "No wrong or stale value reaches DVCC, whatever
 * arrives over MQTT"): mutated payloads from the seed payloads and the foreign captures go through
 * exactly what a battery does with a message —
 *
 *     builder.expire(now); builder.begin(); builder.accept(topic, payload, now + timeout);
 *     ev = evaluator.evaluate(builder.document, now, merge ? builder.latest : undefined);
 *     ev.missingRequired empty (or still gathering) ? commit : rollback
 *
 * with fake time, now and then a tick that expires leaves and re-evaluates (going stale like the
 * battery when a required path is lost), and a few batches of several messages in one
 * transaction. Every evaluation is checked against an independent model of what the committed,
 * unexpired messages carried:
 *
 *   crash        nothing throws out of accept/evaluate;
 *   type         every value has its path's D-Bus type (d: finite number, integer types: an
 *                integer in range, s: a string) or is null, and the D-Bus layer keeps it as is;
 *   range        a value lies within the path's min/max;
 *   not-carried  a path whose value is a plain field read (`Info.MaxChargeCurrent`, `a ?? b`)
 *                shows exactly what the model says the document holds at that field: the value of
 *                the last committed message that delivered it, unless it expired or a later message
 *                replaced it (or the path's default when nothing holds it);
 *   derived      the ESPHome charge limits follow their formula from the values they read;
 *   document     the document (and `latest`) hold exactly the model's leaves, topic count included;
 *   accept       a message is refused exactly when it must be (forbidden key or topic level, depth,
 *                size, not JSON, not an object, empty) and accepted otherwise;
 *   prototype    Object.prototype and Array.prototype gain nothing.
 *
 * Runs are deterministic: a fixed seed gives the same payloads, in episodes of EPISODE messages,
 * each with a fresh pipeline and its own PRNG (derived from the seed and the episode number), so a
 * finding at iteration N is reproduced by replaying only its episode (see `reproduce`).
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { coerceValue } from '../../src/dbus/values.js';
import { DocumentBuilder } from '../../src/input/index.js';
import { Evaluator, loadMapping, parseMapping, type CompiledMapping, type CompiledPath, type Evaluation } from '../../src/mapping/index.js';
import type { DbusType, PathValue } from '../../src/venus/types.js';
import { fixture, mappingFile } from '../support/paths.js';

// ------------------------------------------------------------------------------------------------
// Seeded randomness

/** mulberry32: a tiny, fast 32-bit PRNG; floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }
}

/** The PRNG seed of one episode: a hash of the run's seed and the episode number. */
export function episodeSeed(seed: number, episode: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(episode + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

// ------------------------------------------------------------------------------------------------
// JSON values as the mutator sees them: objects are entry lists (duplicate and forbidden keys are
// plain data, never a property of a JS object), and Raw holds number text JSON.stringify cannot
// write (-0, 1e400).

export class Obj {
  constructor(public entries: [string, J][]) {}
}
export class Raw {
  constructor(readonly text: string) {}
}
export type J = null | boolean | number | string | Raw | Obj | J[];

export function fromJSON(v: unknown): J {
  if (Array.isArray(v)) return v.map(fromJSON);
  if (v !== null && typeof v === 'object') return new Obj(Object.keys(v).map((k) => [k, fromJSON((v as Record<string, unknown>)[k])]));
  return v as J;
}

export function toText(j: J): string {
  if (j instanceof Raw) return j.text;
  if (j instanceof Obj) return '{' + j.entries.map(([k, v]) => JSON.stringify(k) + ':' + toText(v)).join(',') + '}';
  if (Array.isArray(j)) return '[' + j.map(toText).join(',') + ']';
  if (typeof j === 'number') return Object.is(j, -0) ? '-0' : Number.isFinite(j) ? JSON.stringify(j) : 'null';
  return JSON.stringify(j);
}

function cloneJ(j: J): J {
  if (j instanceof Obj) return new Obj(j.entries.map(([k, v]) => [k, cloneJ(v)]));
  if (Array.isArray(j)) return j.map(cloneJ);
  return j;
}

function objGet(o: Obj, key: string): J | undefined {
  for (let i = o.entries.length - 1; i >= 0; i--) if (o.entries[i]![0] === key) return o.entries[i]![1];
  return undefined;
}

function objSet(o: Obj, key: string, v: J): void {
  const e = o.entries.find(([k]) => k === key);
  if (e) e[1] = v;
  else o.entries.push([key, v]);
}

/** One place in a J tree: how to read and replace it. */
interface Slot {
  value: J;
  depth: number;
  /** The names from the root (array positions as their index). */
  keys: string[];
  set(v: J): void;
  /** The entry, when the slot is an object's entry (for renaming and dropping). */
  owner?: Obj;
  entry?: [string, J];
}

function slots(root: { j: J }): Slot[] {
  const out: Slot[] = [];
  const walk = (value: J, depth: number, keys: string[], set: (v: J) => void, owner?: Obj, entry?: [string, J]): void => {
    out.push({ value, depth, keys, set, owner, entry });
    if (depth > 40) return;
    if (value instanceof Obj) {
      for (const e of value.entries) walk(e[1], depth + 1, [...keys, e[0]], (v) => (e[1] = v), value, e);
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => walk(v, depth + 1, [...keys, String(i)], (nv) => (value[i] = nv)));
    }
  };
  walk(root.j, 0, [], (v) => (root.j = v));
  return out;
}

// ------------------------------------------------------------------------------------------------
// Vocabulary

const FORBIDDEN = ['__proto__', 'constructor', 'prototype'];

const WEIRD_STRINGS = [
  '1e3',
  'nan',
  'NaN',
  'Infinity',
  '-Infinity',
  '-0',
  '0x1F',
  '',
  ' ',
  '  52.7 ',
  '52,7',
  'ON',
  'OFF',
  'true',
  'null',
  'undefined',
  '١٢٣',
  '💥🔋',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff\ud800',
  'Ω'.repeat(300),
  '\u202e55.2',
  '{"a":1}',
  '[1]',
  '{"value": 5}',
  '__proto__',
  'constructor',
  '３００',
  '3.0e2',
  '+80',
  '.5',
  '5.',
  '0b101',
  '1_000',
];
const WEIRD_RAW = [
  '-0',
  '1e400',
  '-1e400',
  '1E3',
  '0.0e0',
  '-0.0',
  '1e-400',
  '100000000000000000000000000000',
  '9007199254740993',
  '-9007199254740993',
  '2e308',
  '4.9e-324',
  '1.0000000000000002',
];
const WEIRD_NUMBERS = [
  0,
  -1,
  1,
  1e308,
  -1e308,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 31) - 1,
  2 ** 31,
  2 ** 31 - 1,
  2 ** 32,
  2 ** 32 - 1,
  65535,
  65536,
  32767,
  32768,
  -32769,
  255,
  256,
  0.5,
  1.5,
  2.5,
  -2.5,
  -0.5,
  1e21,
  123456789.123,
  100,
  100.0001,
  2000,
  2000.5,
  -0.0001,
];

/** Keys and names the renamer draws from: every key of the seeds, variants of the ones that matter. */
const KEY_VARIANTS = [
  'soc',
  'SOC',
  ' Soc',
  'Soc ',
  'S\u200boc',
  'Ѕoc',
  'Info ',
  'info',
  'MaxChargeCurrent ',
  'maxChargeCurrent',
  'MaxChargeCurrent\u0000',
  'Info.MaxChargeCurrent',
  '',
  '0',
  '00',
  '-1',
  '1e3',
  'value',
  'Value',
  'state',
  'polluted',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '__defineGetter__',
  'length',
  '$',
  '*',
  '`',
  '\\',
  '"',
  'é',
  'e\u0301',
  '🔋',
  '\ud800',
  '\u202e',
  '💥'.repeat(50),
  'k'.repeat(500),
];

/** Fields whose values DVCC acts on, and a range a BMS might plausibly send for each. */
const LIMIT_FIELDS: Record<string, [number, number]> = {
  MaxChargeCurrent: [0, 300],
  MaxDischargeCurrent: [0, 400],
  MaxChargeVoltage: [40, 60],
  Soc: [0, 100],
};

function weirdValue(rng: Rng, depth = 0): J {
  switch (rng.int(depth > 2 ? 5 : 9)) {
    case 0:
      return rng.pick(WEIRD_STRINGS);
    case 1:
      return new Raw(rng.pick(WEIRD_RAW));
    case 2:
    case 3:
      return rng.pick(WEIRD_NUMBERS);
    case 4:
      return rng.pick([true, false, null]);
    case 5:
      return rng
        .pick([[], [rng.pick(WEIRD_NUMBERS)], [[rng.int(500)]], [1, 2], [null], [{} as never]])
        .map((x) => (x && typeof x === 'object' && !Array.isArray(x) ? new Obj([]) : x)) as J;
    case 6:
      return rng.pick([
        new Obj([]),
        new Obj([['value', rng.int(400)]]),
        new Obj([['value', String(rng.int(400))]]),
        new Obj([['MaxChargeCurrent', 300]]),
      ]);
    case 7:
      return [
        new Obj([
          ['MaxChargeCurrent', 300 + rng.int(100)],
          ['MaxChargeVoltage', 58.4],
          ['Power', 10],
          ['Voltage', 50],
          ['state', 77],
        ]),
      ];
    default:
      return rng.pick([
        [new Obj([])],
        [weirdValue(rng, depth + 1), weirdValue(rng, depth + 1)],
        new Obj([[rng.pick(KEY_VARIANTS), weirdValue(rng, depth + 1)]]),
      ]);
  }
}

/** A different, plausible number in place of `n` (so that held values differ from fresh ones). */
function nudge(rng: Rng, n: number, field?: string): number | Raw {
  const lim = field !== undefined ? LIMIT_FIELDS[field] : undefined;
  if (lim && rng.chance(0.7)) {
    const r = rng.float();
    if (r < 0.75) return Math.round(rng.range(lim[0], lim[1]) * 10) / 10;
    return rng.pick([lim[0], lim[1], -1, -0.1, 100, 100.01, 2000, 2000.1, 1e308, 0]);
  }
  if (n === 0) return rng.int(3);
  if (Number.isInteger(n) && rng.chance(0.5)) return n + rng.int(5) - 2;
  return Math.round(n * rng.range(0.9, 1.1) * 1000) / 1000;
}

// ------------------------------------------------------------------------------------------------
// Mutations

/** Random structural and value mutations of a payload (in place; the root may be replaced). */
function mutate(root: { j: J }, rng: Rng, donors: J[]): string[] {
  const done: string[] = [];
  const all = slots(root);
  const objects = all.filter((s) => s.value instanceof Obj);
  const entries = all.filter((s) => s.entry);
  const op = rng.int(17);
  switch (op) {
    case 0: {
      // drop a key
      const s = entries.length ? rng.pick(entries) : undefined;
      if (s) {
        s.owner!.entries.splice(s.owner!.entries.indexOf(s.entry!), 1);
        done.push(`drop ${s.keys.join('.')}`);
      }
      break;
    }
    case 1: {
      // duplicate a key (before or after), with another value
      const s = entries.length ? rng.pick(entries) : undefined;
      if (s) {
        const i = s.owner!.entries.indexOf(s.entry!);
        const dup: [string, J] = [s.entry![0], rng.chance(0.5) ? weirdValue(rng) : cloneJ(s.value)];
        s.owner!.entries.splice(rng.chance(0.5) ? i : i + 1, 0, dup);
        done.push(`duplicate ${s.keys.join('.')}`);
      }
      break;
    }
    case 2:
    case 3: {
      // rename a key
      const s = entries.length ? rng.pick(entries) : undefined;
      if (s) {
        const names = entries.map((e) => e.entry![0]);
        s.entry![0] = rng.chance(0.5) ? rng.pick(names) : rng.chance(0.15) ? rng.pick(FORBIDDEN) : rng.pick(KEY_VARIANTS);
        done.push(`rename ${s.keys.join('.')} → ${JSON.stringify(s.entry![0])}`);
      }
      break;
    }
    case 4:
    case 5: {
      // another type or a strange value
      const s = rng.pick(all);
      s.set(weirdValue(rng));
      done.push(`replace ${s.keys.join('.') || '(root)'}`);
      break;
    }
    case 6: {
      // deep nesting (around the 32-level limit)
      const s = rng.pick(all);
      const n = rng.chance(0.5) ? 28 + rng.int(8) : 1 + rng.int(40);
      let v = s.value;
      for (let i = 0; i < n; i++) v = rng.chance(0.7) ? new Obj([[rng.pick(['a', 'Info', 'value', '0']), v]]) : [v];
      s.set(v);
      done.push(`nest ${s.keys.join('.') || '(root)'} ×${n}`);
      break;
    }
    case 7:
    case 8: {
      // a forbidden key at a random depth
      const s = objects.length ? rng.pick(objects) : undefined;
      if (s) {
        let v: J = rng.chance(0.5)
          ? new Obj([
              ['polluted', 1],
              ['Info', new Obj([['MaxChargeCurrent', 300]])],
            ])
          : weirdValue(rng);
        for (let i = rng.int(3); i > 0; i--) v = new Obj([['x', v]]);
        const o = s.value as Obj;
        o.entries.splice(rng.int(o.entries.length + 1), 0, [rng.pick(FORBIDDEN), v]);
        done.push(`forbidden key in ${s.keys.join('.') || '(root)'}`);
      }
      break;
    }
    case 9: {
      // empty objects
      const s = rng.chance(0.2) ? all[0]! : objects.length ? rng.pick(objects) : all[0]!;
      s.set(new Obj([]));
      done.push(`empty ${s.keys.join('.') || '(root)'}`);
      break;
    }
    case 10: {
      // {"value": ...} wrappers, as an object or as JSON text
      const s = rng.pick(all);
      s.set(new Obj([['value', rng.chance(0.5) ? toText(s.value) : s.value]]));
      done.push(`wrap ${s.keys.join('.') || '(root)'}`);
      break;
    }
    case 11: {
      // into an array: [x], [{...}] (JSONata maps paths over arrays)
      const s = rng.pick(all.slice(1).length ? all.slice(1) : all);
      s.set(rng.chance(0.7) ? [s.value] : [s.value, cloneJ(s.value)]);
      done.push(`arrayify ${s.keys.join('.')}`);
      break;
    }
    case 12: {
      // a subtree of another payload
      const donor = slots({ j: cloneJ(rng.pick(donors)) }).filter((d) => d.entry);
      const s = objects.length ? rng.pick(objects) : undefined;
      if (s && donor.length) {
        const d = rng.pick(donor);
        objSet(s.value as Obj, d.entry![0], d.value);
        done.push(`transplant ${d.keys.join('.')} into ${s.keys.join('.') || '(root)'}`);
      }
      break;
    }
    case 13: {
      // object → array of its values, or reordered keys
      const s = objects.length ? rng.pick(objects) : undefined;
      if (s) {
        const o = s.value as Obj;
        if (rng.chance(0.5)) {
          s.set(o.entries.map(([, v]) => v));
          done.push(`values of ${s.keys.join('.')}`);
        } else {
          for (let i = o.entries.length - 1; i > 0; i--) {
            const k = rng.int(i + 1);
            [o.entries[i], o.entries[k]] = [o.entries[k]!, o.entries[i]!];
          }
          done.push(`shuffle ${s.keys.join('.')}`);
        }
      }
      break;
    }
    case 14:
    case 15: {
      // a limit field set to something strange (created where it was not)
      const field = rng.pick(Object.keys(LIMIT_FIELDS));
      const parent =
        field === 'Soc' || !(root.j instanceof Obj)
          ? root.j
          : (objGet(root.j, 'Info') ?? (objSet(root.j, 'Info', new Obj([])), objGet(root.j, 'Info')!));
      if (parent instanceof Obj) {
        objSet(parent, field, weirdValue(rng));
        done.push(`strange ${field}`);
      }
      break;
    }
    default: {
      // drop what is required
      if (root.j instanceof Obj) {
        const key = rng.pick(['Dc', 'Soc', 'Info', 'Voltages']);
        root.j.entries = root.j.entries.filter(([k]) => k !== key);
        done.push(`drop ${key}`);
      }
    }
  }
  return done;
}

/** Text-level damage: truncation, stray characters, BOM, garbage. */
function damageText(text: string, rng: Rng): string {
  switch (rng.int(8)) {
    case 0:
      return text.slice(0, rng.int(text.length));
    case 1: {
      const i = rng.int(text.length + 1);
      return text.slice(0, i) + rng.pick(['{', '}', '[', ']', '"', ',', ':', '\\', ' ', '\u0000', 'é', '\ud800', 'x']) + text.slice(i);
    }
    case 2: {
      const i = rng.int(text.length);
      return text.slice(0, i) + text.slice(i + 1);
    }
    case 3:
      return '\ufeff' + text;
    case 4:
      return ` \n\t${text}\r\n `;
    case 5:
      return text + rng.pick([',', '}', ' {}', '\u0000', 'garbage']);
    case 6:
      return rng.pick([
        '',
        ' ',
        'null',
        '[]',
        '123',
        '"x"',
        'ON',
        'nan',
        'true',
        '{}',
        '[{}]',
        '{"value":""}',
        '{"value":"{"}',
        '{"value":null}',
      ]);
    default: {
      const i = rng.int(text.length);
      return text.slice(0, i) + text.slice(i, i + rng.int(40)) + text.slice(i);
    }
  }
}

/** Invalid UTF-8 in the bytes (the builder decodes with replacement characters). */
function damageBytes(buf: Buffer, rng: Rng): Buffer {
  const i = rng.int(buf.length + 1);
  return Buffer.concat([buf.subarray(0, i), Buffer.from([rng.pick([0xff, 0xc0, 0xe2, 0x80, 0xed])]), buf.subarray(i)]);
}

// ------------------------------------------------------------------------------------------------
// Scenarios: a shipped mapping, its topics and its seeds

interface Message {
  topic: string;
  payload: string | Buffer;
  ops: string[];
}

export interface Scenario {
  name: string;
  mapping: CompiledMapping;
  /** The battery's topic filters (what DocumentBuilder is given). */
  filters: string[];
  /** Seconds a message's leaves live, per topic. */
  timeouts: number[];
  variables: Record<string, unknown>;
  /** Several sources or a tree: the battery keeps gathering before it first connects. */
  gathers: boolean;
  message(rng: Rng): Message;
  /** Extra checks of computed paths (the limits DVCC uses). */
  derived?: (
    at: (path: string) => PathValue,
    model: DocModel,
  ) => { path: string; expected: string; actual: PathValue; throughArray: boolean } | undefined;
}

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Numeric leaves changed to other plausible numbers. */
function freshen(j: J, rng: Rng, p: number): J {
  if (typeof j === 'number') return rng.chance(p) ? nudge(rng, j) : j;
  if (j instanceof Obj)
    return new Obj(
      j.entries.map(([k, v]) => [
        k,
        typeof v === 'number' && k in LIMIT_FIELDS ? (rng.chance(0.6) ? nudge(rng, v, k) : v) : freshen(v, rng, p),
      ]),
    );
  if (Array.isArray(j)) return j.map((v) => freshen(v, rng, p));
  return j;
}

function jsonMessage(
  rng: Rng,
  seeds: J[],
  weights: number[],
  opts: { wrapString: number; wrapObject: number; donors: J[] },
): { payload: string | Buffer; ops: string[] } {
  let r = rng.float() * weights.reduce((a, b) => a + b, 0);
  let k = 0;
  while (r >= weights[k]!) r -= weights[k++]!;
  const root = { j: freshen(cloneJ(seeds[k]!), rng, 0.3) };
  const ops: string[] = [`seed ${k}`];
  if (!rng.chance(0.35)) for (let n = 1 + rng.int(4); n > 0; n--) ops.push(...mutate(root, rng, opts.donors));
  let text = toText(root.j);
  const w = rng.float();
  if (w < opts.wrapString + opts.wrapObject) {
    if (rng.chance(0.05)) {
      text = damageText(text, rng);
      ops.push('damaged inner text');
    }
    const inner: J = w < opts.wrapString ? (rng.chance(0.1) ? ` ${text} ` : text) : rng.chance(0.9) ? root.j : text;
    const outer = { j: new Obj([['value', inner]]) as J };
    ops.push(typeof inner === 'string' ? 'wrapped as text' : 'wrapped');
    if (rng.chance(0.1)) {
      const o = outer.j as Obj;
      switch (rng.int(5)) {
        case 0:
          o.entries.push(['extra', 1]);
          break;
        case 1:
          o.entries[0]![0] = rng.pick(['Value', 'value ', 'values', '__proto__']);
          break;
        case 2:
          o.entries[0]![1] = weirdValue(rng);
          break;
        case 3:
          outer.j = new Obj([['value', toText(outer.j)]]);
          break;
        default:
          o.entries.unshift(['value', weirdValue(rng)]);
      }
      ops.push('outer wrapper mutated');
    }
    text = toText(outer.j);
  }
  if (rng.chance(0.05)) {
    text = damageText(text, rng);
    ops.push('damaged text');
  }
  if (rng.chance(0.0005)) {
    text = ' '.repeat(256 * 1024) + text;
    ops.push('oversized');
  }
  if (rng.chance(0.5)) return { payload: text, ops };
  let buf: Buffer = Buffer.from(text, 'utf8');
  if (rng.chance(0.02)) {
    buf = damageBytes(buf, rng);
    ops.push('invalid UTF-8');
  }
  return { payload: buf, ops };
}

/** Topic mutations for one-value-per-topic formats. */
function mutateTopic(topic: string, rng: Rng): string {
  const levels = topic.split('/');
  switch (rng.int(9)) {
    case 0:
      return topic + '/' + rng.pick(['x', 'state', 'value', '0', '']);
    case 1:
      return levels.slice(0, Math.max(1, levels.length - 1 - rng.int(2))).join('/');
    case 2: {
      const i = 1 + rng.int(levels.length);
      levels.splice(i, 0, '');
      return levels.join('/');
    }
    case 3: {
      const i = rng.int(levels.length + 1);
      levels.splice(i, rng.chance(0.5) ? 1 : 0, rng.pick(FORBIDDEN));
      return levels.join('/');
    }
    case 4: {
      const i = 1 + rng.int(levels.length - 1);
      levels[i] = rng.pick(KEY_VARIANTS);
      return levels.join('/');
    }
    case 5:
      return rng.pick(['other', 'jk-bms2', 'N', '']) + '/' + levels.slice(1).join('/');
    case 6:
      return topic + '/';
    case 7:
      return levels[0]!;
    default:
      return levels.map((l) => (rng.chance(0.2) ? rng.pick(['+', '#', 'é', '🔋', ' ', 'sensor']) : l)).join('/');
  }
}

/** A plain payload: fresh numbers mostly, strange text, JSON or damaged JSON sometimes. */
function leafPayload(base: string, rng: Rng, donors: J[]): { text: string; ops: string[] } {
  const n = Number(base);
  let text = base;
  const ops: string[] = [];
  if (base.trim() !== '' && Number.isFinite(n)) {
    const decimals = (base.split('.')[1] ?? '').length;
    const v = nudge(rng, n);
    text = v instanceof Raw ? v.text : v.toFixed(decimals);
  } else if (base === 'ON' || base === 'OFF') text = rng.chance(0.3) ? (base === 'ON' ? 'OFF' : 'ON') : base;
  if (rng.chance(0.3)) {
    switch (rng.int(6)) {
      case 0:
        text = toText(weirdValue(rng));
        break;
      case 1:
        text = rng.pick(WEIRD_STRINGS);
        break;
      case 2: {
        const root = { j: rng.chance(0.5) ? (new Obj([['state', fromJSON(Number(text)) ?? null]]) as J) : cloneJ(rng.pick(donors)) };
        for (let k = 1 + rng.int(3); k > 0; k--) ops.push(...mutate(root, rng, donors));
        text = toText(root.j);
        break;
      }
      case 3:
        text = damageText(text, rng);
        break;
      case 4:
        text = `{"${rng.pick(FORBIDDEN)}": {"polluted": 1, "state": 300}}`;
        break;
      default:
        text = rng.pick([` ${text} `, `"${text}"`, `[${text}]`, `{"value": ${text}}`, `{"value": "${text}"}`, `{"state": ${text}}`]);
    }
    ops.push('strange payload');
  }
  return { text, ops };
}

function treeScenario(
  name: string,
  mapping: CompiledMapping,
  capture: Record<string, string>,
  derived: Scenario['derived'],
  wrapped: boolean,
): Scenario {
  const filter = mapping.input.topic!;
  const topics = Object.keys(capture);
  const donors = Object.values(capture)
    .map((t) => {
      try {
        return fromJSON(JSON.parse(t));
      } catch {
        return t;
      }
    })
    .filter((j) => j instanceof Obj);
  if (!donors.length) donors.push(new Obj([['state', 1]]));
  return {
    name,
    mapping,
    filters: [filter],
    timeouts: [10],
    variables: {},
    gathers: true,
    derived,
    message(rng) {
      let topic = rng.pick(topics);
      const ops: string[] = [];
      let text: string;
      if (wrapped) {
        // Venus's MQTT bridge: {"value": X}
        let inner: unknown;
        try {
          inner = (JSON.parse(capture[topic]!) as { value?: unknown }).value;
        } catch {
          inner = undefined;
        }
        const base = typeof inner === 'number' ? String(inner) : typeof inner === 'string' ? JSON.stringify(inner) : 'null';
        const leaf = leafPayload(typeof inner === 'number' ? base : capture[topic]!, rng, donors);
        ops.push(...leaf.ops);
        text =
          typeof inner === 'number' && !leaf.ops.length
            ? `{"value": ${leaf.text}}`
            : leaf.ops.length && rng.chance(0.5)
              ? `{"value": ${leaf.text.trim() === '' ? '""' : leaf.text}}`
              : leaf.ops.length
                ? leaf.text
                : capture[topic]!;
      } else {
        const leaf = leafPayload(capture[topic]!, rng, donors);
        ops.push(...leaf.ops);
        text = leaf.text;
      }
      if (rng.chance(0.04) && topic.includes('/')) {
        // one level up, the last level inside the payload: as an object (a value carried), or in an array
        const last = topic.slice(topic.lastIndexOf('/') + 1);
        topic = topic.slice(0, topic.lastIndexOf('/'));
        const v = leafPayload(String(rng.int(400)), rng, donors).text;
        text = rng.pick([
          `{"${last}": ${v}}`,
          `[{"${last}": ${v}}]`,
          `[{"${last}": ${v}}, {"${last}": 1}]`,
          `[{"${last}": ${v}}, {}]`,
          `{"${last}": [${v}]}`,
        ]);
        ops.push(`one level up with ${text}`);
      } else if (rng.chance(0.15)) {
        topic = mutateTopic(topic, rng);
        ops.push('topic mutated');
      }
      return { topic, payload: rng.chance(0.5) ? text : Buffer.from(text, 'utf8'), ops };
    },
  };
}

/** The Venus per-path topics of the serialbattery capture ({"value": X}), with integer types of every width. */
const VENUS_TREE_MAPPING = `
name: Venus MQTT per-path topics (fuzz)
input: {format: tree, unwrap: value, topic: "N/c0619ab1c2d3/battery/1/#"}
required: [/Dc/0/Voltage, /Soc]
paths:
  /Dc/0/Voltage: {type: d, value: "Dc.\`0\`.Voltage", min: 0, max: 100}
  /Dc/0/Current: {type: d, value: "Dc.\`0\`.Current"}
  /Dc/0/Power: {type: d, value: "Dc.\`0\`.Power", fallback: "$path('/Dc/0/Voltage') * $path('/Dc/0/Current')"}
  /Dc/0/Temperature: {type: n, value: "Dc.\`0\`.Temperature"}
  /Soc: {type: d, value: Soc, min: 0, max: 100}
  /Capacity: {type: d, value: Capacity}
  /InstalledCapacity: {type: q, value: InstalledCapacity}
  /ConsumedAmphours: {type: d, value: ConsumedAmphours ?? Capacity}
  /TimeToGo: {type: u, value: TimeToGo}
  /Info/MaxChargeVoltage: {type: d, value: Info.MaxChargeVoltage, min: 0, max: 100}
  /Info/MaxChargeCurrent: {type: d, value: Info.MaxChargeCurrent, min: 0, max: 2000}
  /Info/MaxDischargeCurrent: {type: d, value: Info.MaxDischargeCurrent, min: 0, max: 2000}
  /Info/ChargeMode: {type: s, value: Info.ChargeMode}
  /System/MinCellVoltage: {type: d, value: System.MinCellVoltage}
  /System/MinVoltageCellId: {type: s, value: System.MinVoltageCellId}
  /Voltages/Cell1: {type: d, value: Voltages.Cell1}
  /Voltages/Diff: {type: d, value: Voltages.Diff}
  /Balances/Cell6: {type: b, value: Balances.Cell6}
  /Balancing: {type: y, value: Balancing}
  /Io/AllowToCharge: {type: i, value: Io.AllowToCharge, default: 0}
  /Io/AllowToDischarge: {type: x, value: Io.AllowToDischarge}
  /Alarms/FuseBlown: {type: t, value: Alarms.FuseBlown}
  /History/ChargeCycles: {type: u, value: History.ChargeCycles}
  /ConnectionInformation: {type: s, value: ProductName}
`;

/** ESPHome JK-BMS: the charge limits DVCC uses are formulas; check them against what they read. */
/** The mapping's sane range for a limit (0..max): outside it the path is invalid. */
const bounded = (v: PathValue, max: number): PathValue => (typeof v === 'number' && (v < 0 || v > max) ? null : v);

function esphomeDerived(vars: Record<string, unknown>): Scenario['derived'] {
  const cellV = Number(vars.chargeCellVoltage);
  const maxC = Number(vars.maxChargeCurrent);
  const maxD = Number(vars.maxDischargeCurrent);
  /**
   * The values the limit may take (an empty branch may or may not have been pruned yet), what was
   * read, and whether an array stood in the way (JSONata then flattens or maps over it).
   */
  const limit = (model: DocModel, allow: PathValue, field: string, max: number): [PathValue[], string, boolean] => {
    const f = model.get(['sensor', field, 'state']);
    const read = `${field} ${f.kind === 'leaf' ? show(f.value) : f.kind === 'branch' ? (f.empty ? 'an empty object' : 'an object') : f.throughArray ? 'absent (an array on the way)' : 'absent'}, allowed ${allow}`;
    const array = (f.kind === 'leaf' && Array.isArray(f.value)) || (f.kind === 'absent' && f.throughArray === true);
    if (allow === null) return [[null], read, false];
    if (allow === 0) return [[0], read, false];
    if (f.kind === 'absent') return [f.throughArray ? [null] : [max], read, array];
    if (f.kind === 'branch' && f.empty) return [[null, max], read, false];
    if (f.kind === 'leaf' && typeof f.value === 'number' && Number.isFinite(f.value)) return [[Math.min(max, f.value)], read, false];
    return [[null], read, array];
  };
  return (at, model) => {
    const nr = at('/System/NrOfCellsPerBattery');
    const mcv = at('/Info/MaxChargeVoltage');
    const expV = bounded(nr === null ? null : cellV * (nr as number), 100);
    if (mcv !== expV)
      return {
        path: '/Info/MaxChargeVoltage',
        expected: `${expV} (chargeCellVoltage × /System/NrOfCellsPerBattery ${nr})`,
        actual: mcv,
        throughArray: false,
      };
    const mcc = at('/Info/MaxChargeCurrent');
    const [rawC, readC, arrayC] = limit(model, at('/Io/AllowToCharge'), 'charging_overcurrent_protection', maxC);
    const expC = rawC.map((v) => bounded(v, 2000));
    if (!expC.includes(mcc))
      return {
        path: '/Info/MaxChargeCurrent',
        expected: `${expC.map(show).join(' or ')}: 0 when charging is off, else min(${maxC}, charging_overcurrent_protection) (${readC})`,
        actual: mcc,
        throughArray: arrayC,
      };
    const mdc = at('/Info/MaxDischargeCurrent');
    const [rawD, readD, arrayD] = limit(model, at('/Io/AllowToDischarge'), 'discharging_overcurrent_protection', maxD);
    const expD = rawD.map((v) => bounded(v, 2000));
    if (!expD.includes(mdc))
      return {
        path: '/Info/MaxDischargeCurrent',
        expected: `${expD.map(show).join(' or ')}: 0 when discharging is off, else min(${maxD}, discharging_overcurrent_protection) (${readD})`,
        actual: mdc,
        throughArray: arrayD,
      };
    return undefined;
  };
}

let scenarioCache: Scenario[] | undefined;

export function scenarios(): Scenario[] {
  if (scenarioCache) return scenarioCache;
  const seedFiles = ['seed-min.json', 'seed-bms.json', 'seed-full.json'].map((f) => fromJSON(readJson(fixture('seed', f))));
  const sbCapture = readJson(fixture('foreign', 'serialbattery', 'mqtt-capture.json')) as Record<string, string>;
  const jsonDataTopic = Object.keys(sbCapture).find((t) => t.endsWith('/JsonData'))!;
  const sbInner = fromJSON(JSON.parse((JSON.parse(sbCapture[jsonDataTopic]!) as { value: string }).value));
  const espCapture = readJson(fixture('foreign', 'esphome-jk-bms', 'mqtt-capture.json')) as Record<string, string>;
  const donors = [...seedFiles, sbInner];

  const def = loadMapping(mappingFile('default.yaml'));
  const sb = loadMapping(mappingFile('serialbattery-jsondata.yaml'));
  const esp = loadMapping(mappingFile('esphome-jk-bms.yaml'));
  const venus = parseMapping(VENUS_TREE_MAPPING, '<fuzz venus-tree>');
  const daly = loadMapping(mappingFile('daly-bms-mqtt.yaml'));
  const dalyCapture = readFileSync(fixture('foreign', 'daly-bms-mqtt', 'mqtt-capture.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { topic: string; payload: string })
    .filter((l) => l.topic === 'BMS01/Pack_Data');
  const dalySeed = fromJSON(JSON.parse(dalyCapture.at(-1)!.payload));
  const batmon = loadMapping(mappingFile('batmon-ha.yaml'));
  const batmonCapture = readJson(fixture('foreign', 'batmon-ha', 'mqtt-capture.json')) as Record<string, string>;
  const opendtu = loadMapping(mappingFile('opendtu-onbattery.yaml'));
  // The capture uses a user-set base topic (openDTU/); the mapping's filter is the default solar/.
  const opendtuCapture = Object.fromEntries(
    Object.entries(readJson(fixture('foreign', 'opendtu-onbattery', 'pylontech-capture.json')) as Record<string, string>).map(([t, p]) => [
      t.replace(/^openDTU\//, 'solar/'),
      p,
    ]),
  );

  const json = (
    name: string,
    mapping: CompiledMapping,
    topics: string[],
    timeouts: number[],
    seeds: J[],
    weights: number[],
    wrapString: number,
    wrapObject: number,
  ): Scenario => ({
    name,
    mapping,
    filters: topics,
    timeouts,
    variables: {},
    gathers: topics.length > 1,
    message(rng) {
      const topic = rng.pick(topics);
      const m = jsonMessage(rng, seeds, weights, { wrapString, wrapObject, donors });
      return { topic, ...m };
    },
  });
  scenarioCache = [
    json('default', def, ['bms/house'], [10], donors, [1, 3, 4, 2], 0.1, 0.05),
    json('default-2topics', def, ['bms/a', 'bms/b'], [8, 20], donors, [2, 3, 2, 2], 0.1, 0.05),
    json('serialbattery', sb, [jsonDataTopic], [10], donors, [1, 1, 1, 6], 0.85, 0.05),
    json(
      'serialbattery-2topics',
      sb,
      [jsonDataTopic, jsonDataTopic.replace('/battery/1/', '/battery/2/')],
      [10, 25],
      donors,
      [1, 1, 1, 6],
      0.85,
      0.05,
    ),
    treeScenario('esphome', esp, espCapture, esphomeDerived(esp.variables), false),
    treeScenario('venus-tree', venus, sbCapture, undefined, true),
    json('daly-bms-mqtt', daly, ['BMS01/Pack_Data'], [10], [dalySeed], [1], 0, 0),
    treeScenario('batmon-ha', batmon, batmonCapture, undefined, false),
    treeScenario('opendtu-onbattery', opendtu, opendtuCapture, undefined, false),
  ];
  return scenarioCache;
}

const SCENARIO_WEIGHTS: Record<string, number> = {
  default: 30,
  'default-2topics': 10,
  serialbattery: 15,
  'serialbattery-2topics': 5,
  esphome: 30,
  'venus-tree': 10,
  'daly-bms-mqtt': 5,
  'batmon-ha': 5,
  'opendtu-onbattery': 5,
};

// ------------------------------------------------------------------------------------------------
// The model: what the committed, unexpired messages carried

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Unit {
  keys: string[];
  value: unknown;
  expiresAt: number;
  topic: string;
  node: TNode;
}

class TNode {
  readonly children = new Map<string, TNode>();
  unit?: Unit;
}

type Op = { t: 'unit'; node: TNode; old: Unit | undefined } | { t: 'child'; parent: TNode; key: string; old: TNode | undefined };

/** `throughArray`: absent, but an array stands where an object would hold the field (JSONata maps a path over arrays). */
export type Lookup = { kind: 'leaf'; value: unknown } | { kind: 'branch'; empty: boolean } | { kind: 'absent'; throughArray?: boolean };

/**
 * The document as a trie of units: a unit is what one message set at one place (a JSON leaf, or a
 * topic's whole value in a tree), with its topic and expiry. Setting a unit replaces everything
 * above and below it; a branch of a merged message replaces a unit at its place. Changes are
 * logged so that a rolled-back transaction is undone.
 */
export class DocModel {
  private root = new TNode();
  private readonly units = new Set<Unit>();
  private readonly byTopic = new Map<string, Set<Unit>>();
  private log?: Op[];

  begin(): void {
    this.log = [];
  }
  commit(): void {
    this.log = undefined;
  }
  rollback(): void {
    const log = this.log ?? [];
    this.log = undefined;
    for (let i = log.length - 1; i >= 0; i--) {
      const op = log[i]!;
      if (op.t === 'unit') this.writeUnit(op.node, op.old);
      else this.writeChild(op.parent, op.key, op.old);
    }
  }
  clear(): void {
    this.root = new TNode();
    this.units.clear();
    this.byTopic.clear();
    this.log = undefined;
  }

  get topicCount(): number {
    let n = 0;
    for (const s of this.byTopic.values()) if (s.size) n++;
    return n;
  }
  hasTopic(topic: string): boolean {
    return (this.byTopic.get(topic)?.size ?? 0) > 0;
  }

  private writeUnit(node: TNode, unit: Unit | undefined): void {
    const old = node.unit;
    if (old) {
      this.units.delete(old);
      this.byTopic.get(old.topic)?.delete(old);
    }
    node.unit = unit;
    if (unit) {
      this.units.add(unit);
      let s = this.byTopic.get(unit.topic);
      if (!s) this.byTopic.set(unit.topic, (s = new Set()));
      s.add(unit);
    }
  }
  private setUnit(node: TNode, unit: Unit | undefined): void {
    this.log?.push({ t: 'unit', node, old: node.unit });
    this.writeUnit(node, unit);
  }
  private writeChild(parent: TNode, key: string, node: TNode | undefined): void {
    const old = parent.children.get(key);
    if (old) this.forEachUnit(old, (u) => (this.units.delete(u), this.byTopic.get(u.topic)?.delete(u)));
    if (node) {
      parent.children.set(key, node);
      this.forEachUnit(node, (u) => {
        this.units.add(u);
        let s = this.byTopic.get(u.topic);
        if (!s) this.byTopic.set(u.topic, (s = new Set()));
        s.add(u);
      });
    } else parent.children.delete(key);
  }
  private setChild(parent: TNode, key: string, node: TNode | undefined): void {
    this.log?.push({ t: 'child', parent, key, old: parent.children.get(key) });
    this.writeChild(parent, key, node);
  }
  private forEachUnit(node: TNode, fn: (u: Unit) => void): void {
    if (node.unit) fn(node.unit);
    for (const c of node.children.values()) this.forEachUnit(c, fn);
  }

  /** The branch node at `keys` (created; a unit on the way is replaced by a branch). */
  private branch(keys: readonly string[]): TNode {
    let n = this.root;
    for (const k of keys) {
      let c = n.children.get(k);
      if (!c) this.setChild(n, k, (c = new TNode()));
      else if (c.unit) this.setUnit(c, undefined);
      n = c;
    }
    return n;
  }

  /** A unit at `keys`, replacing whatever was there and any unit above it. */
  set(keys: readonly string[], value: unknown, expiresAt: number, topic: string): void {
    const parent = this.branch(keys.slice(0, -1));
    const node = new TNode();
    this.setChild(parent, keys[keys.length - 1]!, node);
    this.setUnit(node, { keys: [...keys], value, expiresAt, topic, node });
  }

  /** A merged message: leaves become units, branches replace a unit at their place. */
  merge(tree: Record<string, unknown>, expiresAt: number, topic: string, at: string[] = []): void {
    for (const k of Object.keys(tree)) {
      const v = tree[k];
      if (isObj(v)) {
        this.branch([...at, k]);
        this.merge(v, expiresAt, topic, [...at, k]);
      } else this.set([...at, k], v, expiresAt, topic);
    }
  }

  /** json without merge: a topic's payload replaces what its previous one delivered. */
  removeTopic(topic: string): void {
    for (const u of [...(this.byTopic.get(topic) ?? [])]) this.setUnit(u.node, undefined);
  }

  /** Drop the units whose time is up; true when any went. */
  expire(now: number): boolean {
    let dropped = false;
    for (const u of [...this.units]) {
      if (u.expiresAt <= now) {
        this.setUnit(u.node, undefined);
        dropped = true;
      }
    }
    return dropped;
  }

  /** Keep only the units `doc` still holds with the same value (what expiry does to `latest`). */
  keepHeldBy(doc: DocModel): void {
    for (const u of [...this.units]) {
      const d = doc.get(u.keys);
      if (d.kind !== 'leaf' || !deepEqual(d.value, u.value)) this.setUnit(u.node, undefined);
    }
  }

  /** What a plain field read of `names` finds. */
  get(names: readonly string[]): Lookup {
    let n = this.root;
    for (let i = 0; i < names.length; i++) {
      const c = n.children.get(names[i]!);
      if (!c) return { kind: 'absent' };
      if (c.unit) {
        let v: unknown = c.unit.value;
        for (let k = i + 1; k < names.length; k++) {
          if (!isObj(v) || !Object.hasOwn(v, names[k]!)) return { kind: 'absent', throughArray: Array.isArray(v) };
          v = v[names[k]!];
        }
        return isObj(v) ? { kind: 'branch', empty: Object.keys(v).length === 0 } : { kind: 'leaf', value: v };
      }
      n = c;
    }
    return { kind: 'branch', empty: !hasUnits(n) };
  }

  /** Every leaf: key path (see pathKey) → value. */
  leaves(): Map<string, unknown> {
    const out = new Map<string, unknown>();
    const walk = (node: TNode, prefix: string): void => {
      if (node.unit) flattenInto(node.unit.value, prefix, out);
      for (const [k, c] of node.children) walk(c, prefix + k.length + ':' + k);
    };
    walk(this.root, '');
    return out;
  }
}

function hasUnits(n: TNode): boolean {
  if (n.unit) return true;
  for (const c of n.children.values()) if (hasUnits(c)) return true;
  return false;
}

/** Key paths as map keys: each key length-prefixed (cheap, and unambiguous whatever the keys hold). */
function flattenInto(v: unknown, prefix: string, out: Map<string, unknown>): void {
  if (isObj(v)) for (const k of Object.keys(v)) flattenInto(v[k], prefix + k.length + ':' + k, out);
  else out.set(prefix, v);
}

function keysOf(pathKey: string): string[] {
  const keys: string[] = [];
  for (let i = 0; i < pathKey.length;) {
    const colon = pathKey.indexOf(':', i);
    const n = Number(pathKey.slice(i, colon));
    keys.push(pathKey.slice(colon + 1, colon + 1 + n));
    i = colon + 1 + n;
  }
  return keys;
}

/** The leaves of a real document (objects are branches, everything else a leaf). */
function leavesOf(doc: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  flattenInto(doc, '', out);
  return out;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka)
    if (!Object.hasOwn(b, k) || !deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

/** The first difference between two leaf maps, or undefined. */
function leafDiff(real: Map<string, unknown>, model: Map<string, unknown>): string | undefined {
  for (const [k, v] of model) {
    if (!real.has(k)) return `${show(keysOf(k))} missing (model: ${show(v)})`;
    if (!deepEqual(real.get(k), v)) return `${show(keysOf(k))} is ${show(real.get(k))}, model ${show(v)}`;
  }
  for (const [k, v] of real) if (!model.has(k)) return `${show(keysOf(k))} = ${show(v)} is not in the model`;
  return undefined;
}

function show(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  try {
    const s = JSON.stringify(v);
    return s.length > 200 ? s.slice(0, 200) + '…' : s;
  } catch {
    return String(v);
  }
}

// --- what a message must deliver, from its text alone (the README's rules) -----------------------

const MAX_DEPTH = 32;
const MAX_PAYLOAD = 256 * 1024;

type Parsed = { ok: true; value: unknown; keys?: string[]; leaves: number } | { ok: false; why: string };

function hostile(v: unknown, depth = 0): string | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  if (depth >= MAX_DEPTH) return 'depth';
  if (Array.isArray(v)) {
    for (const x of v) {
      const h = hostile(x, depth + 1);
      if (h) return h;
    }
    return undefined;
  }
  for (const k of Object.keys(v)) {
    if (FORBIDDEN.includes(k)) return `key ${k}`;
    const h = hostile((v as Record<string, unknown>)[k], depth + 1);
    if (h) return h;
  }
  return undefined;
}

function unwrapped(v: unknown, key: string | undefined): Parsed {
  if (!key || !isObj(v) || !Object.hasOwn(v, key)) return { ok: true, value: v, leaves: 0 };
  const inner = v[key];
  if (typeof inner === 'string') {
    const t = inner.trim();
    if (t.startsWith('{') || t.startsWith('[')) {
      let p: unknown;
      try {
        p = JSON.parse(t);
      } catch {
        return { ok: false, why: 'inner JSON' };
      }
      const h = hostile(p);
      return h ? { ok: false, why: `inner ${h}` } : { ok: true, value: p, leaves: 0 };
    }
  }
  return { ok: true, value: inner, leaves: 0 };
}

function countLeaves(v: unknown): number {
  if (!isObj(v)) return 1;
  let n = 0;
  for (const k of Object.keys(v)) n += countLeaves(v[k]);
  return n;
}

function expectMessage(scn: Scenario, topic: string, text: string, bytes: number, model: DocModel, maxTopics: number): Parsed {
  const input = scn.mapping.input;
  if (bytes > MAX_PAYLOAD) return { ok: false, why: 'size' };
  if (!model.hasTopic(topic) && model.topicCount >= maxTopics) return { ok: false, why: 'topics' };
  if (input.format === 'tree') {
    const filter = scn.filters.find((f) => matches(f, topic));
    const t = topic.split('/');
    const f = filter?.split('/');
    const keys = f && f[f.length - 1] === '#' ? t.slice(f.length - 1) : t;
    if (keys.length === 0 || keys.some((k) => k === '')) return { ok: false, why: 'topic gives no key' };
    if (keys.some((k) => FORBIDDEN.includes(k))) return { ok: false, why: 'forbidden level' };
    const trimmed = text.trim();
    if (trimmed === '') return { ok: false, why: 'empty' };
    let v: unknown;
    try {
      v = JSON.parse(trimmed);
    } catch {
      v = text;
    }
    const h = hostile(v);
    if (h) return { ok: false, why: h };
    const u = unwrapped(v, input.unwrap);
    return u.ok ? { ok: true, value: u.value, keys, leaves: 1 } : u;
  }
  if (text.trim() === '') return { ok: false, why: 'empty' };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, why: 'not JSON' };
  }
  const h = hostile(v);
  if (h) return { ok: false, why: h };
  const u = unwrapped(v, input.unwrap);
  if (!u.ok) return u;
  if (!isObj(u.value)) return { ok: false, why: 'not an object' };
  return { ok: true, value: u.value, leaves: isObj(u.value) && Object.keys(u.value).length === 0 ? 0 : countLeavesTree(u.value) };
}

function countLeavesTree(v: Record<string, unknown>): number {
  let n = 0;
  for (const k of Object.keys(v)) n += isObj(v[k]) ? countLeavesTree(v[k] as Record<string, unknown>) : countLeaves(v[k]);
  return n;
}

function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Apply an accepted message to the document model (and, for `latest`, the latest model). */
function applyMessage(scn: Scenario, model: DocModel, topic: string, p: Extract<Parsed, { ok: true }>, expiresAt: number): void {
  const input = scn.mapping.input;
  if (input.format === 'tree') model.set(p.keys!, p.value, expiresAt, topic);
  else if (input.merge) model.merge(p.value as Record<string, unknown>, expiresAt, topic);
  else {
    model.removeTopic(topic);
    const each = (v: Record<string, unknown>, at: string[]): void => {
      for (const k of Object.keys(v)) {
        if (isObj(v[k])) each(v[k] as Record<string, unknown>, [...at, k]);
        else model.set([...at, k], v[k], expiresAt, topic);
      }
    };
    each(p.value as Record<string, unknown>, []);
  }
}

// ------------------------------------------------------------------------------------------------
// Oracles on one evaluation

const INTEGER_RANGES: Record<Exclude<DbusType, 'd' | 's'>, [number, number]> = {
  y: [0, 255],
  n: [-32768, 32767],
  q: [0, 65535],
  i: [-2147483648, 2147483647],
  u: [0, 4294967295],
  x: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  t: [0, Number.MAX_SAFE_INTEGER],
  b: [0, 1],
};

function typeProblem(v: PathValue, type: DbusType): string | undefined {
  if (v === null) return undefined;
  if (type === 's') return typeof v === 'string' ? undefined : `a ${typeof v} on an s path`;
  if (typeof v !== 'number') return `a ${typeof v} on a ${type} path`;
  if (!Number.isFinite(v)) return `${v} is not finite`;
  if (Object.is(v, -0)) return '-0 (not normalised)';
  if (type === 'd') return undefined;
  const [lo, hi] = INTEGER_RANGES[type];
  if (!Number.isInteger(v)) return `${v} is not an integer (${type})`;
  if (v < lo || v > hi) return `${v} is outside ${lo}..${hi} (${type})`;
  return undefined;
}

/** What coercing a document value to the path's type must give (README: numbers only, rounded). */
function expectedValue(v: unknown, p: CompiledPath): PathValue {
  let out: PathValue;
  if (v === null || v === undefined) return null;
  if (p.type === 's') {
    if (typeof v === 'string') out = v.includes('\0') ? null : v;
    else if (typeof v === 'number') out = Number.isFinite(v) ? String(v) : null;
    else if (typeof v === 'boolean') out = String(v);
    else out = null;
    return out;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  if (p.type === 'd') out = v === 0 ? 0 : v;
  else {
    if (p.type === 'b' && v !== 0 && v !== 1) return null;
    const r = Math.round(v);
    const [lo, hi] = INTEGER_RANGES[p.type];
    if (r < lo || r > hi) return null;
    out = r === 0 ? 0 : r;
  }
  if ((p.min !== undefined && out < p.min) || (p.max !== undefined && out > p.max)) return null;
  return out;
}

const NAME = String.raw`(?:[A-Za-z_][A-Za-z0-9_]*|\`[^\`]+\`)`;
const PLAIN = new RegExp(`^${NAME}(?:\\.${NAME})*$`);

/** The field chain of a path whose value is plain field reads (`a`, `a ?? b`, a list of them). */
export function plainChain(p: CompiledPath): string[][] | undefined {
  if (!p.value.length) return undefined;
  const chain: string[][] = [];
  for (const e of p.value) {
    for (const part of e.source.split('??').map((s) => s.trim())) {
      if (!PLAIN.test(part)) return undefined;
      chain.push(part.match(new RegExp(NAME, 'g'))!.map((n) => (n.startsWith('`') ? n.slice(1, -1) : n)));
    }
  }
  return chain;
}

/** The values a plain-read path may show, and whether it may be null. */
function candidates(
  chain: string[][],
  p: CompiledPath,
  model: DocModel,
  withDefault: boolean,
): { values: PathValue[]; nullable: boolean; why: string; throughArray: boolean } {
  const values: PathValue[] = [];
  let nullable = false;
  let throughArray = false;
  const why: string[] = [];
  for (const names of chain) {
    const f = model.get(names);
    const name = names.join('.');
    if (f.kind === 'leaf') {
      const e = expectedValue(f.value, p);
      if (e === null) nullable = true;
      else values.push(e);
      why.push(`${name} = ${show(f.value)}`);
      return { values, nullable, why: why.join(', '), throughArray };
    }
    if (f.kind === 'branch') {
      nullable = true; // an object: invalid
      why.push(`${name} is an object`);
      if (!f.empty) return { values, nullable, why: why.join(', '), throughArray };
      // an empty branch may or may not have been pruned yet: the next field may answer too
    } else {
      if (f.throughArray) throughArray = nullable = true; // JSONata may find an array of values there: invalid
      why.push(`${name} absent${f.throughArray ? ' (an array on the way)' : ''}`);
    }
  }
  if (withDefault && p.default !== null) values.push(p.default);
  else nullable = true;
  return { values, nullable, why: why.join(', ') || 'nothing', throughArray };
}

// ------------------------------------------------------------------------------------------------
// The driver

export interface Finding {
  kind:
    | 'crash'
    | 'type'
    | 'range'
    | 'not-carried'
    | 'through-array'
    | 'lost'
    | 'derived'
    | 'document'
    | 'latest'
    | 'accept'
    | 'prototype'
    | 'text';
  scenario: string;
  seed: number;
  iteration: number;
  episode: number;
  topic: string;
  /** The message's payload as text (cut at 4000 characters; replay the iteration for all of it). */
  payload: string;
  mutations: string[];
  path?: string;
  expected?: string;
  actual?: string;
  detail: string;
  /** For findings on an evaluation: whether it was committed (its values go to D-Bus) or rolled back. */
  published?: boolean;
  /** The messages before it in its episode (newest last), with what became of them. */
  history: string[];
}

export interface FuzzOptions {
  seed: number;
  count: number;
  /** Run only the episodes holding these iterations (reproduction). */
  only?: number[];
  /** Findings kept in full, at most 3 per kind, scenario and path (all are counted). */
  keep?: number;
  /** A fault to plant into evaluations (to prove the oracles catch it). */
  plant?: (ev: Evaluation, mapping: CompiledMapping) => void;
  log?: (line: string) => void;
}

export interface Summary {
  seed: number;
  count: number;
  seconds: number;
  evaluations: number;
  committed: number;
  rolledBack: number;
  refused: Record<string, number>;
  staleEvents: number;
  /** expire() calls that dropped something. */
  expiries: number;
  /** Non-null values of plain-read paths checked against the model (DVCC limits and SoC: `limits`). */
  verified: number;
  limits: number;
  byScenario: Record<string, number>;
  findingCount: number;
  /** Counts per kind/scenario/path. */
  groups: Record<string, number>;
  findings: Finding[];
}

export const EPISODE = 250;

const LIMIT_PATHS = new Set(['/Info/MaxChargeVoltage', '/Info/MaxChargeCurrent', '/Info/MaxDischargeCurrent', '/Soc']);

const PROTO_WATCH = ['polluted', 'Info', 'MaxChargeCurrent', 'state', 'value', 'Soc', 'Dc', 'x', 'a'];
const protoNames = (o: object) => Object.getOwnPropertyNames(o).sort().join(',');

export async function runFuzz(opts: FuzzOptions): Promise<Summary> {
  const started = performance.now();
  const all = scenarios();
  const weights = all.map((s) => SCENARIO_WEIGHTS[s.name] ?? 1);
  const total = weights.reduce((a, b) => a + b, 0);
  const objectProto = protoNames(Object.prototype);
  const arrayProto = protoNames(Array.prototype);
  const summary: Summary = {
    seed: opts.seed,
    count: 0,
    seconds: 0,
    evaluations: 0,
    committed: 0,
    rolledBack: 0,
    refused: {},
    staleEvents: 0,
    expiries: 0,
    verified: 0,
    limits: 0,
    byScenario: {},
    findingCount: 0,
    groups: {},
    findings: [],
  };
  const keep = opts.keep ?? 200;
  const episodes = Math.ceil(opts.count / EPISODE);
  const wanted = opts.only ? new Set(opts.only.map((i) => Math.floor(i / EPISODE))) : undefined;
  const lastWanted = opts.only ? Math.max(...opts.only) : Infinity;

  for (let episode = 0; episode < episodes; episode++) {
    if (wanted && !wanted.has(episode)) continue;
    const rng = new Rng(episodeSeed(opts.seed, episode));
    let r = rng.float() * total;
    let si = 0;
    while (r >= weights[si]!) r -= weights[si++]!;
    const scn = all[si]!;
    const mapping = scn.mapping;
    const merge = mapping.input.merge;
    const maxTopics = scn.mapping.input.format === 'tree' && rng.chance(0.3) ? 60 + rng.int(40) : 1000;
    const builder = new DocumentBuilder({ input: mapping.input, topics: scn.filters, maxTopics });
    const evaluator = new Evaluator(mapping, scn.variables);
    const model = new DocModel();
    const latestModel = new DocModel();
    const chains = mapping.paths.map(plainChain);
    const history: string[] = [];
    let connected = false;
    let now = 1_700_000_000_000 + episode * 3_600_000;
    let crashed = false;
    let iteration = episode * EPISODE;
    let current: Message = { topic: '', payload: '', ops: [] };

    type Found = Omit<Finding, 'scenario' | 'seed' | 'iteration' | 'episode' | 'topic' | 'payload' | 'mutations' | 'history'>;
    /** Findings on an evaluation wait for the commit/rollback decision (published or not). */
    let pending: Found[] | undefined;
    const flush = (published: boolean): void => {
      const list = pending ?? [];
      pending = undefined;
      for (const f of list) find({ ...f, published });
    };
    const find = (f: Found): void => {
      if (pending) {
        pending.push(f);
        return;
      }
      summary.findingCount++;
      const group = `${f.kind} ${scn.name}${f.path ? ' ' + f.path : ''}${f.published ? ' [published]' : ''}`;
      summary.groups[group] = (summary.groups[group] ?? 0) + 1;
      if (summary.findings.length >= keep || (summary.groups[group]! > 3 && !opts.only)) return;
      const text = typeof current.payload === 'string' ? current.payload : current.payload.toString('utf8');
      const finding: Finding = {
        ...f,
        scenario: scn.name,
        seed: opts.seed,
        iteration,
        episode,
        topic: current.topic,
        payload: text.length > 4000 ? text.slice(0, 4000) + `… (${text.length} characters)` : text,
        mutations: current.ops,
        history: history.slice(-4),
      };
      summary.findings.push(finding);
      opts.log?.(formatFinding(finding));
    };

    const compareDocument = (when: string): void => {
      const d = leafDiff(leavesOf(builder.document), model.leaves());
      if (d) {
        find({ kind: 'document', detail: `after ${when}: ${d}` });
        resync();
      }
      if (builder.topicCount !== model.topicCount)
        find({ kind: 'document', detail: `after ${when}: topicCount ${builder.topicCount}, model ${model.topicCount}` });
    };
    const compareLatest = (when: string): void => {
      if (!merge) return;
      const d = leafDiff(leavesOf(builder.latest), latestModel.leaves());
      if (d) find({ kind: 'latest', detail: `after ${when}: ${d}` });
    };
    /** After a reported divergence, start the episode's state afresh so one finding is not reported forever. */
    const resync = (): void => {
      builder.clear();
      evaluator.reset();
      model.clear();
      latestModel.clear();
      connected = false;
    };

    const check = (ev: Evaluation, inTransaction: boolean): void => {
      summary.evaluations++;
      pending = [];
      opts.plant?.(ev, mapping);
      const at = (path: string) => ev.values[mapping.byPath.get(path)!.index] ?? null;
      for (const p of mapping.paths) {
        const v = ev.values[p.index] ?? null;
        const t = typeProblem(v, p.type);
        if (t) find({ kind: 'type', path: p.path, actual: show(v), expected: p.type, detail: t });
        else if (v !== null && coerceValue(v, p.type) !== v)
          find({
            kind: 'type',
            path: p.path,
            actual: show(v),
            detail: `the D-Bus layer would turn ${show(v)} into ${show(coerceValue(v, p.type))}`,
          });
        const text = ev.texts[p.index];
        if (typeof text !== 'string' || (v === null && text !== '---'))
          find({ kind: 'text', path: p.path, actual: show(text), detail: `text ${show(text)} for value ${show(v)}` });
        if (typeof v === 'number' && ((p.min !== undefined && v < p.min) || (p.max !== undefined && v > p.max))) {
          find({
            kind: 'range',
            path: p.path,
            actual: show(v),
            expected: `${p.min ?? '-∞'}..${p.max ?? '∞'}`,
            detail: "outside the mapping's min/max",
          });
        }
        const chain = chains[p.index];
        if (!chain) continue;
        const derivedPath = p.fallback.length > 0;
        const origin = ev.origins[p.index];
        if (derivedPath && origin !== 1) continue; // derived or held: not a plain read
        const source = derivedPath && merge ? latestModel : model;
        const c = candidates(chain, p, source, !derivedPath);
        if (v !== null) {
          summary.verified++;
          if (LIMIT_PATHS.has(p.path)) summary.limits++;
        }
        if (v !== null && !c.values.includes(v)) {
          find({
            kind: c.throughArray ? 'through-array' : 'not-carried',
            path: p.path,
            actual: show(v),
            expected: `${c.values.length ? c.values.map(show).join(' or ') : ''}${c.nullable ? (c.values.length ? ' or ' : '') + 'invalid' : ''} (${derivedPath && merge ? 'latest' : 'document'}: ${c.why})`,
            detail: c.throughArray
              ? `a value read through an array: no message carried a number at ${chain.map((n) => n.join('.')).join(' ?? ')}, JSONata took it from an array element`
              : `a value no committed, unexpired message carried at ${chain.map((n) => n.join('.')).join(' ?? ')}${inTransaction ? ' (nor the message being evaluated)' : ''}`,
          });
        } else if (v === null && !c.nullable && !(derivedPath && ev.problems[p.index] === undefined)) {
          find({
            kind: 'lost',
            path: p.path,
            expected: c.values.map(show).join(' or ') + ` (${c.why})`,
            actual: 'invalid',
            detail: `invalid although the document holds a valid value${ev.problems[p.index] ? ': ' + ev.problems[p.index] : ''}`,
          });
        }
      }
      const d = scn.derived?.(at, model);
      if (d)
        find({
          kind: d.throughArray ? 'through-array' : 'derived',
          path: d.path,
          expected: d.expected,
          actual: show(d.actual),
          detail: d.throughArray
            ? 'a charge limit computed from numbers inside an array (JSONata flattens arrays in $min and maps paths over them)'
            : 'a charge limit that does not follow from its inputs',
        });
      const probe: Record<string, unknown> = {};
      const dirty =
        PROTO_WATCH.find((k) => k in probe) ??
        (protoNames(Object.prototype) !== objectProto
          ? 'Object.prototype changed'
          : protoNames(Array.prototype) !== arrayProto
            ? 'Array.prototype changed'
            : undefined);
      if (dirty) find({ kind: 'prototype', detail: `prototype polluted: ${dirty}` });
    };

    const guard = async <T>(what: string, fn: () => T | Promise<T>): Promise<T | undefined> => {
      try {
        return await fn();
      } catch (err) {
        find({ kind: 'crash', detail: `${what} threw: ${(err as Error).stack ?? String(err)}` });
        crashed = true;
        return undefined;
      }
    };

    const expireBoth = async (): Promise<boolean> => {
      const dropped = await guard('expire', () => builder.expire(now));
      if (dropped) summary.expiries++;
      if (model.expire(now) || dropped) {
        latestModel.keepHeldBy(model);
        compareDocument(`expire(${now})`);
        compareLatest(`expire(${now})`);
      }
      return dropped === true;
    };

    const forget = (): void => {
      summary.staleEvents++;
      builder.clear();
      evaluator.reset();
      model.clear();
      latestModel.clear();
      connected = false;
    };

    /** One transaction of one or more messages; false when a batch was rejected (retry singly). */
    const transaction = async (batch: Message[]): Promise<boolean> => {
      builder.begin();
      model.begin();
      latestModel.clear();
      for (const m of batch) {
        current = m;
        const text = typeof m.payload === 'string' ? m.payload : m.payload.toString('utf8');
        const bytes = typeof m.payload === 'string' ? Buffer.byteLength(m.payload) : m.payload.length;
        const timeout = scn.timeouts[Math.max(0, scn.filters.indexOf(m.topic))] ?? scn.timeouts[0]!;
        const expiresAt = now + timeout * 1000;
        const expected = expectMessage(scn, m.topic, text, bytes, model, maxTopics);
        const r = await guard('accept', () => builder.accept(m.topic, m.payload, expiresAt));
        if (!r) return true;
        if (!r.ok) summary.refused[r.kind] = (summary.refused[r.kind] ?? 0) + 1;
        if (r.ok !== expected.ok) {
          find({
            kind: 'accept',
            expected: expected.ok ? 'accepted' : `refused (${expected.why})`,
            actual: r.ok ? 'accepted' : `refused: ${r.kind}: ${r.reason}`,
            detail: 'accept() disagrees with the input rules',
          });
        } else if (r.ok && expected.ok && r.leaves !== expected.leaves) {
          find({ kind: 'accept', expected: `${expected.leaves} leaves`, actual: `${r.leaves} leaves`, detail: 'leaf count' });
        }
        if (r.ok && expected.ok) {
          applyMessage(scn, model, m.topic, expected, expiresAt);
          if (scn.mapping.input.format !== 'tree') latestModel.merge(expected.value as Record<string, unknown>, expiresAt, m.topic);
          else latestModel.set(expected.keys!, expected.value, expiresAt, m.topic);
        } else if (r.ok) {
          // accepted against the rules: we cannot model it; start over after the evaluation
          model.rollback();
          model.begin();
        }
        history.push(`${m.topic} ${r.ok ? 'accepted' : 'refused ' + r.kind}: ${preview(text)}`);
      }
      compareLatest('accept');
      const ev = await guard('evaluate', () => evaluator.evaluate(builder.document, now, merge ? builder.latest : undefined));
      if (!ev) return true;
      check(ev, true);
      const gathering = !connected && scn.gathers && mapping.required.every((i) => ev.problems[i] === undefined);
      if (ev.missingRequired.length === 0 || gathering) {
        flush(ev.missingRequired.length === 0);
        builder.commit();
        model.commit();
        summary.committed++;
        if (ev.missingRequired.length === 0) connected = true;
        history[history.length - 1] += ' → committed';
        compareDocument('commit');
        return true;
      }
      flush(false);
      builder.rollback();
      model.rollback();
      latestModel.clear();
      summary.rolledBack++;
      history[history.length - 1] += ` → rolled back (${ev.missingRequired.join(', ')})`;
      compareDocument('rollback');
      return batch.length === 1;
    };

    for (let j = 0; j < EPISODE && iteration < opts.count && !crashed;) {
      if (iteration > lastWanted) break;
      // fake time: mostly steady, sometimes gaps longer than the timeouts
      const g = rng.float();
      now += g < 0.2 ? 0 : g < 0.9 ? rng.int(1500) : g < 0.98 ? 2000 + rng.int(13000) : 20000 + rng.int(70000);
      if (rng.chance(0.1)) {
        // the battery's tick: expire, and re-evaluate when something went
        const dropped = await expireBoth();
        if (connected && dropped && !crashed) {
          current = { topic: '(tick)', payload: '', ops: [] };
          const ev = await guard('evaluate', () => evaluator.evaluate(builder.document, now, merge ? builder.latest : undefined));
          if (ev) {
            check(ev, false);
            flush(ev.missingRequired.length === 0);
            if (ev.missingRequired.length) forget();
          }
        }
        continue;
      }
      const n = rng.chance(0.05) ? 2 + rng.int(3) : 1;
      const batch: Message[] = [];
      for (let k = 0; k < n && j + k < EPISODE; k++) batch.push(scn.message(rng));
      await expireBoth();
      if (crashed) break;
      const whole = await transaction(batch.map((m) => m));
      if (!whole) for (const m of batch) if (!crashed) await transaction([m]);
      for (let k = 0; k < batch.length; k++) {
        summary.count++;
        summary.byScenario[scn.name] = (summary.byScenario[scn.name] ?? 0) + 1;
        j++;
        iteration++;
      }
      if (history.length > 20) history.splice(0, history.length - 8);
    }
  }
  summary.seconds = Math.round((performance.now() - started) / 10) / 100;
  return summary;
}

function preview(text: string): string {
  return text.length > 160 ? JSON.stringify(text.slice(0, 160)) + '…' : JSON.stringify(text);
}

export function formatFinding(f: Finding): string {
  const lines = [
    `FINDING ${f.kind}${f.path ? ' ' + f.path : ''} [${f.scenario}] seed ${f.seed} iteration ${f.iteration} (episode ${f.episode}; replay: npm run fuzz -- --seed ${f.seed} --iteration ${f.iteration})`,
    `  ${f.detail}${f.published === undefined ? '' : f.published ? ' — this evaluation was published (its values go to D-Bus)' : ' — this evaluation was rejected (not published)'}`,
  ];
  if (f.expected !== undefined) lines.push(`  expected: ${f.expected}`);
  if (f.actual !== undefined) lines.push(`  actual:   ${f.actual}`);
  lines.push(`  topic:    ${f.topic}`, `  payload:  ${JSON.stringify(f.payload)}`, `  mutations: ${f.mutations.join('; ') || '(none)'}`);
  if (f.history.length) lines.push('  before it:', ...f.history.map((h) => `    ${h}`));
  return lines.join('\n');
}
