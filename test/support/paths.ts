/** Locations tests read: the repository, its fixtures, and the reference material beside it. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixture = (...p: string[]): string => join(repoRoot, 'test', 'fixtures', ...p);
export const mappingFile = (name: string): string => join(repoRoot, 'mappings', name);

/** ../shared beside the clone (CI puts it there); tests that need it fail loudly without it. */
export function sharedDir(): string {
  const dir = resolve(repoRoot, '..', 'shared');
  if (!existsSync(join(dir, 'payloads', 'expected'))) throw new Error(`reference material not found at ${dir}`);
  return dir;
}
