/**
 * 1. Mapping evaluation, in process: µs per payload (median of many rounds) for the default
 * mapping (full 24-cell payload) and the two foreign example mappings with their captures.
 *   - evaluate: input document → frame of changed paths (Evaluator.evaluate + frameOf);
 *   - payload:  message bytes → document → frame (DocumentBuilder.accept first: JSON parsing,
 *               unwrapping, merging);
 * each beside the floor, hand-written JavaScript producing the same values (floor-mapping.ts),
 * which is first checked to agree with vbat on every benchmark input.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { DocumentBuilder } from '../../src/input/index.js';
import { Evaluator, frameOf, loadMapping, type CompiledMapping } from '../../src/mapping/index.js';
import type { Frame } from '../../src/venus/types.js';
import { sleep } from '../support/wait.js';
import { fixture, mappingFile } from '../support/paths.js';
import { defaultFloor, esphomeFloor, serialbatteryFloor, type FloorMapping, type Out } from './floor-mapping.js';
import { PayloadMaker, voltageOf } from './lib/payloads.js';
import { figure, median, round, TARGETS, type Figure } from './lib/stats.js';
import type { Context } from './run.js';

const VARIANTS = 64;

interface Message {
  topic: string;
  payload: Buffer;
}

interface Case {
  name: string;
  mapping: CompiledMapping;
  /** Distinct consecutive messages, each a complete payload for this mapping. */
  messages: Message[];
  /** A builder already holding everything but the varying message (captures). */
  builder: () => DocumentBuilder;
  floor: () => FloorMapping;
  /** The floor's own input stage: message → document (hand-written). */
  floorParse: (m: Message, state: { doc: unknown }) => unknown;
  paths: number;
  payloadBytes: number;
}

function captureOf(file: string): [string, string][] {
  return Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>);
}

function defaultCase(): Case {
  const mapping = loadMapping(mappingFile('default.yaml'));
  const maker = new PayloadMaker();
  const topic = 'bms/bench';
  return {
    name: 'default',
    mapping,
    messages: Array.from({ length: VARIANTS }, (_, k) => ({ topic, payload: Buffer.from(maker.text(k + 1)) })),
    builder: () => new DocumentBuilder({ input: mapping.input, topics: [topic] }),
    floor: () => defaultFloor(),
    floorParse: (m) => JSON.parse(m.payload.toString()),
    paths: mapping.paths.length,
    payloadBytes: maker.size,
  };
}

function esphomeCase(): Case {
  const mapping = loadMapping(mappingFile('esphome-jk-bms.yaml'));
  const capture = captureOf(fixture('foreign', 'esphome-jk-bms', 'mqtt-capture.json'));
  const topic = 'jk-bms/sensor/total_voltage/state';
  return {
    name: 'esphome-jk-bms',
    mapping,
    // One value per topic: a message is one leaf; the battery's document is the whole tree.
    messages: Array.from({ length: VARIANTS }, (_, k) => ({ topic, payload: Buffer.from((50 + (k + 1) / 1000).toFixed(3)) })),
    builder: () => {
      const b = new DocumentBuilder({ input: mapping.input, topics: [mapping.input.topic!] });
      for (const [t, p] of capture) b.accept(t, p);
      return b;
    },
    floor: () => esphomeFloor(),
    floorParse: (m, state) => {
      const tree = (state.doc ??= (() => {
        const b = new DocumentBuilder({ input: mapping.input, topics: [mapping.input.topic!] });
        for (const [t, p] of capture) b.accept(t, p);
        return structuredClone(b.document);
      })()) as { sensor: { total_voltage: { state: unknown } } };
      tree.sensor.total_voltage.state = Number(m.payload.toString());
      return tree;
    },
    paths: mapping.paths.length,
    payloadBytes: capture.reduce((n, [, p]) => n + Buffer.byteLength(p), 0),
  };
}

function serialbatteryCase(): Case {
  const mapping = loadMapping(mappingFile('serialbattery-jsondata.yaml'));
  const capture = captureOf(fixture('foreign', 'serialbattery', 'mqtt-capture.json'));
  const [topic, text] = capture.find(([t]) => t.endsWith('/JsonData'))!;
  const inner = JSON.parse((JSON.parse(text) as { value: string }).value) as { Dc: { '0': { Voltage: number } } };
  const messages = Array.from({ length: VARIANTS }, (_, k) => {
    inner.Dc['0'].Voltage = voltageOf(k + 1);
    return { topic, payload: Buffer.from(JSON.stringify({ value: JSON.stringify(inner) })) };
  });
  return {
    name: 'serialbattery-jsondata',
    mapping,
    messages,
    builder: () => new DocumentBuilder({ input: mapping.input, topics: [mapping.input.topic!] }),
    floor: () => serialbatteryFloor(),
    floorParse: (m) => JSON.parse((JSON.parse(m.payload.toString()) as { value: string }).value),
    paths: mapping.paths.length,
    payloadBytes: messages[0]!.payload.length,
  };
}

/** Documents for the evaluate-only measurement: each message taken by its own builder state. */
function documents(c: Case): unknown[] {
  const b = c.builder();
  return c.messages.map((m) => {
    const r = b.accept(m.topic, m.payload);
    if (!r.ok) throw new Error(`${c.name}: benchmark message refused: ${r.reason}`);
    return structuredClone(r.doc);
  });
}

/** Check the floor against vbat on every document; returns the disagreements (at most 5). */
async function disagreements(c: Case, docs: unknown[]): Promise<string[]> {
  const ev = new Evaluator(c.mapping);
  const floor = c.floor();
  const out: string[] = [];
  for (const doc of docs) {
    const e = await ev.evaluate(doc);
    if (e.missingRequired.length) out.push(`vbat rejected a benchmark document: ${e.missingRequired.join(', ')}`);
    const f = floor.run(doc);
    const at = new Map(f.names.map((n, i) => [n, i]));
    for (const p of c.mapping.paths) {
      const i = at.get(p.path);
      const fv = i === undefined ? '(no such path)' : f.values[i];
      const ft = i === undefined ? '' : f.texts[i];
      if (fv !== e.values[p.index] || ft !== e.texts[p.index]) {
        out.push(`${p.path}: vbat ${JSON.stringify(e.values[p.index])} "${e.texts[p.index]}", floor ${JSON.stringify(fv)} "${ft}"`);
      }
    }
    if (f.names.length !== c.mapping.paths.length) out.push(`floor has ${f.names.length} paths, the mapping ${c.mapping.paths.length}`);
    if (out.length >= 5) break;
  }
  return [...new Set(out)].slice(0, 5);
}

function floorFrame(o: Out): Frame {
  const frame: Frame = new Map();
  for (const i of o.changed) frame.set(o.names[i]!, { value: o.values[i]!, text: o.texts[i]! });
  return frame;
}

type Timed = { median: number; min: number };

/**
 * µs per call of `a` (the figure) and `b` (its floor): after a warm-up of each, `rounds` rounds of
 * `batch` calls, alternating a round of `a` and a round of `b`, so both see the same machine; the
 * median of the per-round figures is reported. Calls returning a Promise are awaited (the floor's
 * synchronous calls pay no microtask).
 */
export async function microseconds(
  a: (k: number) => unknown,
  b: (k: number) => unknown,
  opts: { rounds?: number; batch?: number; warmup?: number } = {},
): Promise<[Timed, Timed]> {
  const rounds = opts.rounds ?? 200;
  const batch = opts.batch ?? 50;
  const fns = [a, b];
  const ks = [0, 0];
  const per: number[][] = [[], []];
  for (let f = 0; f < 2; f++) {
    for (let i = 0; i < (opts.warmup ?? 2000); i++) {
      const r = fns[f]!(ks[f]!++);
      if (r instanceof Promise) await r;
    }
  }
  for (let r = 0; r < rounds; r++) {
    for (let f = 0; f < 2; f++) {
      const fn = fns[f]!;
      let k = ks[f]!;
      const t = performance.now();
      for (let i = 0; i < batch; i++) {
        const x = fn(k++);
        if (x instanceof Promise) await x;
      }
      per[f]!.push(((performance.now() - t) * 1000) / batch);
      ks[f] = k;
    }
  }
  const timed = (xs: number[]): Timed => ({ median: median(xs), min: Math.min(...xs) });
  return [timed(per[0]!), timed(per[1]!)];
}

/**
 * µs per call with `gapMs` of idle time before each call (caches and predictors gone cold), `a`
 * and `b` alternating; medians.
 */
async function spaced(a: (k: number) => unknown, b: (k: number) => unknown, gapMs: number, n: number): Promise<[number, number]> {
  const per: number[][] = [[], []];
  const fns = [a, b];
  for (let k = 0; k < n; k++) {
    for (let f = 0; f < 2; f++) {
      await sleep(gapMs);
      const t = performance.now();
      const x = fns[f]!(k);
      if (x instanceof Promise) await x;
      per[f]!.push((performance.now() - t) * 1000);
    }
  }
  return [median(per[0]!), median(per[1]!)];
}

async function measureCase(c: Case, ctx: Context): Promise<Record<string, unknown>> {
  const docs = documents(c);
  const problems = await disagreements(c, docs);
  if (problems.length)
    ctx.log(`  WARNING: the floor for ${c.name} no longer matches the mapping (update floor-mapping.ts): ${problems[0]}`);

  // document → frame
  const ev = new Evaluator(c.mapping);
  const fl = c.floor();
  const [vbatEval, floorEval] = await microseconds(
    async (k) => frameOf(c.mapping, await ev.evaluate(docs[k % VARIANTS])),
    (k) => floorFrame(fl.run(docs[k % VARIANTS])),
  );

  // message bytes → document → frame
  const builder = c.builder();
  const ev2 = new Evaluator(c.mapping);
  const vbatPayloadFn = async (k: number): Promise<Frame> => {
    const m = c.messages[k % VARIANTS]!;
    const r = builder.accept(m.topic, m.payload);
    if (!r.ok) throw new Error(r.reason);
    // As a battery does: the store says which top-level keys changed since the last evaluation.
    const e = await ev2.evaluate(builder.document, Date.now(), undefined, builder.changes);
    builder.settleChanges();
    return frameOf(c.mapping, e);
  };
  const fl2 = c.floor();
  const state = { doc: undefined as unknown };
  const floorPayloadFn = (k: number): Frame => floorFrame(fl2.run(c.floorParse(c.messages[k % VARIANTS]!, state)));
  const [vbatPayload, floorPayload] = await microseconds(vbatPayloadFn, floorPayloadFn);

  // The same, one payload every 10 ms (100 Hz), as the daemon meets them.
  const [vbatSpaced, floorSpaced] = await spaced(vbatPayloadFn, floorPayloadFn, 10, ctx.quick ? 20 : 100);

  ctx.log(
    `  ${c.name}: evaluate ${round(vbatEval.median, 1)} µs (floor ${round(floorEval.median, 2)}), payload ${round(vbatPayload.median, 1)} µs (floor ${round(floorPayload.median, 1)})`,
  );
  const evaluate: Figure = figure(vbatEval.median, 'µs', { floor: floorEval.median, target: TARGETS.mappingUs, digits: 2 });
  return {
    paths: c.paths,
    payloadBytes: c.payloadBytes,
    evaluateUs: evaluate,
    payloadUs: figure(vbatPayload.median, 'µs', {
      floor: floorPayload.median,
      digits: 2,
      note: 'includes the input stage (JSON parse, unwrap, merge / tree update)',
    }),
    payloadAt100HzUs: figure(vbatSpaced, 'µs', {
      floor: floorSpaced,
      digits: 1,
      note: 'median of 100 payloads 10 ms apart: the machine goes idle in between, caches and branch predictors cool down',
    }),
    fastestRoundUs: { evaluate: round(vbatEval.min, 2), payload: round(vbatPayload.min, 2) },
    floorAgrees: problems.length === 0,
    ...(problems.length ? { floorDisagreements: problems } : {}),
  };
}

export async function runMapping(ctx: Context): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {
    method: `median over 200 rounds of 50 consecutive distinct payloads (${VARIANTS} variants), after 2000 warm-up calls, rounds of vbat and of its floor alternating; floor: hand-written JavaScript (test/bench/floor-mapping.ts)`,
  };
  for (const make of [defaultCase, esphomeCase, serialbatteryCase]) {
    const c = make();
    out[c.name] = await measureCase(c, ctx);
  }
  return out;
}
