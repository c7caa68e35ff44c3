/** Schema validation of a mapping file (schemas/mapping.schema.json, compiled ahead of time); problems point at file lines. */
import { validateMappingSchema as validate } from '../generated/index.js';
import type { YamlDocument } from '../util/yaml-file.js';
import { schemaProblems, type SchemaProblem } from '../util/schema-problems.js';

export function validateMappingShape(doc: YamlDocument): SchemaProblem[] {
  if (validate(doc.data)) return [];
  return schemaProblems(doc, validate.errors ?? []).map((p) => {
    // A bad key name (paths › "/Soc x") is about that key: the rest of its section still compiles.
    const key = /^bad key "(.*)"$/.exec(p.reason)?.[1];
    return key !== undefined && p.segments.length === 1 ? { ...p, segments: [...p.segments, key] } : p;
  });
}
