/**
 * Which D-Bus paths a mapping may bind. Victron's battery paths are data (schemas/battery-paths.json,
 * from the dbus-api): a path outside it is almost always a typo, and a misspelled DVCC limit is
 * the worst kind, because the charger then silently gets no limit at all. A path of one's own is
 * declared `custom: true`. The service paths of mappings/service-paths.yaml (identity, /Connected,
 * /Vbat/*) are vbat's own and never come from a mapping.
 */
import { readFileSync } from 'node:fs';
import { mappingPath, schemaPath } from '../util/package-root.js';
import { editDistance } from '../util/edit-distance.js';
import { loadYamlFile } from '../util/yaml-file.js';

interface Catalogue {
  names: string[];
  exact: Set<string>;
  patterns: RegExp[];
}

let catalogue: Catalogue | undefined;
let reserved: Set<string> | undefined;

function load(): Catalogue {
  if (catalogue) return catalogue;
  const data = JSON.parse(readFileSync(schemaPath('battery-paths.json'), 'utf8')) as { paths: Record<string, unknown> };
  const names = Object.keys(data.paths);
  const exact = new Set(names.filter((n) => !/[{*]/.test(n)));
  const patterns = names.filter((n) => /[{*]/.test(n)).map((n) => new RegExp(`^${n.replace(/\{n\}/g, '\\d+').replace(/\*/g, '.+')}$`));
  return (catalogue = { names, exact, patterns });
}

/** The battery path catalogue's entries, as written ({n} for a number). */
export function catalogueNames(): string[] {
  return load().names;
}

export function isCataloguePath(path: string): boolean {
  const c = load();
  return c.exact.has(path) || c.patterns.some((re) => re.test(path));
}

/** The closest catalogue path to a mistyped one, numbered like it, or undefined when none is close. */
export function suggestPath(path: string): string | undefined {
  const number = /\d+/.exec(path)?.[0] ?? '1';
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(path.length / 5)) + 1;
  for (const name of load().names) {
    if (name.includes('*')) continue;
    const candidate = name.replace(/\{n\}/g, number);
    const d = editDistance(path.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/** Why a data mapping may not bind `path` as it stands, or undefined when it may. */
export function pathNameProblem(path: string, custom: boolean): string | undefined {
  const own = reservedProblem(path);
  if (own) return own;
  if (custom || isCataloguePath(path)) return undefined;
  const near = suggestPath(path);
  return near
    ? `${path} is not a Victron battery path: did you mean ${near}? (a path of your own is declared with custom: true)`
    : `${path} is not a Victron battery path (schemas/battery-paths.json); if it is meant as a path of your own, declare it with custom: true`;
}

const SET_FROM: Record<string, string> = {
  '/CustomName': "the battery's customName in the config (and the GUI)",
  '/ProductName': "the battery's productName in the config",
  '/ProductId': "the battery's productId in the config",
  '/DeviceInstance': "the battery's instance in the config and the settings service",
  '/Connected': 'whether fresh data arrives',
};

function reservedProblem(path: string): string | undefined {
  reserved ??= new Set(Object.keys((loadYamlFile(mappingPath('service-paths.yaml')).data as { paths: object }).paths));
  if (!reserved.has(path) && !path.startsWith('/Vbat/')) return undefined;
  const from = SET_FROM[path];
  return `${path} is a service path vbat sets itself${from ? ` from ${from}` : ''}; remove it from the mapping`;
}
