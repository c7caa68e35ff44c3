/**
 * Finds vbat's own data folders (mappings/, schemas/) from wherever the code runs: the source tree
 * under tsx, dist/ after a build, or the single bundled file of a release.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'schemas', 'mapping.schema.json'))) return (root = dir);
    dir = dirname(dir);
  }
  throw new Error('cannot find the vbat installation (no schemas/mapping.schema.json above the program)');
}

export const schemaPath = (name: string): string => join(packageRoot(), 'schemas', name);
export const mappingPath = (name: string): string => join(packageRoot(), 'mappings', name);
