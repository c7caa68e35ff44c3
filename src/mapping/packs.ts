/**
 * Aggregation over a battery's packs. With `packs:` in the config every pack's data lives under
 * its own key of the document, `packs.<name>` (see input/document.ts), and a pack that goes stale
 * is dropped from it at once (battery/battery.ts). These helpers read one field of every pack
 * present there: if any of them lacks it (never sent, or expired on its own), the result is
 * undefined — invalid — and never a sum or a minimum over the packs that happened to send it.
 * `path` is a dot path into a pack's data ("Info.MaxChargeCurrent").
 */
import { isTree } from '../input/sanitize.js';

const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);

function at(doc: unknown, path: string): unknown {
  let node = doc;
  for (const k of path.split('.')) {
    if (!isTree(node) || !Object.hasOwn(node, k)) return undefined;
    node = node[k];
  }
  return node;
}

/** [pack name, number] for every pack, or undefined when there is no pack or one lacks the number. */
function values(packs: unknown, path: unknown): [string, number][] | undefined {
  if (!isTree(packs) || typeof path !== 'string') return undefined;
  const out: [string, number][] = [];
  for (const key of Object.keys(packs)) {
    const v = num(at(packs[key], path));
    if (v === undefined) return undefined;
    out.push([key, v]);
  }
  return out.length ? out : undefined;
}

export function packSum(packs: unknown, path: unknown): number | undefined {
  const v = values(packs, path);
  return v && v.reduce((s, [, x]) => s + x, 0);
}

export function packMin(packs: unknown, path: unknown): number | undefined {
  const v = values(packs, path);
  return v && Math.min(...v.map(([, x]) => x));
}

export function packMax(packs: unknown, path: unknown): number | undefined {
  const v = values(packs, path);
  return v && Math.max(...v.map(([, x]) => x));
}

export function packAvg(packs: unknown, path: unknown): number | undefined {
  const v = values(packs, path);
  return v && v.reduce((s, [, x]) => s + x, 0) / v.length;
}

/**
 * Weighted average of `path`, weights from `weights`: a dot path into each pack's data
 * ("InstalledCapacity") or an object of pack name → weight ($packCapacity, from the config).
 */
export function packWeighted(packs: unknown, path: unknown, weights: unknown): number | undefined {
  const v = values(packs, path);
  if (!v) return undefined;
  let sum = 0;
  let total = 0;
  for (const [key, x] of v) {
    const w = num(
      typeof weights === 'string' ? at((packs as Record<string, unknown>)[key], weights) : isTree(weights) ? weights[key] : undefined,
    );
    if (w === undefined || w < 0) return undefined;
    sum += x * w;
    total += w;
  }
  return total > 0 ? sum / total : undefined;
}

/** How many packs are in the document (online: fresh and not offline). */
export function packCount(packs: unknown): number {
  return isTree(packs) ? Object.keys(packs).length : 0;
}

function extremeId(packs: unknown, path: unknown, idPath: unknown, lowest: boolean): string | undefined {
  const v = values(packs, path);
  if (!v || typeof idPath !== 'string') return undefined;
  let best = v[0]!;
  for (const e of v) if (lowest ? e[1] < best[1] : e[1] > best[1]) best = e;
  const id = at((packs as Record<string, unknown>)[best[0]], idPath);
  return typeof id === 'string' || typeof id === 'number' ? `${best[0]}/${id}` : undefined;
}

/** The pack-qualified id of the lowest `path` across packs: "P2/C7" (ties: the first pack). */
export function packMinId(packs: unknown, path: unknown, idPath: unknown): string | undefined {
  return extremeId(packs, path, idPath, true);
}

export function packMaxId(packs: unknown, path: unknown, idPath: unknown): string | undefined {
  return extremeId(packs, path, idPath, false);
}

export const PACK_HELPERS = { packSum, packMin, packMax, packAvg, packWeighted, packCount, packMinId, packMaxId };
