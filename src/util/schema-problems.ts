/**
 * ajv's errors as problems a person can act on, each at its file line: one piece for the config
 * and the mapping, so both say the same thing the same way.
 */
import type { ErrorObject } from 'ajv';
import type { Problem } from '../errors.js';
import { errorSegments, lineOf, type YamlDocument } from './yaml-file.js';

/** A reason of its own for an error at one place (e.g. a broker URL without a scheme), else undefined. */
export type SpecialReason = (e: ErrorObject, value: unknown) => string | undefined;

/** A schema problem, with the path in the document it is about. */
export interface SchemaProblem extends Problem {
  segments: string[];
}

export function schemaProblems(doc: YamlDocument, errors: ErrorObject[], special?: SpecialReason): SchemaProblem[] {
  return simplify(errors).map((e) => {
    const segs = errorSegments(e);
    return {
      segments: segs,
      file: doc.file,
      line: lineOf(doc, segs),
      where: segs.length ? segs.join(' › ') : undefined,
      reason: special?.(e, valueAt(doc.data, e.instancePath)) ?? describe(e),
    };
  });
}

/** oneOf/anyOf produce one error per branch; keep the most specific ones a person can act on. */
function simplify(errors: ErrorObject[]): ErrorObject[] {
  const seen = new Set<string>();
  const out: ErrorObject[] = [];
  for (const e of errors) {
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf' || e.keyword === 'if') continue;
    const key = `${e.instancePath}|${e.keyword}|${e.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  return out.length ? out : errors.slice(0, 1);
}

function describe(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `unknown key "${String(p.additionalProperty)}"`;
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'required':
      return `missing "${String(p.missingProperty)}"`;
    case 'propertyNames':
      return `bad key "${String(p.propertyName)}"`;
    default:
      return e.message ?? e.keyword;
  }
}

function valueAt(data: unknown, pointer: string): unknown {
  let v = data;
  for (const seg of pointer.split('/').slice(1)) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return v;
}
