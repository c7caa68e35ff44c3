/** Schema validation of a mapping file with ajv; problems point at file lines. */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { Problem } from '../errors.js';
import { errorSegments, lineOf, type YamlDocument } from '../util/yaml-file.js';
import { schemaPath } from '../util/package-root.js';

let validator: ValidateFunction | undefined;

function getValidator(): ValidateFunction {
  if (!validator) {
    const schema = JSON.parse(readFileSync(schemaPath('mapping.schema.json'), 'utf8')) as object;
    validator = new Ajv({ allErrors: true, strict: false }).compile(schema);
  }
  return validator;
}

export function validateMappingShape(doc: YamlDocument): Problem[] {
  const validate = getValidator();
  if (validate(doc.data)) return [];
  return simplify(validate.errors ?? []).map((e) => {
    const segs = errorSegments(e);
    return {
      file: doc.file,
      line: lineOf(doc, segs),
      where: segs.length ? segs.join(' › ') : undefined,
      reason: describeError(e),
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

function describeError(e: ErrorObject): string {
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
