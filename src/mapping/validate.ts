/** Schema validation of a mapping file with ajv; problems point at file lines. */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import type { YamlDocument } from '../util/yaml-file.js';
import { schemaProblems, type SchemaProblem } from '../util/schema-problems.js';
import { schemaPath } from '../util/package-root.js';

let validator: ValidateFunction | undefined;

function getValidator(): ValidateFunction {
  if (!validator) {
    const schema = JSON.parse(readFileSync(schemaPath('mapping.schema.json'), 'utf8')) as object;
    validator = new Ajv({ allErrors: true, strict: false }).compile(schema);
  }
  return validator;
}

export function validateMappingShape(doc: YamlDocument): SchemaProblem[] {
  const validate = getValidator();
  if (validate(doc.data)) return [];
  return schemaProblems(doc, validate.errors ?? []).map((p) => {
    // A bad key name (paths › "/Soc x") is about that key: the rest of its section still compiles.
    const key = /^bad key "(.*)"$/.exec(p.reason)?.[1];
    return key !== undefined && p.segments.length === 1 ? { ...p, segments: [...p.segments, key] } : p;
  });
}
