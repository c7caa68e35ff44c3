/**
 * Benchmark payloads: the full 24-cell seed payload (test/fixtures/seed/seed-full.json), made
 * distinct per message `k` by varying two fields: Dc.Voltage (a value unique to k, so the D-Bus
 * side can tell which message it shows) and Dc.Power (so texts change too). Built from a
 * template, so a payload costs a string concatenation.
 */
import { readFileSync } from 'node:fs';
import { fixture } from '../../support/paths.js';

export const SEED_FULL = JSON.parse(readFileSync(fixture('seed', 'seed-full.json'), 'utf8')) as Record<string, unknown> & {
  Dc: Record<string, number>;
};

/** The voltage message k carries: unique per k, exact through JSON and D-Bus. */
export const voltageOf = (k: number): number => (400_000 + k) / 10_000;
export const powerOf = (k: number): number => 300 + (k % 500) / 10;

const V = '"__V__"';
const P = '"__P__"';

export class PayloadMaker {
  private readonly parts: [string, string, string];
  private readonly vFirst: boolean;

  constructor(seed: Record<string, unknown> = SEED_FULL) {
    const doc = structuredClone(seed) as { Dc: Record<string, unknown> };
    doc.Dc['Voltage'] = '__V__';
    doc.Dc['Power'] = '__P__';
    const text = JSON.stringify(doc);
    const iv = text.indexOf(V);
    const ip = text.indexOf(P);
    this.vFirst = iv < ip;
    const [a, b] = this.vFirst ? [iv, ip] : [ip, iv];
    this.parts = [text.slice(0, a), text.slice(a + V.length, b), text.slice(b + P.length)];
  }

  text(k: number): string {
    const v = String(voltageOf(k));
    const p = String(powerOf(k));
    const [x, y] = this.vFirst ? [v, p] : [p, v];
    return this.parts[0] + x + this.parts[1] + y + this.parts[2];
  }

  /** Bytes of a payload (about 2.2 KB). */
  get size(): number {
    return Buffer.byteLength(this.text(12345));
  }
}

/** Reads k back from a payload's bytes without parsing the JSON (for the floor subscriber). */
const VOLTAGE_KEY = Buffer.from('"Voltage":');
export function voltageIn(payload: Buffer): number {
  const i = payload.indexOf(VOLTAGE_KEY);
  if (i < 0) return NaN;
  return parseFloat(payload.toString('latin1', i + VOLTAGE_KEY.length, i + VOLTAGE_KEY.length + 24));
}

/** k from a voltage (inverse of voltageOf), or undefined when it is not one of ours. */
export function kOfVoltage(v: unknown): number | undefined {
  if (typeof v !== 'number') return undefined;
  const k = Math.round(v * 10_000 - 400_000);
  return k >= 0 && voltageOf(k) === v ? k : undefined;
}
