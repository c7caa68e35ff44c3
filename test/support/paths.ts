/** Locations tests read: the repository and its fixtures. Nothing outside the clone. */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixture = (...p: string[]): string => join(repoRoot, 'test', 'fixtures', ...p);
export const mappingFile = (name: string): string => join(repoRoot, 'mappings', name);
