/** Variables a config or --var sets must be ones the mapping declares: a typo would silently change nothing. */
import { editDistance } from '../util/edit-distance.js';

/** For each given name the mapping does not declare: the reason, with the closest declared name. */
export function unknownVariables(
  mapping: { file: string; variables: Record<string, unknown> },
  names: string[],
): { name: string; reason: string }[] {
  const declared = Object.keys(mapping.variables);
  return names
    .filter((n) => !Object.hasOwn(mapping.variables, n))
    .map((name) => {
      const near = declared
        .map((d) => [d, editDistance(name.toLowerCase(), d.toLowerCase())] as const)
        .filter(([, d]) => d <= Math.max(2, Math.floor(name.length / 4)))
        .sort((a, b) => a[1] - b[1])[0]?.[0];
      const has = declared.length ? `it has ${declared.join(', ')}` : 'it declares no variables';
      return {
        name,
        reason: `variable "${name}" is not declared by the mapping ${mapping.file}${near ? ` (did you mean ${near}?)` : ''}; ${has}`,
      };
    });
}
