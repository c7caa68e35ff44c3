/** Plain-text rendering of a check result: one row per path, readable at a glance. */
import { formatProblem } from '../errors.js';
import type { CheckedPath, CheckedSet, CheckResult, WritablePath } from './check.js';

function marks(p: CheckedPath): string {
  const m: string[] = [];
  if (p.source === 'derived') m.push('derived');
  if (p.source === 'held') m.push('derived (kept)');
  if (p.source === 'default') m.push('default');
  if (p.outOfRange) m.push('OUT OF RANGE');
  else if (p.warning) m.push('WARNING');
  if (p.invalid) m.push('invalid');
  return m.join(', ');
}

function valueText(p: CheckedPath): string {
  if (p.value === null) return '(invalid)';
  return typeof p.value === 'string' ? JSON.stringify(p.value) : String(p.value);
}

export function renderCheck(r: CheckResult): string {
  const out: string[] = [];
  if (r.problems.length) {
    out.push(`${r.mapping.file}: the mapping has ${r.problems.length} problem${r.problems.length > 1 ? 's' : ''}:`);
    for (const p of r.problems) out.push(`  ${formatProblem(p)}`);
    return out.join('\n');
  }
  out.push(`mapping ${r.mapping.file} (${r.mapping.name}): ${r.mapping.paths} paths, OK`);
  out.push(...writableLines(r.writable));
  for (const payload of r.payloads) {
    out.push('', `== ${payload.file}`);
    if (payload.paths.length === 0 && !payload.error) {
      out.push(...payload.sets.map(setLine));
      continue;
    }
    if (payload.ignored) out.push(`  (${payload.ignored} messages on topics outside the filter, or on its availability topic, ignored)`);
    for (const c of payload.collisions) out.push(`  KEY COLLISION ${c}: the values overwrite each other`);
    for (const ref of payload.refused) out.push(`  refused message on ${ref.topic}: ${ref.reason}`);
    if (payload.error) {
      out.push(`  ERROR: ${payload.error}`);
      continue;
    }
    const rows = payload.paths.map((p) => [p.path, valueText(p), p.value === null ? 'ai' : p.type, p.text, marks(p)]);
    const widths = [0, 1, 2, 3].map((c) =>
      Math.min(c === 1 ? 24 : 40, Math.max(...rows.map((row) => row[c]!.length), ['PATH', 'VALUE', 'TYPE', 'TEXT'][c]!.length)),
    );
    const line = (cols: string[]) =>
      cols
        .map((c, i) => (i < 4 ? c.padEnd(widths[i]!) : c))
        .join('  ')
        .trimEnd();
    out.push(line(['PATH', 'VALUE', 'TYPE', 'TEXT', 'MARKS']));
    for (const row of rows) out.push(line(row));
    for (const p of payload.paths) if (p.warning) out.push(`  warning: ${p.path}: ${p.warning}`);
    const valid = payload.paths.filter((p) => !p.invalid).length;
    const derived = payload.paths.filter((p) => p.source === 'derived' || p.source === 'held').length;
    const warnings = payload.paths.filter((p) => p.warning).length;
    out.push(
      `${payload.paths.length} paths: ${valid} valid, ${payload.paths.length - valid} invalid, ${derived} derived, ${warnings} warnings`,
    );
    if (payload.missingRequired.length) {
      out.push(`REJECTED: required input missing or invalid for ${payload.missingRequired.join(', ')} — vbat would drop this message`);
    }
    out.push(...payload.sets.map(setLine));
  }
  return out.join('\n');
}

function writableLines(writable: WritablePath[]): string[] {
  if (writable.length === 0) return ['writable paths: none (no path declares a command: SetValue on a data path returns 1)'];
  return [
    'writable paths (SetValue):',
    ...writable.map((w) =>
      w.command
        ? `  ${w.path} (${w.type}) → publishes on ${w.command.topic} (QoS ${w.command.qos}${w.command.retain ? ', retained' : ''}; confirmed within ${w.command.confirm} s or set back; at most one command per ${w.command.minInterval} s)`
        : `  ${w.path} (${w.type}) → kept on D-Bus only, nothing is published`,
    ),
  ];
}

function setLine(s: CheckedSet): string {
  const what = `SetValue ${s.path} = ${s.value === null ? '?' : JSON.stringify(s.value)}`;
  if (s.code !== 0) return `  ${what} → returns ${s.code}, publishes nothing: ${s.reason}`;
  if (s.topic === undefined) return `  ${what} → returns 0: ${s.reason}`;
  return `  ${what} → publishes ${JSON.stringify(s.payload)} on ${s.topic} (QoS ${s.qos}${s.retain ? ', retained' : ''}), returns 0`;
}
