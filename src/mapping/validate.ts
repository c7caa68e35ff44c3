/** Schema validation of a mapping file with ajv; problems point at file lines. */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import type { Problem } from '../errors.js';
import type { YamlDocument } from '../util/yaml-file.js';
import { schemaProblems } from '../util/schema-problems.js';
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
  return schemaProblems(doc, validate.errors ?? []);
}
