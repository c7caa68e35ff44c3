/**
 * Every battery's mapping, compiled and checked against what the battery's config gives it, before
 * anything connects. `vbat run` and `vbat check --config` both go through here, so check reports
 * exactly what run refuses. A problem names the batteries it takes down.
 */
import type { BatteryConfig } from '../config/index.js';
import { FileProblemsError, type Problem } from '../errors.js';
import { loadMapping, MappingProblemsError, unknownVariables, type CompiledMapping } from '../mapping/index.js';

/** The compiled mapping of each battery; throws FileProblemsError listing every problem of every battery. */
export function loadBatteryMappings(batteries: readonly BatteryConfig[]): Map<BatteryConfig, CompiledMapping> {
  const out = new Map<BatteryConfig, CompiledMapping>();
  const problems: Problem[] = [];
  const byFile = new Map<string, CompiledMapping | FileProblemsError>();
  for (const b of batteries) {
    let m = byFile.get(b.mappingFile);
    if (!m) {
      try {
        m = loadMapping(b.mappingFile);
      } catch (err) {
        if (!(err instanceof FileProblemsError)) throw err;
        m = err;
      }
      byFile.set(b.mappingFile, m);
    }
    if (m instanceof FileProblemsError) {
      // The mapping's own problems are reported once below; its declared variables still tell
      // whether this battery's are known, so one pass shows both.
      if (m instanceof MappingProblemsError && m.variables) reportUnknownVariables(b, { file: m.file, variables: m.variables }, problems);
      continue;
    }
    out.set(b, m);
    reportUnknownVariables(b, m, problems);
  }
  // A broken mapping is reported once, naming every battery that uses it.
  for (const [file, m] of byFile) {
    if (!(m instanceof FileProblemsError)) continue;
    const users = batteries.filter((b) => b.mappingFile === file);
    const who = users.length === 1 ? named(users[0]!) : `batteries ${users.map((b) => b.name).join(', ')}`;
    for (const p of m.problems) problems.push({ ...p, where: p.where ? `${who} › ${p.where}` : who });
  }
  if (problems.length) throw new FileProblemsError(problems);
  return out;
}

const named = (b: BatteryConfig) => `battery ${b.name}`;

function reportUnknownVariables(b: BatteryConfig, m: { file: string; variables: Record<string, unknown> }, problems: Problem[]): void {
  for (const { name, reason } of unknownVariables(m, Object.keys(b.variables))) {
    const at = b.variableOrigins?.[name];
    problems.push({ file: at?.file ?? '<config>', line: at?.line, where: `${named(b)} › ${at?.where ?? `variables › ${name}`}`, reason });
  }
}
