/** The mapping examples of README.md (its yaml blocks with a `paths:` section), as written there. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export function readmeMappings(): string[] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  return [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((y) => /^paths:/m.test(y));
}

/** The config examples of README.md (yaml blocks with a `batteries:` section). */
export function readmeConfigs(): string[] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  return [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((y) => /^batteries:/m.test(y));
}
